"""The upstream connection pool: aiohttp under httpx, sending requests as the client sent them.

Two aiohttp defaults change a request on its way: a URL given as a string is re-quoted by yarl (`%3A` in a path
goes out as `:`), and a body without Content-Type gets `application/octet-stream`. Both break what SigV4 signed
(Bedrock model ids are percent-encoded path segments; InvokeModel may carry no Content-Type), so the pool
takes URLs as already encoded and adds no Content-Type or Accept the client did not send.
"""

from __future__ import annotations

import warnings

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from yarl import URL

with warnings.catch_warnings():
    # aiohttp discourages subclassing ClientSession; this one only keeps the URL it is given as it is.
    warnings.simplefilter("ignore", DeprecationWarning)

    class ExactPathSession(aiohttp.ClientSession):
        def _build_url(self, str_or_url):
            if isinstance(str_or_url, str):
                str_or_url = URL(str_or_url, encoded=True)
            return super()._build_url(str_or_url)


def upstream_transport(limits: httpx.Limits) -> AiohttpTransport:
    """The transport of a proxy's one pooled upstream client (created on the proxy's own event loop)."""

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry,
            ssl=httpx.create_ssl_context(),
        )
        return ExactPathSession(connector=connector, skip_auto_headers=("Content-Type", "Accept"))

    return AiohttpTransport(limits=limits, client=session)
