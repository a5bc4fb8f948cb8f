"""The route and cache key of recently repeated requests, remembered by the bytes that decide them.

An SDK repeats a request byte for byte, so a repeat's route (endpoint regexes, JSON parse) and cache key
(canonical JSON, sha256) are looked up instead of recomputed: most of a cache hit's own work, and more the
longer the prompt. The fingerprint holds exactly what `Provider.route` and `Provider.cache_key_parts` may
read (their contract in providers/base.py). Bounded: a few hundred entries, bodies up to 16 KiB. The app puts a
request here once the cache answers it, so requests seen once (every miss) neither pay for it nor push out repeats.
"""

from __future__ import annotations

from collections import OrderedDict

from providers.base import Provider, Request, Route


class RequestMemo:
    def __init__(self, provider: Provider, entries: int = 256, max_body: int = 16 * 1024):
        self.key_headers = ("content-type", *provider.key_headers)
        self.entries = entries
        self.max_body = max_body
        self._known: OrderedDict[tuple, tuple[Route, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._known)

    def fingerprint(self, request: Request) -> tuple | None:
        if len(request.body) > self.max_body:
            return None
        headers = request.headers
        return (request.method, request.path, request.query, request.body, *[headers.get(h) for h in self.key_headers])

    def get(self, fingerprint: tuple | None) -> tuple[Route, str] | None:
        known = self._known.get(fingerprint) if fingerprint is not None else None
        if known is not None:
            self._known.move_to_end(fingerprint)
        return known

    def put(self, fingerprint: tuple | None, route: Route, key: str) -> None:
        if fingerprint is None:
            return
        self._known[fingerprint] = (route, key)
        if len(self._known) > self.entries:
            self._known.popitem(last=False)
