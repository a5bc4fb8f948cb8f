"""`GET /metrics`: Prometheus text format.

Counters and the latency histogram are fed from the rows the log writer commits (a writer sink, off the
request path); gauges are read at scrape time from the runner's snapshot and the proxies table. They
describe the runner embedded in this process (`manage.py serve`); a headless `runproxies` has no web server (it
prints its log writer's counts on stderr when sent SIGUSR1).
Access: `Authorization: Bearer $RUBBERDUCK_METRICS_TOKEN` when that is set, else only from loopback.
"""

from __future__ import annotations

import collections
import hmac

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.db.models import Count
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from logs.records import Entry, by_proxy
from metrics.histogram import BatchHistogram
from proxies.models import Proxy
from proxies.runner import local_runner

REGISTRY = CollectorRegistry(auto_describe=True)
LABELS = ("proxy", "owner")
REQUESTS = Counter("rubberduck_requests", "Requests served by proxies.", (*LABELS, "cache"), registry=REGISTRY)
CACHE_HITS = Counter("rubberduck_cache_hits", "Requests answered from the cache.", LABELS, registry=REGISTRY)
FAILURES = Counter(
    "rubberduck_failures", "Requests that failed, by failure type (error: an HTTP error status).",
    (*LABELS, "failure"), registry=REGISTRY,
)  # fmt: skip
COST = Counter("rubberduck_cost_usd", "Estimated upstream cost in USD (priced models only).", LABELS, registry=REGISTRY)
LATENCY = BatchHistogram(
    "rubberduck_request_latency_seconds", "Time from request to the end of the answer.", LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)  # fmt: skip
REGISTRY.register(LATENCY)


def observe_rows(batch: Entry) -> None:
    """A log-writer sink: runs on the writer thread after each commit, with the batch column by column. Counts are
    added once per proxy and batch, not per row (D23)."""
    for column in by_proxy(batch):
        labels = (str(column.proxy_id[0]), str(column.owner_id[0]))
        for cache, n in collections.Counter(column.cache).items():
            REQUESTS.labels(*labels, cache).inc(n)
        if hits := column.cache.count("hit"):
            CACHE_HITS.labels(*labels).inc(hits)
        failed = collections.Counter(
            f or "error" for s, f in zip(column.status_code, column.failure, strict=True) if f or s >= 400
        )
        for failure, n in failed.items():
            FAILURES.labels(*labels, failure).inc(n)
        if cost := sum(filter(None, column.cost_usd)):
            COST.labels(*labels).inc(float(cost))
        LATENCY.observe_many(labels, [ms / 1000.0 for ms in column.latency_ms])


class LiveGauges:
    """Read when scraped, never updated on the request path."""

    def describe(self):  # so registering never collects (no DB or runner access at import)
        return []

    def collect(self):
        in_flight = GaugeMetricFamily("rubberduck_in_flight", "Requests being served now.", labels=LABELS)
        runner = local_runner()
        served = runner.snapshot() if runner else []
        for proxy in served:
            in_flight.add_metric((str(proxy.proxy_id), str(proxy.owner_id)), proxy.in_flight)
        yield in_flight
        if runner is not None:
            yield GaugeMetricFamily(
                "rubberduck_runner_proxies", "Proxies served by this process's runner.", value=len(served)
            )
            yield from writer_metrics(runner.writer.state())
        try:
            counts = dict.fromkeys(Proxy.Status.values, 0)
            for r in Proxy.objects.order_by().values("status").annotate(n=Count("id")):
                counts[r["status"]] = r["n"]
        except DatabaseError:  # the database is away: the rest still says what this process knows
            close_old_connections()
            return
        proxies = GaugeMetricFamily("rubberduck_proxies", "Proxies by status.", labels=("status",))
        for status, n in counts.items():
            proxies.add_metric((status,), n)
        yield proxies
        yield GaugeMetricFamily("rubberduck_running_proxies", "Proxies running.", value=counts["running"])


def writer_metrics(state: dict):
    """The log writer's counts, read from its plain fields when scraped (nothing added on the request path)."""
    yield CounterMetricFamily(
        "rubberduck_log_entries_written", "Log entries committed by this process.", value=state["written"]
    )
    yield CounterMetricFamily(
        "rubberduck_log_entries_dropped",
        "Log entries dropped because the log buffer was full while the database did not take writes.",
        value=state["dropped"],
    )
    yield GaugeMetricFamily(
        "rubberduck_log_buffer_records", "Log entries waiting to be written.", value=state["queued"]
    )
    yield GaugeMetricFamily(
        "rubberduck_log_buffer_limit",
        "Log entries that may wait (RUBBERDUCK_LOG_BUFFER_RECORDS).",
        value=state["limit"],
    )
    yield GaugeMetricFamily(
        "rubberduck_log_writer_failing", "1 while the log writer's flushes fail.", value=int(state["failing"])
    )


REGISTRY.register(LiveGauges())

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def allowed(request) -> bool:
    token = settings.RUBBERDUCK_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return request.META.get("REMOTE_ADDR") in LOOPBACK


def metrics_view(request):
    if not allowed(request):
        return HttpResponse("Forbidden\n", status=403 if not settings.RUBBERDUCK_METRICS_TOKEN else 401,
                            content_type="text/plain")  # fmt: skip
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
