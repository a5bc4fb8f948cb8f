"""A request's route and cache key, resolved once and remembered for repeats by the bytes that decide them.

An SDK repeats a request byte for byte, so a repeat's route (endpoint regexes, JSON parse) and cache key
(canonical JSON, sha256) are looked up instead of recomputed: most of a cache hit's own work, and more the
longer the prompt (D10). The fingerprint holds exactly what `Provider.route` and `Provider.cache_key_parts` may
read (their contract in providers/base.py, held by every provider: tests/providers/test_route_contract.py),
headers as they came (ASGI's raw pairs), so a repeat is answered before its headers are decoded into the
provider's Request (D11). Bounded: a few hundred entries, bodies up to 16 KiB. A request is remembered once the
cache answers it, so requests seen once (every miss) neither pay for it nor push out repeats.
"""

from __future__ import annotations

from collections import OrderedDict

from providers.base import CACHE_DIRECTIVE_HEADER, Provider, Route, RouteError
from proxies.cache_key import cache_key
from proxies.flow import Flow


class RequestMemo:
    def __init__(self, provider: Provider, entries: int = 256, max_body: int = 16 * 1024):
        self.provider = provider
        # The cache directive is in the fingerprint (a repeat with another directive is another request) though not
        # in the cache key.
        names = ("content-type", CACHE_DIRECTIVE_HEADER, *provider.key_headers)
        self.key_headers = frozenset(name.encode("latin-1") for name in names)
        self.entries = entries
        self.max_body = max_body
        self._known: OrderedDict[tuple, tuple[Route, str, str | None]] = OrderedDict()
        self._unmodelled: dict[tuple[str, str], Route | None] = {}

    def passthrough(self, method: str, path: str) -> Route | None:
        """The pass-through Route of a request no endpoint models, known before its body is read; None for one the
        provider models (or refuses). One dict look-up for the few paths an app repeats; bounded by clearing."""
        key = (method, path)
        try:
            return self._unmodelled[key]
        except KeyError:
            pass
        if len(self._unmodelled) >= self.entries * 4:
            self._unmodelled.clear()
        route = self._unmodelled[key] = self.provider.unmodelled(method, path)
        return route

    def __len__(self) -> int:
        return len(self._known)

    def fingerprint(
        self, method: str, path: str, query: str, body: bytes, raw_headers: list[tuple[bytes, bytes]]
    ) -> tuple | None:
        """What decides a request's route and cache key; raw_headers as ASGI gives them (names lower-case)."""
        if len(body) > self.max_body:
            return None
        key_headers = self.key_headers
        return (method, path, query, body, *[pair for pair in raw_headers if pair[0] in key_headers])

    def get(self, fingerprint: tuple | None) -> tuple[Route, str, str | None] | None:
        known = self._known.get(fingerprint) if fingerprint is not None else None
        if known is not None:
            self._known.move_to_end(fingerprint)
        return known

    def put(self, fingerprint: tuple | None, route: Route, key: str, directive: str | None = None) -> None:
        if fingerprint is None:
            return
        self._known[fingerprint] = (route, key, directive)
        if len(self._known) > self.entries:
            self._known.popitem(last=False)

    def resolve(self, flow: Flow) -> None:
        """Sets the flow's route (or what refused it) and, for a cacheable route, its cache key and cache directive:
        a repeat's from here."""
        record = flow.record
        fingerprint = self.fingerprint(record.method, record.path, flow.query, flow.body, flow.scope["headers"])
        known = self.get(fingerprint)
        if known is not None:
            flow.route, flow.key, flow.directive = known  # fingerprint left unset: known already
            return
        flow.fingerprint = fingerprint
        request = flow.request
        try:
            route = flow.route = self.provider.route(request)
        except RouteError as e:
            flow.refused = e
            return
        if route.cacheable:
            key_path, key_query, key_headers = self.provider.cache_key_parts(request, route)
            content_type = request.headers.get("content-type", "")
            flow.key = cache_key(
                request.method, key_path, key_query, key_headers, request.body, request.json, content_type
            )
            flow.directive = request.headers.get(CACHE_DIRECTIVE_HEADER)

    def remember(self, flow: Flow) -> None:
        """Called once the cache answered a flow with a fingerprint: a repeat is then resolved from here."""
        self.put(flow.fingerprint, flow.route, flow.key, flow.directive)
