"""The yardstick: the least a Python caching passthrough can do, to measure Rubberduck against.

Plain ASGI on uvicorn + uvloop + httptools, one pooled upstream client (aiohttp, as in Rubberduck), a dict
cache keyed by a sha256 of method, path and body, no database, no logging, no provider logic. It forwards the
request path as is to --upstream, streams SSE answers chunk by chunk. Given several --port, it serves each on
its own thread and loop with its own cache and client, as a runner serves its proxies.
"""

from __future__ import annotations

import argparse
import hashlib

import aiohttp
from yarl import URL

DROPPED = {b"content-length", b"transfer-encoding", b"connection", b"keep-alive", b"date", b"server"}


class Yardstick:
    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.cache: dict[str, tuple[int, list, bytes]] = {}
        self.client: aiohttp.ClientSession | None = None

    def start_client(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=30)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=600)
        self.client = aiohttp.ClientSession(connector=connector, timeout=timeout, skip_auto_headers=("Content-Type",))
        return self.client

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        client = self.client or self.start_client()
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        path = scope["raw_path"].decode("latin-1")
        key = hashlib.sha256(scope["method"].encode() + b" " + path.encode() + b"\n" + body).hexdigest()
        cached = self.cache.get(key)
        if cached is not None:
            status, headers, payload = cached
            out = [*headers, (b"content-length", str(len(payload)).encode()), (b"x-cache", b"hit")]
            await send({"type": "http.response.start", "status": status, "headers": out})
            await send({"type": "http.response.body", "body": payload})
            return
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k not in (b"host", b"content-length")
        ]
        url = URL(self.upstream + path, encoded=True)
        async with client.request(scope["method"], url, headers=headers, data=body or None) as response:
            out = [(k, v) for k, v in response.raw_headers if k.lower() not in DROPPED]
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                await send({"type": "http.response.start", "status": response.status, "headers": out})
                async for chunk in response.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                return
            payload = await response.read()
        if 200 <= response.status < 300:
            self.cache[key] = (response.status, out, payload)
        out = [*out, (b"content-length", str(len(payload)).encode()), (b"x-cache", b"miss")]
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        await send({"type": "http.response.body", "body": payload})


def main() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's proxies package
    from proxies.interpreter import configure_process

    # Rubberduck's GC policy, so full collections over the growing cache do not inflate the yardstick's p99 (D37).
    configure_process(sys.getswitchinterval(), full_gc_seconds=3600)
    from serving import serve_each

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, action="append", required=True, help="one server each")
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    serve_each({port: Yardstick(args.upstream) for port in args.port})


if __name__ == "__main__":
    main()
