"""A fake api.openai.com: chat completions (plain and streamed), responses, embeddings, models, completions.
Answers never echo the prompt, so tests can check that no prompt reaches the database."""

from __future__ import annotations

import base64
import json
import struct

from tests.fakes.server import Received, Reply

JSON = [
    ("content-type", "application/json"),
    ("x-request-id", "req_upstream0000000000000000000001"),
    ("openai-processing-ms", "12"),
    ("cache-control", "no-cache, must-revalidate"),
]
SSE = [("content-type", "text/event-stream; charset=utf-8"), ("x-request-id", "req_upstream0000000000000000000002")]
USAGE = {
    "prompt_tokens": 11,
    "completion_tokens": 7,
    "total_tokens": 18,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
WORDS = ["Hello", " from", " the", " fake", " upstream", "!"]


def respond(req: Received) -> Reply:
    path = req.path.split("?")[0]
    body = json.loads(req.body) if req.body else {}
    if path.endswith("/chat/completions"):
        return chat_stream(body) if body.get("stream") else chat(body)
    if path.endswith("/responses"):
        return responses_stream(body) if body.get("stream") else responses(body)
    if path.endswith("/embeddings"):
        return embeddings(body)
    if path.endswith("/completions"):
        return completions(body)
    if path.endswith("/models"):
        return Reply(
            200,
            JSON,
            json.dumps(
                {
                    "object": "list",
                    "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}],
                }
            ).encode(),
        )
    return Reply(
        404,
        JSON,
        json.dumps(
            {"error": {"message": "Unknown URL", "type": "invalid_request_error", "param": None, "code": "unknown_url"}}
        ).encode(),
    )


def chat(body: dict) -> Reply:
    answer = {
        "id": "chatcmpl-fake1",
        "object": "chat.completion",
        "created": 1764000000,
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(WORDS), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
        "system_fingerprint": "fp_fake",
    }
    return Reply(200, JSON, json.dumps(answer).encode())


def chat_stream(body: dict, delay: float = 0.0) -> Reply:
    base = {
        "id": "chatcmpl-fake2",
        "object": "chat.completion.chunk",
        "created": 1764000000,
        "model": body.get("model"),
    }
    include_usage = (body.get("stream_options") or {}).get("include_usage")
    chunks = []
    for i, word in enumerate(WORDS):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        if include_usage:
            chunk["usage"] = None
        chunks.append(chunk)
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if include_usage:
        chunks.append({**base, "choices": [], "usage": USAGE})
    frames = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]
    return Reply(200, SSE, chunks=frames, chunk_delay=delay)


def responses(body: dict) -> Reply:
    return Reply(200, JSON, json.dumps(response_object(body, "completed")).encode())


def response_object(body: dict, status: str) -> dict:
    done = status == "completed"
    return {
        "id": "resp_fake1",
        "object": "response",
        "created_at": 1764000000,
        "status": status,
        "model": body.get("model"),
        "output": [
            {
                "id": "msg_fake1",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "".join(WORDS), "annotations": []}],
            }
        ]
        if done
        else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 9,
            "output_tokens": 6,
            "total_tokens": 15,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        if done
        else None,
    }


def responses_stream(body: dict) -> Reply:
    events = [
        ("response.created", {"response": response_object(body, "in_progress")}),
        ("response.in_progress", {"response": response_object(body, "in_progress")}),
    ]
    for word in WORDS:
        events.append(
            (
                "response.output_text.delta",
                {"item_id": "msg_fake1", "output_index": 0, "content_index": 0, "delta": word},
            )
        )
    events.append(("response.completed", {"response": response_object(body, "completed")}))
    frames = [
        f"event: {name}\ndata: {json.dumps({'type': name, 'sequence_number': i, **data})}\n\n".encode()
        for i, (name, data) in enumerate(events)
    ]
    return Reply(200, SSE, chunks=frames)


def embeddings(body: dict) -> Reply:
    inputs = body.get("input")
    inputs = inputs if isinstance(inputs, list) else [inputs]
    vector = [0.25, -0.5, 0.125]
    if body.get("encoding_format") == "base64":
        vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(len(inputs))]
    answer = {
        "object": "list",
        "data": data,
        "model": body.get("model"),
        "usage": {"prompt_tokens": 5, "total_tokens": 5},
    }
    return Reply(200, JSON, json.dumps(answer).encode())


def completions(body: dict) -> Reply:
    answer = {
        "id": "cmpl-fake1",
        "object": "text_completion",
        "created": 1764000000,
        "model": body.get("model"),
        "choices": [{"text": "".join(WORDS), "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10},
    }
    return Reply(200, JSON, json.dumps(answer).encode())
