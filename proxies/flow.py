"""One request's way through a proxy: the settings it goes by, what came in, what it resolved to, its log record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from providers.base import Provider, Request, Route, RouteError
from proxies.failures import Chaos
from proxies.records import LogRecord


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """A running proxy's configuration; replaced as a whole when its owner edits it."""

    proxy_id: int
    owner_id: int
    provider: Provider
    upstream_url: str
    replay: str
    chaos: Chaos
    private_networks: bool  # may forward to private addresses (proxies/addresses.py): the owner's policy
    cache_mode: str = "record"  # Proxy.CacheMode: record, replay, refresh or off


class ClientGone(Exception):
    """The client disconnected before the answer was complete."""


@dataclass(slots=True, eq=False)
class Flow:
    """One request on its way through the pipeline (proxies/app.py); slotted and small, as every request makes one."""

    settings: ProxySettings  # as they were when the request arrived: an edit mid-request does not mix the two
    scope: dict
    receive: Callable[[], Awaitable[dict]]
    send: Callable[[dict], Awaitable[None]]
    record: LogRecord
    body: bytes = b""
    body_pending: bool = False  # a pass-through's body, still on the wire: streamed upstream as it comes
    query: str = ""
    fingerprint: tuple | None = None  # the request memo's, for a request it may remember (not one it knows)
    route: Route | None = None
    key: str | None = None  # the cache key, set for a cacheable route
    directive: str | None = None  # a cacheable request's x-rubberduck-cache header (skip, refresh), if it sent one
    refused: RouteError | None = None  # answered after the failure rules, which come first (docs/failures.md)
    _request: Request | None = None

    @property
    def request(self) -> Request:
        """The request as its provider sees it, built on first use: a repeat the memo knows is answered without."""
        request = self._request
        if request is None:
            record = self.record
            headers = header_dict(self.scope["headers"])
            request = self._request = Request(record.method, record.path, self.query, headers, self.body, record.ip)
        return request

    def bases(self) -> tuple[str, str]:
        """The upstream's base URL for this request, and the proxy's as the client called it (scheme and host)."""
        s, request = self.settings, self.request
        host = request.headers.get("host") or "{}:{}".format(*self.scope["server"])
        return s.provider.upstream_base(s.upstream_url, request, self.route), f"{self.scope['scheme']}://{host}"


def header_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers (names already lower-case) as a dict; repeated names joined with ", " as HTTP allows."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
    if len(headers) != len(raw):
        headers = {}
        for k, v in raw:
            name, value = k.decode("latin-1"), v.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
