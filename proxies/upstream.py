"""The upstream connection pool: one aiohttp session per proxy, sending requests as the client sent them.

aiohttp is called directly, not through httpx: httpx's Request, Headers and Response objects and the
httpx-aiohttp bridge were half of a miss's CPU (a bare passthrough spent ~380 µs a miss with them and ~200 µs
without; docs/performance-history.md).

Two aiohttp defaults change a request on its way: a URL given as a string is re-quoted by yarl (`%3A` in a path
goes out as `:`), and a body without Content-Type gets `application/octet-stream`. Both break what SigV4 signed
(Bedrock model ids are percent-encoded path segments; InvokeModel may carry no Content-Type), so URLs go out
as already encoded and the pool adds no Content-Type or Accept the client did not send.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable

import aiohttp
import httpx
from yarl import URL

# What sending or reading may raise: aiohttp's own errors, and TimeoutError for connect and read timeouts.
UPSTREAM_ERRORS = (aiohttp.ClientError, TimeoutError)


class UpstreamPool:
    """A proxy's one pooled upstream client; created on the proxy's own event loop."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.ssl_context = httpx.create_ssl_context()  # the upstream WebSockets' too (proxies/tunnel.py)
        connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=30, ssl=self.ssl_context)
        self.session = aiohttp.ClientSession(
            connector=connector,
            # Callers share the pool: a cookie the upstream sets for one must never go out with another's request.
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Content-Type", "Accept"),
            # `timeout` bounds each read (a silent upstream) and the wait for a pooled connection, not the whole
            # answer: a long stream that keeps sending is never cut.
            timeout=aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=10.0, sock_read=timeout),
        )

    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | AsyncIterable[bytes]
    ) -> aiohttp.ClientResponse:
        """The upstream's answer once its headers are in; the caller reads the body and then releases it. A body
        given as an async iterable is sent as it comes (with the Content-Length in `headers`, else chunked)."""
        return await self.session.request(
            method, encoded_url(url), headers=headers, data=body or None, allow_redirects=False
        )

    async def aclose(self) -> None:
        await self.session.close()


@functools.lru_cache(maxsize=1024)
def encoded_url(url: str) -> URL:
    """A proxy sends to a few URLs; each is parsed once (a yarl URL is immutable)."""
    return URL(url, encoded=True)
