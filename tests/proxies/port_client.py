"""A raw HTTP client for the proxy-port tests: bytes out, bytes back, over asyncio streams."""

from __future__ import annotations

import asyncio
import json
import re

import providers
from providers.base import Fault

STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


async def exchange(port: int, *parts: bytes, pause: float = 0.0, wait: float = 0.5) -> bytes:
    """Sends `parts` on a new connection (`pause` seconds apart) while reading, until the proxy closes it or says
    nothing for `wait` seconds after the last part; everything it said."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = []

    async def read() -> None:
        while chunk := await reader.read(1 << 16):
            received.append(chunk)

    reading = asyncio.ensure_future(read())
    try:
        for i, part in enumerate(parts):
            if i and pause:
                await asyncio.wait([reading], timeout=pause)
            if reading.done():
                break
            writer.write(part)
            await writer.drain()
        await asyncio.wait_for(asyncio.shield(reading), wait)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        reading.cancel()
        writer.close()
    return b"".join(received)


def statuses(raw: bytes) -> list[int]:
    """The statuses of the status lines in `raw` (a body may hold one too: enough to look for a 500)."""
    return [int(m.group(1)) for m in STATUS.finditer(raw)]


def split(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """The first answer in `raw`: status, headers (lower-case names), body."""
    assert raw, "the connection was closed without an answer"
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
    return None


def provider_shaped(provider_id: str, raw: bytes, status: int) -> bool:
    """Whether `raw` is the provider's own error answer for `status`: same status, same JSON shape."""
    got, headers, body = split(raw)
    fault = {400: Fault.BAD_REQUEST, 404: Fault.NOT_FOUND}.get(status, Fault.LIMIT)
    expected = providers.get(provider_id).error(status, fault, message="x")
    want = shape(json.loads(expected.body))
    content_type = dict(expected.headers)["content-type"]
    return got == status and headers.get("content-type") == content_type and shape(json.loads(body)) == want


def healthy(port: int) -> bytes:
    """A well-formed request the proxy answers itself (a path its provider does not have: its 404)."""
    return f"GET /rubberduck-healthy HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
