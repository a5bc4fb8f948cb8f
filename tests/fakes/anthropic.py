"""A fake api.anthropic.com: messages (plain, with tools, streamed), count_tokens, models, and the legacy
Text Completions API (`/v1/complete`, plain and streamed as `completion` events).

Streams follow the real event sequence, every event with its `event:` line (the SDK drops events without
one): message_start, content_block_start, ping, content_block_delta..., content_block_stop, message_delta,
message_stop. Usage reports prompt-cache reads and writes, so cost mapping can be checked. `vertex_respond` plays
Claude on Vertex AI (`:rawPredict` / `:streamRawPredict`)."""

from __future__ import annotations

import json
import re

from tests.fakes.server import Received, Reply

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
