"""A fake Vertex AI / Gemini Developer API: generateContent (plain and alt=sse with CRLF framing),
countTokens, embedContent, batchEmbedContents, Vertex :predict embeddings, models.get, and google.rpc
errors. Answers never echo the prompt, so tests can check that no prompt reaches the database."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import Received, Reply

JSON = [("content-type", "application/json; charset=UTF-8"), ("vary", "Origin, X-Origin, Referer")]
SSE = [("content-type", "text/event-stream"), ("x-content-type-options", "nosniff")]
WORDS = ["Hello", " from", " the", " fake", " Gemini", "!"]
PROMPT_TOKENS, CANDIDATE_TOKENS, THOUGHT_TOKENS = 9, 6, 4
VECTOR = [0.25, -0.5, 0.125]


def dumps(payload) -> bytes:
    """Google pretty-prints its JSON answers."""
    return json.dumps(payload, indent=2).encode() + b"\n"


def respond(req: Received) -> Reply:
    url = urlsplit(req.path)
    body = json.loads(req.body) if req.body else {}
    model_path, _, method = url.path.rpartition(":")
    model = model_path.rsplit("/", 1)[-1]
    if req.method == "GET" and "/models/" in url.path:
        return Reply(200, JSON, dumps({"name": f"models/{url.path.rsplit('/', 1)[-1]}", "version": "001"}))
    if req.method != "POST":
        return error(404, "NOT_FOUND", "Requested entity was not found.")
    if method == "generateContent":
        return Reply(200, JSON, dumps(answer(model, final=True, text="".join(WORDS))))
    if method == "streamGenerateContent":
        if parse_qs(url.query).get("alt") != ["sse"]:
            return error(400, "INVALID_ARGUMENT", "This fake only streams with alt=sse.")
        return stream(model)
    if method == "countTokens":
        return Reply(200, JSON, dumps({"totalTokens": PROMPT_TOKENS}))
    if method == "embedContent":
        usage = {"promptTokenCount": 2}
        return Reply(200, JSON, dumps({"embedding": {"values": VECTOR}, "usageMetadata": usage, "truncated": False}))
    if method == "batchEmbedContents":
        return Reply(200, JSON, dumps({"embeddings": [{"values": VECTOR} for _ in body.get("requests", [])]}))
    if method == "predict":
        statistics = {"truncated": False, "token_count": 3}
        predictions = [{"embeddings": {"values": VECTOR, "statistics": statistics}} for _ in body.get("instances", [])]
        return Reply(200, JSON, dumps({"predictions": predictions, "metadata": {"billableCharacterCount": 4}}))
    return error(404, "NOT_FOUND", "Requested entity was not found.")


def answer(model: str, *, final: bool, text: str) -> dict:
    """One GenerateContentResponse; a stream's chunks share its shape, usage complete on the last one."""
    usage = {"promptTokenCount": PROMPT_TOKENS, "totalTokenCount": PROMPT_TOKENS}
    if final:
        usage.update(
            candidatesTokenCount=CANDIDATE_TOKENS,
            thoughtsTokenCount=THOUGHT_TOKENS,
            totalTokenCount=PROMPT_TOKENS + CANDIDATE_TOKENS + THOUGHT_TOKENS,
            promptTokensDetails=[{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
        )
    candidate = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if final:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "fake-response-id-1",
    }


def stream(model: str, *, delay: float = 0.0, error_after: int | None = None) -> Reply:
    """alt=sse, framed as Google frames it: `data: {...}` and CRLF CRLF, no [DONE]."""
    chunks = [answer(model, final=i == len(WORDS) - 1, text=word) for i, word in enumerate(WORDS)]
    if error_after is not None:
        chunks = chunks[:error_after] + [{"error": {"code": 500, "message": "Internal error.", "status": "INTERNAL"}}]
    frames = [b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\r\n\r\n" for c in chunks]
    return Reply(200, SSE, chunks=frames, chunk_delay=delay)


def error(status: int, name: str, message: str, details: list | None = None) -> Reply:
    payload = {"error": {"code": status, "message": message, "status": name}}
    if details:
        payload["error"]["details"] = details
    return Reply(status, JSON, dumps(payload))
