"""The blocking client: `Rubberduck` and its `Proxy` objects."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, Unpack

import httpx

from rubberduck_client import plans
from rubberduck_client.failures import FailureParts, failure_config
from rubberduck_client.records import CacheFilters, LogFilters, ProxyRecord, ProxySettings
from rubberduck_client.transport import client_options, run

T = TypeVar("T")


class Rubberduck:
    """A Rubberduck server: `url` defaults to $RUBBERDUCK_URL (else http://127.0.0.1:8000), `token` to
    $RUBBERDUCK_TOKEN. Every error answer raises RubberduckError."""

    def __init__(self, url: str | None = None, token: str | None = None):
        self.http = httpx.Client(**client_options(url, token))

    @property
    def url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    def run(self, plan: plans.Plan[T]) -> T:
        return run(self.http, plan)

    def proxies(self, **filters: str) -> list[Proxy]:
        """Your proxies (filters: status, provider, tag)."""
        return [Proxy(self, data) for data in self.run(plans.list_proxies(**filters))]

    def proxy(self, name: str, **settings: Unpack[ProxySettings]) -> Proxy:
        """The proxy named `name` with these settings, serving: created, or changed where it differs."""
        return Proxy(self, self.run(plans.ensure_proxy(name, settings)))

    def create_proxy(self, name: str, **settings: Unpack[ProxySettings]) -> Proxy:
        """A new proxy, once it serves (a name you already use is refused by the server)."""
        return Proxy(self, self.run(plans.create_proxy({"name": name, **settings})))

    def get_proxy(self, name: str) -> Proxy:
        """Your proxy named `name`; RubberduckError 404 when there is none."""
        return Proxy(self, self.run(plans.get_proxy(name)))

    def apply(
        self, document: Mapping[str, Any] | str | os.PathLike[str], prune: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        """Applies a declaration (a mapping, or a YAML/JSON file): {created, changed, unchanged, deleted}."""
        return self.run(plans.apply(document, prune, dry_run))

    def reset(self) -> None:
        """Turns every proxy's failures off."""
        self.run(plans.reset_all())

    def logs(self, **filters: Unpack[LogFilters]) -> list[dict[str, Any]]:
        """Every log entry matching the filters, newest first."""
        return self.run(plans.logs(filters))

    def providers(self) -> list[dict[str, Any]]:
        return self.run(plans.providers())

    def health(self) -> dict[str, Any]:
        return self.run(plans.health())

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Rubberduck:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Proxy(ProxyRecord):
    def __init__(self, client: Rubberduck, data: dict[str, Any]):
        super().__init__(data)
        self.client = client
        self.cache = ProxyCache(self)

    def refresh(self) -> Proxy:
        return self._set(self.client.run(plans.refresh_proxy(self.id)))

    def update(self, **settings: Unpack[ProxySettings]) -> Proxy:
        return self._set(self.client.run(plans.update_proxy(self.id, settings)))

    def start(self) -> Proxy:
        """Returns once it serves; RubberduckError when it cannot (`last_error` says why)."""
        return self._set(self.client.run(plans.start_proxy(self.id)))

    def stop(self, mode: str = "graceful") -> Proxy:
        """`graceful` lets requests in flight finish, `force` cuts them."""
        return self._set(self.client.run(plans.stop_proxy(self.id, mode)))

    def delete(self, missing_ok: bool = False) -> None:
        self.client.run(plans.delete_proxy(self.id, missing_ok))

    def clone(self, name: str | None = None) -> Proxy:
        """A new proxy with these settings and failures, a free port, and `name` (default: the server's pick)."""
        return Proxy(self.client, self.client.run(plans.clone_proxy(self.id, name)))

    def failures(self) -> dict[str, Any]:
        return self.client.run(plans.get_failures(self.id))

    def set_failures(self, config: Mapping[str, Any] | None = None, /, **parts: Unpack[FailureParts]) -> dict[str, Any]:
        """Replaces the failure config (docs/failures.md); `errors={429: 1.0}` stands for its list form."""
        return self.client.run(plans.set_failures(self.id, failure_config(config, **parts)))

    @contextmanager
    def failing(self, config: Mapping[str, Any] | None = None, /, **parts: Unpack[FailureParts]) -> Iterator[Proxy]:
        """These failures (and only these) from the start of the block; the previous config again at its end."""
        previous = self.client.run(plans.swap_failures(self.id, failure_config(config, **parts)))
        try:
            yield self
        finally:
            self.client.run(plans.set_failures(self.id, previous))

    def reset(self) -> None:
        """Turns its failures off."""
        self.client.run(plans.set_failures(self.id, {}))

    def logs(self, **filters: Unpack[LogFilters]) -> list[dict[str, Any]]:
        """Its log entries matching the filters, newest first."""
        return self.client.run(plans.logs({**filters, "proxy": self.id}))


class ProxyCache:
    def __init__(self, proxy: Proxy):
        self.proxy = proxy

    def clear(self) -> int:
        """Empties the proxy's cache; returns how many entries went."""
        return self.proxy.client.run(plans.clear_cache(self.proxy.id))

    def ls(self, **filters: Unpack[CacheFilters]) -> list[dict[str, Any]]:
        """Every cached entry matching the filters (all pages): key, method, path, model, status, stream, size,
        hits, recorded_at, last_hit_at."""
        return self.proxy.client.run(plans.cache_entries(self.proxy.id, filters))

    def delete(self, key: str) -> None:
        """Deletes one entry (RubberduckError 404 when it has none with that key)."""
        self.proxy.client.run(plans.delete_cache_entry(self.proxy.id, key))

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Streams its recording (every entry, sorted by key) into the file at `path`; returns that path."""
        return self.proxy.client.run(plans.export_cache(self.proxy.id, path))

    def import_(self, path: str | os.PathLike[str]) -> dict[str, int]:
        """Loads a recording file into its cache: {added, replaced, unchanged}. A bad file is refused whole
        (RubberduckError 400 naming the line)."""
        return self.proxy.client.run(plans.import_cache(self.proxy.id, path))
