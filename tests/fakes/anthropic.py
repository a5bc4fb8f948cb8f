"""A fake api.anthropic.com: messages (plain, with tools, streamed), count_tokens, models, and the legacy
Text Completions API (`/v1/complete`, plain and streamed as `completion` events).

Streams follow the real event sequence, every event with its `event:` line (the SDK drops events without
one): message_start, content_block_start, ping, content_block_delta..., content_block_stop, message_delta,
message_stop. Usage reports prompt-cache reads and writes, so cost mapping can be checked. `vertex_respond` plays
Claude on Vertex AI (`:rawPredict` / `:streamRawPredict`). An `Account` keeps what a proxy passes through, or
forwards uncached: message batches (their results as JSONL) and files (beta)."""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
from urllib.parse import urlsplit

from tests.fakes.server import Received, Reply, Routes, chunked

MODEL = "claude-sonnet-4-5-20250929"
JSON = [
    ("content-type", "application/json"),
    ("request-id", "req_011CUpstream00000000001"),
    ("anthropic-organization-id", "0b7e1c2a-0000-4000-8000-000000000000"),
    ("anthropic-ratelimit-requests-limit", "50"),
    ("anthropic-ratelimit-requests-remaining", "49"),
    ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:01Z"),
    ("cache-control", "no-store"),
]
SSE = [
    ("content-type", "text/event-stream; charset=utf-8"),
    ("request-id", "req_011CUpstream00000000002"),
    ("anthropic-organization-id", "0b7e1c2a-0000-4000-8000-000000000000"),
    ("cache-control", "no-cache"),
]
# Fresh input, prompt-cache write and read: genai-prices counts all three as input.
USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 20,
    "cache_read_input_tokens": 100,
    "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 9,
    "service_tier": "standard",
}
WORDS = ["Hello", " from", " the", " fake", " Claude", "!"]


def respond(req: Received) -> Reply:
    path = req.path.split("?")[0]
    body = json.loads(req.body) if req.body else {}
    if req.method == "POST" and path == "/v1/messages":
        return message_stream(body) if body.get("stream") else message(body)
    if req.method == "POST" and path == "/v1/complete":
        return completion_stream() if body.get("stream") else completion()
    if req.method == "POST" and path == "/v1/messages/count_tokens":
        return Reply(200, JSON, b'{"input_tokens":14}')
    if req.method == "GET" and path == "/v1/models":
        model = {
            "type": "model",
            "id": MODEL,
            "display_name": "Claude Sonnet 4.5",
            "created_at": "2025-09-29T00:00:00Z",
        }
        page = {"data": [model], "has_more": False, "first_id": MODEL, "last_id": MODEL}
        return Reply(200, JSON, json.dumps(page).encode())
    return error(404, "not_found_error", "Not Found")


def error(status: int, error_type: str, message: str) -> Reply:
    body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_011CUpstreamErr"}
    headers = [("content-type", "application/json"), ("request-id", "req_011CUpstreamErr")]
    return Reply(status, headers, json.dumps(body).encode())


def content(body: dict) -> list[dict]:
    blocks = [{"type": "text", "text": "".join(WORDS)}]
    if body.get("tools"):
        tool = body["tools"][0]
        blocks.append({"type": "tool_use", "id": "toolu_01Fake", "name": tool["name"], "input": {"city": "Paris"}})
    return blocks


def message(body: dict) -> Reply:
    answer = {
        "id": "msg_01FakeMessage",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content(body),
        "stop_reason": "tool_use" if body.get("tools") else "end_turn",
        "stop_sequence": None,
        "usage": USAGE,
    }
    return Reply(200, JSON, json.dumps(answer).encode())


