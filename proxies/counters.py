"""Live per-proxy counters, bumped on the request path (plain integer adds, no locks needed under the GIL)."""

from __future__ import annotations


class Counters:
    __slots__ = ("requests", "cache_hits", "errors", "in_flight")

    def __init__(self):
        self.requests = 0
        self.cache_hits = 0
        self.errors = 0
        self.in_flight = 0

    def begin(self) -> None:
        self.in_flight += 1

    def end(self, record) -> None:
        self.in_flight -= 1
        self.requests += 1
        if record.cache == "hit":
            self.cache_hits += 1
        if record.status_code >= 400 or record.failure:
            self.errors += 1
