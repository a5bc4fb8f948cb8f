"""Passing through what a provider does not model: the request body streamed to the upstream as the client sends
it, the answer streamed back as the upstream sends it; neither is ever held whole, inspected or cached."""

from __future__ import annotations

import asyncio

from providers.base import HOP_BY_HOP, UpstreamRequest
from proxies.disconnect import DisconnectWatch
from proxies.flow import ClientGone, Flow
from proxies.upstream import UPSTREAM_ERRORS, broken

# Response headers not relayed: hop-by-hop ones, and the two uvicorn sets itself.
DROPPED_HEADERS = HOP_BY_HOP | {"date", "server"}


def announced_body(raw_headers: list[tuple[bytes, bytes]]) -> tuple[bool, str | None]:
    """Whether a body follows the request's headers (HTTP/1.1: a Content-Length above 0, or chunked), and its
    Content-Length when it has one."""
    length, chunked = None, False
    for name, value in raw_headers:
        if name == b"content-length":
            length = value.decode("latin-1").strip()
        elif name == b"transfer-encoding":
            chunked = True
    if chunked:
        return True, None
    return length not in (None, "0"), length


class StreamedBody:
    """A request body as the upstream client reads it (an async iterable): each chunk as the client sends it. Once
    it is whole, the client is watched, and leaving then cancels the request (proxies/disconnect.py)."""

    def __init__(self, receive, watch: DisconnectWatch, length: str | None):
        self.receive = receive
        self.watch = watch
        self.length = length  # the client's Content-Length, kept upstream (else the body goes chunked)
        self.task = asyncio.current_task()
        self.gone = False  # the client left before its body was whole
        self.watched = False

    def sent_with(self, outgoing: UpstreamRequest) -> UpstreamRequest:
        """`outgoing` with this body in place of its (empty) one."""
        headers = outgoing.headers
        if self.length is not None and not any(name.lower() == "content-length" for name, _ in headers):
            headers = [*headers, ("content-length", self.length)]
        return UpstreamRequest(outgoing.url, headers, self)

    def __aiter__(self):
        return self.chunks()

    async def chunks(self):
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.gone = True
                raise ClientGone("client left while sending its request")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body"):
                self.watched = True
                self.watch.begin(self.receive, self.task)
                return


async def relay_through(flow: Flow, response) -> None:
    """The upstream's answer as it is (status, headers, body), each chunk sent on as it arrives."""
    send = flow.send
    dropped = DROPPED_HEADERS
    if "content-encoding" in response.headers:  # decoded on the way in: its length no longer holds
        dropped = dropped | {"content-encoding", "content-length"}
    url_headers = flow.settings.provider.url_headers
    headers = []
    for k, v in response.raw_headers:
        name = k.decode("latin-1").lower()
        if name in url_headers:
            v = proxied_url(flow, v)
        if name not in dropped:
            headers.append((k, v))
    flow.record.status_code = response.status
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    try:
        async for chunk in response.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except UPSTREAM_ERRORS as e:
        flow.record.failure = broken(e, answered=True)[1]
        raise ClientGone("the upstream answer broke off") from None
    await send({"type": "http.response.body", "body": b""})


def proxied_url(flow: Flow, url: bytes) -> bytes:
    """A URL on the upstream as the proxy's own (the same path under the proxy's address); any other as it is."""
    upstream, proxy = (base.encode("latin-1") for base in flow.bases())
    return proxy + url[len(upstream) :] if url.startswith(upstream + b"/") else url
