"""What the server says about a proxy, and the typed keyword arguments of the clients (docs/api.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self, TypedDict


class ProxySettings(TypedDict, total=False):
    """A proxy's writable fields (`name` aside)."""

    provider: str
    model_name: str
    port: int | None
    upstream_url: str
    tls: bool
    replay: str
    cache_mode: str
    description: str
    tags: list[str]


class CacheFilters(TypedDict, total=False):
    """`model` exact, `path` a substring of the path, `q` a substring of the key, model or path."""

    model: str
    path: str
    q: str


class LogFilters(TypedDict, total=False):
    """`status` a code (429) or a class ("4xx"); `failure="none"` entries without one; `since` inclusive,
    `until` exclusive (no offset: UTC)."""

    proxy: int
    status: int | str
    cache: str
    failure: str
    ip: str
    since: datetime | str
    until: datetime | str


class ProxyRecord:
    """One proxy as the server last described it; `refresh()` asks again."""

    def __init__(self, data: dict[str, Any]):
        self.data = data

    def _set(self, data: dict[str, Any]) -> Self:
        self.data = data
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} id={self.id} {self.status} {self.base_url}>"

    @property
    def id(self) -> int:
        return self.data["id"]

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def provider(self) -> str:
        return self.data["provider"]

    @property
    def model_name(self) -> str:
        return self.data["model_name"]

    @property
    def port(self) -> int:
        return self.data["port"]

    @property
    def upstream_url(self) -> str:
        return self.data["upstream_url"]

    @property
    def cache_mode(self) -> str:
        """record (answer from the cache, store misses), replay (answer only from it: a miss is an error),
        refresh (always ask the upstream, store the answer) or off; `update(cache_mode=...)` changes it."""
        return self.data["cache_mode"]

    @property
    def tags(self) -> list[str]:
        return self.data["tags"]

    @property
    def status(self) -> str:
        """running, stopped, starting, stopping or error (then `last_error` says why)."""
        return self.data["status"]

    @property
    def last_error(self) -> str | None:
        return self.data["last_error"]

    @property
    def base_url(self) -> str:
        """What an SDK needs as its base URL to go through this proxy."""
        return self.data["base_url"]
