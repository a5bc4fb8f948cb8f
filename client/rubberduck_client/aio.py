"""The async client: `AsyncRubberduck` and its `AsyncProxy` objects (the same operations as sync.py, awaited)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, Unpack

import httpx

from rubberduck_client import plans
from rubberduck_client.failures import FailureParts, failure_config
from rubberduck_client.records import CacheFilters, LogFilters, ProxyRecord, ProxySettings
from rubberduck_client.transport import client_options, run_async

T = TypeVar("T")


class AsyncRubberduck:
    """A Rubberduck server, from async code: see `Rubberduck`. Close it with `await rd.aclose()` or use
    `async with`."""

    def __init__(self, url: str | None = None, token: str | None = None):
        self.http = httpx.AsyncClient(**client_options(url, token))

    @property
    def url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    async def run(self, plan: plans.Plan[T]) -> T:
        return await run_async(self.http, plan)

    async def proxies(self, **filters: str) -> list[AsyncProxy]:
        return [AsyncProxy(self, data) for data in await self.run(plans.list_proxies(**filters))]

    async def proxy(self, name: str, **settings: Unpack[ProxySettings]) -> AsyncProxy:
        return AsyncProxy(self, await self.run(plans.ensure_proxy(name, settings)))

    async def create_proxy(self, name: str, **settings: Unpack[ProxySettings]) -> AsyncProxy:
        return AsyncProxy(self, await self.run(plans.create_proxy({"name": name, **settings})))

    async def get_proxy(self, name: str) -> AsyncProxy:
        return AsyncProxy(self, await self.run(plans.get_proxy(name)))

    async def apply(
        self, document: Mapping[str, Any] | str | os.PathLike[str], prune: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        return await self.run(plans.apply(document, prune, dry_run))

    async def reset(self) -> None:
        await self.run(plans.reset_all())

    async def logs(self, **filters: Unpack[LogFilters]) -> list[dict[str, Any]]:
        return await self.run(plans.logs(filters))

    async def providers(self) -> list[dict[str, Any]]:
        return await self.run(plans.providers())

    async def health(self) -> dict[str, Any]:
        return await self.run(plans.health())

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncRubberduck:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncProxy(ProxyRecord):
    def __init__(self, client: AsyncRubberduck, data: dict[str, Any]):
        super().__init__(data)
        self.client = client
        self.cache = AsyncProxyCache(self)

    async def refresh(self) -> AsyncProxy:
        return self._set(await self.client.run(plans.refresh_proxy(self.id)))

    async def update(self, **settings: Unpack[ProxySettings]) -> AsyncProxy:
        return self._set(await self.client.run(plans.update_proxy(self.id, settings)))

    async def start(self) -> AsyncProxy:
        return self._set(await self.client.run(plans.start_proxy(self.id)))

    async def stop(self, mode: str = "graceful") -> AsyncProxy:
        return self._set(await self.client.run(plans.stop_proxy(self.id, mode)))

    async def delete(self, missing_ok: bool = False) -> None:
        await self.client.run(plans.delete_proxy(self.id, missing_ok))

    async def clone(self, name: str | None = None) -> AsyncProxy:
        return AsyncProxy(self.client, await self.client.run(plans.clone_proxy(self.id, name)))

    async def failures(self) -> dict[str, Any]:
        return await self.client.run(plans.get_failures(self.id))

    async def set_failures(
        self, config: Mapping[str, Any] | None = None, /, **parts: Unpack[FailureParts]
    ) -> dict[str, Any]:
        return await self.client.run(plans.set_failures(self.id, failure_config(config, **parts)))

    @asynccontextmanager
    async def failing(
        self, config: Mapping[str, Any] | None = None, /, **parts: Unpack[FailureParts]
    ) -> AsyncIterator[AsyncProxy]:
        previous = await self.client.run(plans.swap_failures(self.id, failure_config(config, **parts)))
        try:
            yield self
        finally:
            await self.client.run(plans.set_failures(self.id, previous))

    async def reset(self) -> None:
        await self.client.run(plans.set_failures(self.id, {}))

    async def logs(self, **filters: Unpack[LogFilters]) -> list[dict[str, Any]]:
        return await self.client.run(plans.logs({**filters, "proxy": self.id}))


class AsyncProxyCache:
    def __init__(self, proxy: AsyncProxy):
        self.proxy = proxy

    async def clear(self) -> int:
        return await self.proxy.client.run(plans.clear_cache(self.proxy.id))

    async def ls(self, **filters: Unpack[CacheFilters]) -> list[dict[str, Any]]:
        return await self.proxy.client.run(plans.cache_entries(self.proxy.id, filters))

    async def delete(self, key: str) -> None:
        await self.proxy.client.run(plans.delete_cache_entry(self.proxy.id, key))

    async def export(self, path: str | os.PathLike[str]) -> Path:
        return await self.proxy.client.run(plans.export_cache(self.proxy.id, path))

    async def import_(self, path: str | os.PathLike[str]) -> dict[str, int]:
        return await self.proxy.client.run(plans.import_cache(self.proxy.id, path))