def sse(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()


def message_stream(body: dict, error_after: int | None = None) -> Reply:
    """The real event sequence; with `error_after`, an `event: error` replaces the rest after that many deltas."""
    start_usage = {**USAGE, "output_tokens": 1}
    start = {
        "id": "msg_01FakeStream",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    frames = [
        sse("message_start", {"message": start}),
        sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        sse("ping", {}),
    ]
    for i, word in enumerate(WORDS):
        if error_after is not None and i == error_after:
            frames.append(sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}))
            return Reply(200, SSE, chunks=frames)
        frames.append(sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word}}))
    frames += [
        sse("content_block_stop", {"index": 0}),
        sse(
            "message_delta",
            {
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": USAGE["output_tokens"]},
            },
        ),
        sse("message_stop", {}),
    ]
    return Reply(200, SSE, chunks=frames)


LEGACY_MODEL = "claude-2.1"


def completion_event(text: str, stop_reason: str | None) -> dict:
    return {
        "type": "completion",
        "id": "compl_01FakeCompletion",
        "completion": text,
        "stop_reason": stop_reason,
        "model": LEGACY_MODEL,
        "stop": "\n\nHuman:" if stop_reason else None,
        "log_id": "compl_01FakeCompletion",
    }


def completion() -> Reply:
    """A Text Completions answer: the whole text, no usage (the legacy API never reported tokens)."""
    return Reply(200, JSON, json.dumps(completion_event("".join(WORDS), "stop_sequence")).encode())


def completion_stream() -> Reply:
    """`event: completion` per piece of text (the last one carries the stop reason), with a ping among them."""
    frames = [f"event: completion\ndata: {json.dumps(completion_event(WORDS[0], None))}\n\n".encode()]
    frames.append(b'event: ping\ndata: {"type": "ping"}\n\n')
    for i, word in enumerate(WORDS[1:], 1):
        event = completion_event(word, "stop_sequence" if i == len(WORDS) - 1 else None)
        frames.append(f"event: completion\ndata: {json.dumps(event)}\n\n".encode())
    return Reply(200, SSE, chunks=frames)


VERTEX_PATH = re.compile(
    r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/anthropic/models/"
    r"(?P<model>[^/:]+):(?P<method>rawPredict|streamRawPredict)"
)
VERTEX_JSON = [("content-type", "application/json"), ("x-vertex-ai-internal-prediction-backend", "harpoon")]


def vertex_respond(req: Received) -> Reply:
    """Claude on Vertex AI: the Messages API behind `:rawPredict` / `:streamRawPredict`, the model in the path and
    `anthropic_version` in the body (a body naming its model is refused, as Vertex refuses it)."""
    m = VERTEX_PATH.fullmatch(req.path.split("?")[0])
    if req.method != "POST" or m is None:
        return google_error(404, "NOT_FOUND", f"The requested URL {req.path} was not found on this server.")
    body = json.loads(req.body) if req.body else {}
    if m["model"] == "count-tokens":
        return Reply(200, VERTEX_JSON, b'{"input_tokens":14}')
    if "model" in body or "anthropic_version" not in body:
        return error(400, "invalid_request_error", "model: Extra inputs are not permitted")
    if m["method"] == "streamRawPredict":
        return message_stream(body)
    return message(body)


def google_error(status: int, name: str, message: str) -> Reply:
    body = json.dumps({"error": {"code": status, "message": message, "status": name}}, indent=2).encode()
    return Reply(status, [("content-type", "application/json; charset=UTF-8")], body)


STAMP = "2026-01-01T00:00:00Z"


