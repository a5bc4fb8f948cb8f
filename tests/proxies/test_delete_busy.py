"""Deleting a proxy while it has traffic and while the writer, roll-ups, cache stores and hit counters still hold
work of it: that work is dropped quietly, and every other proxy keeps its log entries, cache stores and samples."""

import itertools
import threading
import time

import httpx
import pytest
from django.db.models import Sum

from logs.models import LogEntry
from logs.writer import LogWriter
from metrics.models import MetricBucket
from metrics.rollup import Rollup
from proxies import cache
from proxies.models import CacheEntry, Proxy
from proxies.runner import Runner
from tests.conftest import wait_until

NAMES = itertools.count()


def create(api, upstream: str) -> dict:
    body = {"name": f"p{next(NAMES)}", "provider": "openai", "model_name": "m", "upstream_url": upstream}
    response = api.post("/api/v1/proxies/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def chat(proxy: dict, prompt: str) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
    return httpx.post(proxy["base_url"] + "/chat/completions", json=body, headers={"authorization": "Bearer sk"})


def errors_logged(caplog) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")
    ]


@pytest.fixture
def ticking(transactional_db):
    """A runner and its roll-ups (composed as rubberduck_site.dataplane does) whose writer, samples, cache stores
    and reconciles run only when the test says, so a proxy can be deleted between any two of them."""
    writer = LogWriter()
    runner = Runner(writer)
    rollup = Rollup(runner)
    rollup.attach(writer)
    yield runner, rollup
    runner.shutdown("force")


def test_it_drops_a_deleted_proxys_pending_work_and_keeps_every_other_proxys(
    api, ticking, openai_upstream, caplog, monkeypatch
):
    ticking_runner, rollup = ticking
    upstream = openai_upstream.url + "/v1"
    doomed, kept = create(api, upstream), create(api, upstream)
    ticking_runner.reconcile()
    for proxy in (doomed, kept):
        assert chat(proxy, "stored").status_code == 200
    wait_until(lambda: CacheEntry.objects.count() == 2)  # stored: the hits below are counted
    monkeypatch.setattr(cache, "STORE_GATHER_SECONDS", 3600)  # the next answers wait to be stored
    for proxy in (doomed, kept):
        assert chat(proxy, "stored").json()["choices"]  # a hit, counted on the next tick
        assert chat(proxy, "pending").json()["choices"]  # a miss, stored when the proxy stops

    assert api.delete(f"/api/v1/proxies/{doomed['id']}/").status_code == 204
    rollup.sample()  # the runner still serves the deleted proxy
    ticking_runner.writer.flush()  # its log entries are still queued
    ticking_runner.reconcile()  # stops it (its pending answer is stored then) and counts the other's hit
    ticking_runner.shutdown("graceful")  # stores the other's pending answer, flushes, folds

    assert errors_logged(caplog) == []
    assert not Proxy.objects.filter(pk=doomed["id"]).exists()
    for model in (LogEntry, CacheEntry, MetricBucket):
        assert not model.objects.filter(proxy_id=doomed["id"]).exists(), model
    assert LogEntry.objects.filter(proxy_id=kept["id"]).count() == 3
    assert sorted(CacheEntry.objects.filter(proxy_id=kept["id"]).values_list("hits", flat=True)) == [0, 1]
    minutes = MetricBucket.objects.filter(window="1m", proxy_id=kept["id"])
    assert minutes.aggregate(n=Sum("requests"))["n"] == 3
    assert minutes.filter(running_proxies=1).exists()  # the gauges' sample


def test_it_deletes_proxies_in_the_middle_of_traffic_and_roll_up_ticks_without_an_integrity_error(
    api, runner, openai_upstream, caplog, settings
):
    settings.RUBBERDUCK_METRICS_SAMPLE_SECONDS = 0  # a sample on every writer tick (~0.1 s)
    settings.RUBBERDUCK_METRICS_FOLD_SECONDS = 0
    upstream = openai_upstream.url + "/v1"
    kept = create(api, upstream)
    doomed = [create(api, upstream) for _ in range(4)]
    wait_until(lambda: len(runner.running) == 5)
    stop = threading.Event()
    answered = {p["id"]: 0 for p in [kept, *doomed]}

    failed = []

    def traffic(proxy):
        n = 0
        while not stop.is_set():
            try:
                response = chat(proxy, f"prompt {n % 7}")  # misses (stores), then hits (hit counts)
            except httpx.TransportError as e:
                if proxy is kept:
                    failed.append(repr(e))
                return  # a deleted proxy's port is gone
            n += 1
            if response.status_code != 200:
                failed.append(response.text)
            answered[proxy["id"]] += 1

    threads = [threading.Thread(target=traffic, args=(p,)) for p in [kept, *doomed]]
    for t in threads:
        t.start()
    for proxy in doomed:
        time.sleep(0.3)
        assert api.delete(f"/api/v1/proxies/{proxy['id']}/").status_code == 204
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    runner.shutdown("graceful")

    assert failed == [] and errors_logged(caplog) == []
    assert answered[kept["id"]] > 0
    assert LogEntry.objects.filter(proxy_id=kept["id"]).count() == answered[kept["id"]]
    counted = MetricBucket.objects.filter(window="1m", proxy_id=kept["id"]).aggregate(n=Sum("requests"))["n"]
    assert counted == answered[kept["id"]]
    assert CacheEntry.objects.filter(proxy_id=kept["id"]).count() == min(answered[kept["id"]], 7)
    assert not LogEntry.objects.exclude(proxy_id=kept["id"]).exists()
