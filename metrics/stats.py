"""The dashboard's live numbers for one user (what `/ws/stats/` sends), from the DB and the local runner.

Counts come from the 1 m buckets, which the runner's writer commits with the log rows (~100 ms behind);
proxy statuses from the proxies table. In-flight comes from the runner's snapshot when it runs in this
process, else from the runner's latest sample in the current minute (about a second old): with a separate
`runproxies` process the DB is what both processes share.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from metrics.models import MetricBucket
from metrics.rollup import floor
from proxies.models import Proxy
from proxies.runner import local_runner


def _rate(part, whole) -> float:
    return round(part / whole, 4) if whole else 0.0


def live_in_flight(owner_id: int) -> int | None:
    runner = local_runner()
    if runner is None:
        return None
    return sum(proxy.in_flight for proxy in runner.snapshot() if proxy.owner_id == owner_id)


def stats_for(owner_id: int, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    minute = floor(now, 60)
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    totals = MetricBucket.objects.filter(owner_id=owner_id, proxy__isnull=True, window="1m")
    today = totals.filter(start__gte=midnight).aggregate(
        requests=Sum("requests"), cache_hits=Sum("cache_hits"), errors=Sum("errors"), cost=Sum("cost_usd")
    )
    recent = {b.start: b for b in totals.filter(start__gte=minute - timedelta(minutes=1), start__lte=minute)}
    current, previous = recent.get(minute), recent.get(minute - timedelta(minutes=1))
    # A sliding minute: all of this minute plus the part of the last one that is still within 60 s.
    elapsed = (now - minute).total_seconds() / 60
    rpm = (current.requests if current else 0) + (previous.requests if previous else 0) * (1 - elapsed)
    statuses = {
        r["status"]: r["n"]
        for r in Proxy.objects.filter(owner_id=owner_id).order_by().values("status").annotate(n=Count("id"))
    }
    in_flight = live_in_flight(owner_id)
    if in_flight is None:
        in_flight = current.in_flight if current else 0
    requests = today["requests"] or 0
    return {
        "rpm": round(rpm, 1),
        "requests": requests,
        "cache_hit_rate": _rate(today["cache_hits"] or 0, requests),
        "error_rate": _rate(today["errors"] or 0, requests),
        "cost_usd_today": float(today["cost"] or 0),
        "running_proxies": statuses.get(Proxy.Status.RUNNING, 0),
        "stopped_proxies": statuses.get(Proxy.Status.STOPPED, 0),
        "in_flight": in_flight,
    }
