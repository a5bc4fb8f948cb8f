"""A fake Azure OpenAI resource (`https://RES.openai.azure.com`): classic deployment paths with
`?api-version=` (images and audio too), `/openai/responses`, `/openai/models`, and the v1 GA paths under
`/openai/v1/`. An `Account` keeps the resource's files and batches (OpenAI's, under `/openai`).

Bodies are OpenAI's (built by tests.fakes.openai) with Azure's additions: the model actually deployed in
`model` (not the deployment name), `prompt_filter_results` / `content_filter_results`, the empty first
stream chunk that carries the prompt filter results, and Azure's response headers."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from tests.fakes import openai as fake_openai
from tests.fakes.server import Received, Reply

MODEL = "gpt-4o-mini-2024-07-18"
HEADERS = [
    ("apim-request-id", "0f5c2a8e-0000-4000-8000-00000000a001"),
    ("x-request-id", "0f5c2a8e-0000-4000-8000-00000000a001"),
    ("x-ms-region", "Sweden Central"),
    ("x-ratelimit-remaining-requests", "99"),
    ("x-ratelimit-remaining-tokens", "99000"),
    ("x-ms-rai-invoked", "true"),
    ("azureml-model-session", "d001-20250101000000"),
    ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
]
JSON = [("content-type", "application/json"), *HEADERS]
SSE = [("content-type", "text/event-stream; charset=utf-8"), *HEADERS]
SAFE = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
PROMPT_FILTER = [
    {"prompt_index": 0, "content_filter_results": {**SAFE, "jailbreak": {"filtered": False, "detected": False}}}
]


def respond(req: Received) -> Reply:
    url = urlsplit(req.path)
    path = url.path
    classic = not path.startswith("/openai/v1/")
    if classic and "api-version" not in parse_qs(url.query):
        return error(404, "404", "Resource not found")
    if "/images/" in path or "/audio/" in path:  # OpenAI's answers, with Azure's headers
        reply = fake_openai.respond(req)
        own = [(name, value) for name, value in reply.headers if name == "content-type"]
        return Reply(reply.status, own + HEADERS, reply.body, chunks=reply.chunks)
    body = json.loads(req.body) if req.body else {}
    body = {**body, "model": MODEL}  # Azure answers with the deployed model, whatever the deployment is called
    if path.endswith("/chat/completions"):
        return chat_stream(body) if body.get("stream") else chat(body)
    if path.endswith("/responses"):
        reply = fake_openai.responses_stream(body) if body.get("stream") else fake_openai.responses(body)
        return Reply(reply.status, SSE if reply.chunks else JSON, reply.body, chunks=reply.chunks)
    if path.endswith("/embeddings"):
        return Reply(200, JSON, fake_openai.embeddings(body).body)
    if path.endswith("/completions"):
        return Reply(200, JSON, fake_openai.completions(body).body)
    if path.endswith("/models"):
        model = {"id": "gpt-4o-mini", "object": "model", "created_at": 1721172741, "status": "succeeded"}
        return Reply(200, JSON, json.dumps({"object": "list", "data": [model]}).encode())
    return error(404, "404", "Resource not found")


def error(status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Reply(status, [("content-type", "application/json"), *HEADERS, *(headers or [])], body)


def chat(body: dict) -> Reply:
    answer = json.loads(fake_openai.chat(body).body)
    answer["prompt_filter_results"] = PROMPT_FILTER
    answer["choices"][0]["content_filter_results"] = SAFE
    return Reply(200, JSON, json.dumps(answer).encode())


def chat_stream(body: dict) -> Reply:
    first = {"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": PROMPT_FILTER}
    frames = [f"data: {json.dumps(first)}\n\n".encode()]
    for frame in fake_openai.chat_stream(body).chunks:
        if frame.startswith(b"data: {"):
            chunk = json.loads(frame[len(b"data: ") :])
            for choice in chunk["choices"]:
                choice["content_filter_results"] = SAFE if choice["delta"] else {}
            frame = f"data: {json.dumps(chunk)}\n\n".encode()
        frames.append(frame)
    return Reply(200, SSE, chunks=frames)


class Account(fake_openai.Account):
    """The resource's files and batches, classic (`/openai/files?api-version=`) and v1 GA (`/openai/v1/files`)."""

    def __init__(self):
        super().__init__("/openai", JSON)

    def respond(self, req: Received) -> Reply:
        url = urlsplit(req.path)
        if url.path.startswith("/openai/v1/"):
            reply = self.routes.reply(req, url.path.removeprefix("/openai/v1"))
        elif "api-version" in parse_qs(url.query):
            reply = self.routes.reply(req, url.path.removeprefix("/openai"))
        else:
            reply = None
        return reply if reply is not None else respond(req)