class Account:
    """An Anthropic account's message batches and files, kept between calls; any other path is `respond`'s. A batch
    ends at once; its `results_url` names this server, as the real API names itself."""

    def __init__(self):
        self.batches: dict[str, dict] = {}
        self.requests: dict[str, list[dict]] = {}
        self.files: dict[str, dict] = {}
        self.contents: dict[str, bytes] = {}
        self.ids = itertools.count(1)
        self.routes = Routes(
            ("POST", r"/v1/messages/batches", self.create_batch),
            ("GET", r"/v1/messages/batches", lambda req: page(self.batches)),
            ("GET", r"/v1/messages/batches/(?P<id>[^/]+)", lambda req, id: found(self.batches, id)),
            ("POST", r"/v1/messages/batches/(?P<id>[^/]+)/cancel", self.cancel_batch),
            ("DELETE", r"/v1/messages/batches/(?P<id>[^/]+)", self.delete_batch),
            ("GET", r"/v1/messages/batches/(?P<id>[^/]+)/results", self.results),
            ("POST", r"/v1/files", self.upload),
            ("GET", r"/v1/files", lambda req: page(self.files)),
            ("GET", r"/v1/files/(?P<id>[^/]+)", lambda req, id: found(self.files, id)),
            ("GET", r"/v1/files/(?P<id>[^/]+)/content", self.download),
            ("DELETE", r"/v1/files/(?P<id>[^/]+)", self.delete_file),
        )

    def respond(self, req: Received) -> Reply:
        reply = self.routes.reply(req, urlsplit(req.path).path)
        return reply if reply is not None else respond(req)

    def create_batch(self, req: Received) -> Reply:
        requests = json.loads(req.body)["requests"]
        batch_id = f"msgbatch_01Fake{next(self.ids):04d}"
        self.requests[batch_id] = requests
        self.batches[batch_id] = {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended",
            "request_counts": {"processing": 0, "succeeded": len(requests), "errored": 0, "canceled": 0, "expired": 0},
            "created_at": STAMP,
            "ended_at": STAMP,
            "expires_at": "2026-01-02T00:00:00Z",
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"http://{req.headers['host']}/v1/messages/batches/{batch_id}/results",
        }
        return json_reply(self.batches[batch_id])

    def cancel_batch(self, req: Received, id: str) -> Reply:
        if id in self.batches:
            self.batches[id].update(processing_status="canceling", cancel_initiated_at=STAMP)
        return found(self.batches, id)

    def delete_batch(self, req: Received, id: str) -> Reply:
        if self.batches.pop(id, None) is None:
            return found(self.batches, id)
        return json_reply({"id": id, "type": "message_batch_deleted"})

    def results(self, req: Received, id: str) -> Reply:
        """One JSON line per request, sent a few lines at a time."""
        if id not in self.requests:
            return found(self.batches, id)
        lines = [
            json.dumps(
                {
                    "custom_id": r["custom_id"],
                    "result": {"type": "succeeded", "message": json.loads(message(r["params"]).body)},
                }
            ).encode()
            + b"\n"
            for r in self.requests[id]
        ]
        headers = [("content-type", "application/binary"), ("request-id", "req_011CUpstreamResults")]
        return Reply(200, headers, chunks=[b"".join(lines[i : i + 2]) for i in range(0, len(lines), 2)])

    def upload(self, req: Received) -> Reply:
        head = f"Content-Type: {req.headers['content-type']}\r\n\r\n".encode()
        form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + req.body)
        [part] = form.iter_parts()
        file_id = f"file_011CFake{next(self.ids):04d}"
        self.contents[file_id] = part.get_payload(decode=True)
        self.files[file_id] = {
            "id": file_id,
            "type": "file",
            "filename": part.get_filename(),
            "mime_type": part.get_content_type(),
            "size_bytes": len(self.contents[file_id]),
            "created_at": STAMP,
            "downloadable": True,
        }
        return json_reply(self.files[file_id])

    def download(self, req: Received, id: str) -> Reply:
        if id not in self.contents:
            return found(self.files, id)
        return Reply(200, [("content-type", self.files[id]["mime_type"])], chunks=chunked(self.contents[id]))

    def delete_file(self, req: Received, id: str) -> Reply:
        if self.files.pop(id, None) is None:
            return found(self.files, id)
        self.contents.pop(id)
        return json_reply({"id": id, "type": "file_deleted"})


def json_reply(payload: dict) -> Reply:
    return Reply(200, JSON, json.dumps(payload).encode())


def page(items: dict[str, dict]) -> Reply:
    data = list(items.values())
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return json_reply({"data": data, "has_more": False, "first_id": first, "last_id": last})


def found(items: dict[str, dict], id: str) -> Reply:
    return json_reply(items[id]) if id in items else error(404, "not_found_error", f"No such object: {id}")
