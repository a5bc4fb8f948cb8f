"""A fast fake OpenAI-style upstream for the benchmark: plain ASGI on uvicorn + uvloop + httptools.

Latency is chosen per request by a path prefix, so one process serves every profile:
`/l50/v1/chat/completions` answers after 50 ms, `/v1/chat/completions` at once. A body with
`"stream": true` gets an SSE answer: headers at once, the first event after --ttft-ms, then --chunks
events --chunk-ms apart, the usage chunk and `[DONE]`. `GET /__stats` returns how many API requests
it has received, so the bench can check upstream calls per request.
"""

from __future__ import annotations

import argparse
import asyncio
import re

import orjson

LATENCY_PREFIX = re.compile(r"^/l(\d+)(/.*)$")
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
JSON_HEADERS = [(b"content-type", b"application/json"), (b"x-request-id", b"req_fake_upstream_0001")]
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"x-request-id", b"req_fake_upstream_0002")]

CHAT_BODY = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1764000000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from the bench upstream!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
        "system_fingerprint": "fp_bench",
    }
)


def sse_event(data: dict | str) -> bytes:
    payload = data if isinstance(data, str) else orjson.dumps(data).decode()
    return f"data: {payload}\n\n".encode()


def stream_events(chunks: int) -> list[bytes]:
    """The events of one streamed answer: role, `chunks` content deltas, finish, usage, [DONE]."""
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1764000000, "model": "gpt-4o-mini"}

    def chunk(delta, finish=None):
        return sse_event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": f" token{i}"}) for i in range(chunks)]
    events.append(chunk({}, "stop"))
    events.append(sse_event({**base, "choices": [], "usage": USAGE}))
    events.append(sse_event("[DONE]"))
    return events


class FakeUpstream:
    def __init__(self, ttft_ms: float, chunks: int, chunk_ms: float):
        self.ttft = ttft_ms / 1000.0
        self.chunk_gap = chunk_ms / 1000.0
        self.events = stream_events(chunks)
        self.requests = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/__stats":
            body = orjson.dumps({"requests": self.requests})
            await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
            await send({"type": "http.response.body", "body": body})
            return
        self.requests += 1
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        m = LATENCY_PREFIX.match(path)
        if m:
            await asyncio.sleep(int(m.group(1)) / 1000.0)
        if b'"stream":true' in body or b'"stream": true' in body:
            await self.stream(send)
            return
        headers = [*JSON_HEADERS, (b"content-length", str(len(CHAT_BODY)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": CHAT_BODY})

    async def stream(self, send):
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        await asyncio.sleep(self.ttft)
        last = len(self.events) - 1
        for i, event in enumerate(self.events):
            if i and self.chunk_gap:
                await asyncio.sleep(self.chunk_gap)
            await send({"type": "http.response.body", "body": event, "more_body": i < last})


def main() -> None:
    from serving import server

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--chunk-ms", type=float, default=5.0)
    args = parser.parse_args()
    server(FakeUpstream(args.ttft_ms, args.chunks, args.chunk_ms), args.port).run()


if __name__ == "__main__":
    main()
