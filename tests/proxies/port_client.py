"""A raw HTTP client for the proxy-port tests: bytes out, bytes back, over asyncio streams."""

from __future__ import annotations

import asyncio
import json
import re

import providers

STATUS = re.compile(rb"(?:^|\n)HTTP/1\.[01] (\d{3}) ")


async def exchange(port: int, *parts: bytes, pause: float = 0.0, wait: float = 0.5) -> bytes:
    """Sends `parts` on a new connection (`pause` seconds apart), then reads until the proxy closes it or says
    nothing for `wait` seconds; everything it said."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = []
    try:
        for i, part in enumerate(parts):
            if i and pause:
                await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()
        while True:
            chunk = await asyncio.wait_for(reader.read(1 << 16), wait)
            if not chunk:
                break
            received.append(chunk)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()
    return b"".join(received)


def statuses(raw: bytes) -> list[int]:
    """The statuses of the status lines in `raw` (a body may hold one too: enough to look for a 500)."""
    return [int(m.group(1)) for m in STATUS.finditer(raw)]


def split(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """The first answer in `raw`: status, headers (lower-case names), body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    return int(lines[0].split()[1]), headers, body[:length]


def shape(value) -> object:
    """The keys of a JSON value, nested: what an SDK reads an error by."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


def provider_shaped(provider_id: str, raw: bytes, status: int) -> bool:
    """Whether `raw` is the provider's own error answer for `status`: same status, same JSON shape."""
    got, headers, body = split(raw)
    expected = providers.get(provider_id).error(status, message="x")
    want = shape(json.loads(expected.body))
    return got == status and headers.get("content-type") == "application/json" and shape(json.loads(body)) == want


def healthy(port: int) -> bytes:
    """A well-formed request the proxy answers itself (a path its provider does not have: its 404)."""
    return f"GET /rubberduck-healthy HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
