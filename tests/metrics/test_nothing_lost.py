"""Under load every request is logged and counted once; a SIGTERM'd runproxies flushes before it exits."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from django.conf import settings as django_settings
from django.db.models import Sum

from logs.models import LogEntry
from metrics.models import MetricBucket
from tests.conftest import flushed_logs, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_thousand_concurrent_requests_give_a_thousand_entries_and_matching_minute_counts(
    make_proxy, openai_upstream, runner
):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")

    async def burst():
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(
            base_url=proxy["base_url"], limits=limits, timeout=httpx.Timeout(60, pool=None)
        ) as client:

            async def one(i):
                body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"n{i % 10}"}]}
                return (
                    await client.post("/chat/completions", json=body, headers={"authorization": "Bearer sk"})
                ).status_code

            # Warm 10 keys first (so exactly 10 misses), then 1,000 at once through the proxy, 100 connections wide.
            warm = [await one(i) for i in range(10)]
            return warm + list(await asyncio.gather(*(one(i) for i in range(990))))

    started = time.perf_counter()
    statuses = asyncio.run(burst())
    print(f"1000 requests over 100 connections in {time.perf_counter() - started:.1f} s")
    assert statuses.count(200) == 1000
    entries = flushed_logs(runner, proxy["id"])
    assert len(entries) == 1000 and len({e.id for e in entries}) == 1000
    assert sum(e.cache == "miss" for e in entries) == 10
    counted = MetricBucket.objects.filter(window="1m", proxy_id=proxy["id"]).aggregate(
        n=Sum("requests"), h=Sum("cache_hits")
    )
    assert counted == {"n": 1000, "h": sum(e.cache == "hit" for e in entries)}
    assert MetricBucket.objects.filter(window="1m", proxy__isnull=True).aggregate(n=Sum("requests"))["n"] == 1000


def test_runproxies_stopped_with_sigterm_flushes_its_pending_entries_first(api, openai_upstream):
    proxy = api.post("/api/v1/proxies/", {"name": "t", "provider": "openai", "model_name": "gpt-4o-mini",
                                          "upstream_url": openai_upstream.url + "/v1"}, format="json").json()  # fmt: skip
    db = django_settings.DATABASES["default"]["NAME"]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "manage.py", "runproxies"], cwd=django_settings.BASE_DIR, env=env)
    try:
        wait_until(lambda: api.get(f"/api/v1/proxies/{proxy['id']}/").json()["status"] == "running", timeout=20)
        with httpx.Client(base_url=proxy["base_url"], timeout=10) as client:
            for i in range(50):
                body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"s{i}"}]}
                assert client.post("/chat/completions", json=body).status_code == 200
        process.send_signal(signal.SIGTERM)  # at once: the last ~100 ms of entries are still queued
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert LogEntry.objects.filter(proxy_id=proxy["id"]).count() == 50
    assert MetricBucket.objects.filter(window="1m", proxy_id=proxy["id"]).aggregate(n=Sum("requests"))["n"] == 50
    assert MetricBucket.objects.filter(window="1h", proxy_id=proxy["id"]).aggregate(n=Sum("requests"))["n"] == 50
