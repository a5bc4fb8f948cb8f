"""A fake Vertex AI / Gemini Developer API: generateContent (plain and alt=sse with CRLF framing),
countTokens, embedContent, batchEmbedContents, Vertex :predict embeddings, models.get, and google.rpc
errors. Answers never echo the prompt, so tests can check that no prompt reaches the database. A `GeminiAccount`
keeps what a proxy passes through: files (uploaded with Google's resumable protocol) and cached contents."""

from __future__ import annotations

import hashlib
import itertools
import json
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import Received, Reply, Routes

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


STAMP = "2026-01-01T00:00:00.000000Z"
VERSIONED = r"/(?P<version>v1beta|v1|v1alpha)"


class GeminiAccount:
    """A Gemini API project's files and cached contents, kept between calls; any other path is `respond`'s.

    An upload is Google's resumable protocol: a `start` request (the file's metadata) answered with the session's
    X-Goog-Upload-URL on this server, then `upload` requests at offsets, the last one `upload, finalize`."""

    def __init__(self):
        self.files: dict[str, dict] = {}
        self.caches: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}  # upload id -> {"file": metadata, "parts": [bytes]}
        self.ids = itertools.count(1)
        self.routes = Routes(
            ("POST", r"/upload" + VERSIONED + r"/files", self.upload),
            ("GET", VERSIONED + r"/files", lambda req, version: dumps_reply({"files": list(self.files.values())})),
            ("GET", VERSIONED + r"/files/(?P<id>[^/:]+)", lambda req, version, id: found(self.files, f"files/{id}")),
            (
                "DELETE",
                VERSIONED + r"/files/(?P<id>[^/:]+)",
                lambda req, version, id: self.delete(self.files, f"files/{id}"),
            ),
            ("POST", VERSIONED + r"/cachedContents", self.create_cache),
            (
                "GET",
                VERSIONED + r"/cachedContents",
                lambda req, version: dumps_reply({"cachedContents": list(self.caches.values())}),
            ),
            (
                "GET",
                VERSIONED + r"/cachedContents/(?P<id>[^/]+)",
                lambda req, version, id: found(self.caches, f"cachedContents/{id}"),
            ),
            ("PATCH", VERSIONED + r"/cachedContents/(?P<id>[^/]+)", self.update_cache),
            (
                "DELETE",
                VERSIONED + r"/cachedContents/(?P<id>[^/]+)",
                lambda req, version, id: self.delete(self.caches, f"cachedContents/{id}"),
            ),
        )

    def respond(self, req: Received) -> Reply:
        reply = self.routes.reply(req, urlsplit(req.path).path)
        return reply if reply is not None else respond(req)

    def upload(self, req: Received, version: str) -> Reply:
        command = req.headers.get("x-goog-upload-command", "")
        if command == "start":
            upload_id = f"fake-upload-{next(self.ids)}"
            sent = json.loads(req.body).get("file", {}) if req.body else {}
            metadata = {camel(name): value for name, value in sent.items()}  # the API reads both spellings
            metadata["mimeType"] = req.headers["x-goog-upload-header-content-type"]
            self.sessions[upload_id] = {"file": metadata, "parts": []}
            url = f"http://{req.headers['host']}/upload/{version}/files?upload_id={upload_id}&upload_protocol=resumable"
            headers = [
                ("x-goog-upload-url", url),
                ("x-goog-upload-status", "active"),
                ("x-goog-upload-chunk-granularity", "8388608"),
            ]
            return Reply(200, [*JSON, *headers], b"")
        session = self.sessions.get(parse_qs(urlsplit(req.path).query).get("upload_id", [""])[0])
        if session is None or int(req.headers["x-goog-upload-offset"]) != sum(map(len, session["parts"])):
            return error(400, "INVALID_ARGUMENT", "Unknown upload or offset.")
        session["parts"].append(req.body)
        if "finalize" not in command:
            return Reply(200, [*JSON, ("x-goog-upload-status", "active")], b"")
        content = b"".join(session["parts"])
        name = session["file"].get("name") or f"files/fake{next(self.ids):04d}"
        self.files[name] = {
            **session["file"],
            "name": name,
            "sizeBytes": str(len(content)),
            "createTime": STAMP,
            "updateTime": STAMP,
            "expirationTime": "2026-01-03T00:00:00.000000Z",
            "sha256Hash": hashlib.sha256(content).hexdigest(),
            "uri": f"https://generativelanguage.googleapis.com/{version}/{name}",
            "state": "ACTIVE",
            "source": "UPLOADED",
        }
        return Reply(200, [*JSON, ("x-goog-upload-status", "final")], dumps({"file": self.files[name]}))

    def create_cache(self, req: Received, version: str) -> Reply:
        body = json.loads(req.body)
        name = f"cachedContents/fake{next(self.ids):04d}"
        self.caches[name] = {
            "name": name,
            "model": body["model"],
            "displayName": body.get("displayName", ""),
            "createTime": STAMP,
            "updateTime": STAMP,
            "expireTime": "2026-01-01T00:05:00.000000Z",
            "usageMetadata": {"totalTokenCount": 4096},
        }
        return dumps_reply(self.caches[name])

    def update_cache(self, req: Received, version: str, id: str) -> Reply:
        name = f"cachedContents/{id}"
        if name in self.caches:
            self.caches[name].update(updateTime="2026-01-01T00:01:00.000000Z", expireTime="2026-01-01T00:11:00.000000Z")
        return found(self.caches, name)

    def delete(self, items: dict[str, dict], name: str) -> Reply:
        return dumps_reply({}) if items.pop(name, None) is not None else found(items, name)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def dumps_reply(payload: dict) -> Reply:
    return Reply(200, JSON, dumps(payload))


def found(items: dict[str, dict], name: str) -> Reply:
    if name not in items:
        return error(
            403, "PERMISSION_DENIED", f"You do not have permission to access the File {name} or it may not exist."
        )
    return dumps_reply(items[name])
