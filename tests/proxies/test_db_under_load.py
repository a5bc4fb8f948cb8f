"""The database under load, short: a few seconds of C=64 mixed traffic on SQLite while the API is read.

The timed version (30 s, API p99 < 200 ms) is `bench/run.py --db-load`; here only what must hold on any
machine is asserted: no "database is locked", and one log entry per request served.
"""

import asyncio
import logging
import threading
import time
import uuid

import httpx

from proxies.models import CacheEntry
from tests.conftest import flushed_logs, token_client, wait_until


def body(text: str) -> bytes:
    return f'{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"{text}"}}]}}'.encode()


async def mixed_load(url: str, seconds: float, concurrency: int = 64) -> tuple[int, set[str]]:
    """Every other request unique (a miss, so a cache store), the rest identical (a hit)."""
    done, unique = 0, set()
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient, n: int):
        nonlocal done
        i = 0
        while time.monotonic() < deadline:
            i += 1
            text = f"load {n} {i} {uuid.uuid4().hex}" if i % 2 else "the same question"
            response = await client.post(url, content=body(text), headers={"content-type": "application/json"})
            assert response.status_code == 200, response.text
            if i % 2:
                unique.add(text)
            done += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client, n) for n in range(concurrency)))
    return done, unique


def test_it_loses_no_log_entry_and_never_locks_under_mixed_load(make_proxy, openai_upstream, runner, user, caplog):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    url = f"http://127.0.0.1:{proxy['port']}/v1/chat/completions"
    api = token_client(user)
    stop, api_statuses = threading.Event(), []

    def read_the_api():
        while not stop.is_set():
            api_statuses.append(api.get("/api/v1/proxies/").status_code)
            stop.wait(0.05)

    reader = threading.Thread(target=read_the_api)
    with caplog.at_level(logging.WARNING):
        reader.start()
        try:
            sent, unique = asyncio.run(mixed_load(url, seconds=3.0))
        finally:
            stop.set()
            reader.join()
        entries = flushed_logs(runner, proxy["id"])

    assert "database is locked" not in caplog.text
    assert len(entries) == sent == runner.running[proxy["id"]].server.app.counters.requests
    assert {e.cache for e in entries} == {"hit", "miss"}
    assert api_statuses and set(api_statuses) == {200}
    stored = CacheEntry.objects.filter(proxy_id=proxy["id"])
    wait_until(lambda: stored.count() == len(unique) + 1, timeout=30)  # stores are written in batches
