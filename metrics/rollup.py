"""Roll-ups: per-minute counts persisted with the very log rows they count, folded into 15 m and 1 h buckets.

- `add_rows` runs inside the log writer's transaction (`writer.in_transaction`): a batch's counts are added to
  its 1 m buckets in the same commit as its rows, so a crash or restart can neither lose nor double-count one.
- `tick` runs on the writer's thread between flushes (`writer.periodic`): it samples the runner's gauges
  (in-flight, running/stopped proxies, from its snapshot) about once a second, refolds the hours whose minutes changed into
  15 m and 1 h buckets (idempotent: recomputed from the 1 m buckets and replaced), and starts retention on a
  thread of its own.
Nothing here runs on a proxy's request path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from logs.records import Entry, by_proxy, split
from metrics.models import MetricBucket
from metrics.retention import apply_retention, metrics_retention_days
from proxies.interpreter import lower_this_thread
from proxies.models import Proxy

log = logging.getLogger("rubberduck.metrics")

RETENTION_AGAIN_SECONDS = 0.5  # between two slices of a retention with more to delete

WINDOW_SECONDS = {"1m": 60, "15m": 900, "1h": 3600}
COUNTS = ("requests", "cache_hits", "errors", "cost_usd", "latency_ms_sum")
GAUGES = ("in_flight", "running_proxies", "stopped_proxies")
VALUES = COUNTS + GAUGES
TABLE = MetricBucket._meta.db_table


def floor(ts: datetime, seconds: int) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def upsert(window: str, rows: list[dict], *, add: Iterable[str] = (), replace: Iterable[str] = (), peak=()) -> None:
    """Inserts or updates buckets; each row has owner_id, proxy_id (or None), start and any of VALUES.
    On conflict: `add` fields are added, `replace` fields overwritten, `peak` fields keep the larger value."""
    if not rows:
        return
    q = connection.ops.quote_name
    columns = ("owner_id", "proxy_id", "window", "start", *VALUES)
    sets = [f"{f} = {TABLE}.{f} + excluded.{f}" for f in add]
    sets += [f"{f} = excluded.{f}" for f in replace]
    sets += [f"{f} = CASE WHEN excluded.{f} > {TABLE}.{f} THEN excluded.{f} ELSE {TABLE}.{f} END" for f in peak]
    insert = f"INSERT INTO {TABLE} ({', '.join(q(c) for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    for has_proxy, target in (
        (True, f"(owner_id, proxy_id, {q('window')}, start) WHERE proxy_id IS NOT NULL"),
        (False, f"(owner_id, {q('window')}, start) WHERE proxy_id IS NULL"),
    ):
        params = [
            (
                r["owner_id"],
                r["proxy_id"],
                window,
                connection.ops.adapt_datetimefield_value(r["start"]),
                *(
                    connection.ops.adapt_decimalfield_value(Decimal(r.get(f) or 0), 18, 8)
                    if f == "cost_usd"
                    else r.get(f) or 0
                    for f in VALUES
                ),
            )
            for r in rows
            if (r["proxy_id"] is not None) == has_proxy
        ]
        if params:
            with connection.cursor() as cursor:
                cursor.executemany(f"{insert} ON CONFLICT {target} DO UPDATE SET {', '.join(sets)}", params)


def minute_counts(batch: Entry) -> list[dict]:
    """A batch of log entries (column by column, logs.writer.batch_of) as additions to 1 m buckets, per proxy and
    per owner (proxy None)."""
    buckets, owners = [], {}
    for proxy_columns in by_proxy(batch):
        owner_id, proxy_id = proxy_columns.owner_id[0], proxy_columns.proxy_id[0]
        for minute, column in by_minute(proxy_columns):
            start = datetime.fromtimestamp(minute, tz=UTC)
            a = new_counts(owner_id, proxy_id, start)
            add_counts(a, column)
            buckets.append(a)
            total = owners.get((owner_id, minute))
            if total is None:
                total = owners[(owner_id, minute)] = new_counts(owner_id, None, start)
            for f in COUNTS:
                total[f] += a[f]
    return [*buckets, *owners.values()]


def by_minute(column: Entry) -> list[tuple[int, Entry]]:
    """One proxy's columns (records.by_proxy) split by the minute of their timestamps. A batch spans ~0.1 s:
    usually one minute, known from its earliest and latest timestamps without a step per row."""
    first, last = int(min(column.timestamp) // 60) * 60, int(max(column.timestamp) // 60) * 60
    if first == last:
        return [(first, column)]
    return list(split(column, lambda row: int(row[1] // 60) * 60).items())  # row[1]: timestamp


def add_counts(counts: dict, column: Entry) -> None:
    counts["requests"] += len(column.id)
    counts["cache_hits"] += column.cache.count("hit")
    counts["errors"] += sum(s >= 400 or f is not None for s, f in zip(column.status_code, column.failure, strict=True))
    counts["cost_usd"] += sum(filter(None, column.cost_usd), Decimal(0))
    counts["latency_ms_sum"] += sum(column.latency_ms)


def new_counts(owner_id: int, proxy_id: int | None, start: datetime) -> dict:
    return {"owner_id": owner_id, "proxy_id": proxy_id, "start": start, "requests": 0, "cache_hits": 0,
            "errors": 0, "cost_usd": Decimal(0), "latency_ms_sum": 0.0}  # fmt: skip


def fold_hour(hour: datetime) -> None:
    """Recomputes the four 15 m buckets and the 1 h bucket of `hour` from its 1 m buckets (idempotent)."""
    minutes = MetricBucket.objects.filter(window="1m", start__gte=hour, start__lt=hour + timedelta(hours=1))
    folded: dict[str, dict[tuple, dict]] = {"15m": {}, "1h": {}}
    for b in minutes.values("owner_id", "proxy_id", "start", *VALUES):
        for window, seconds in (("15m", 900), ("1h", 3600)):
            start = floor(b["start"], seconds)
            key = (b["owner_id"], b["proxy_id"], start)
            a = folded[window].get(key)
            if a is None:
                a = folded[window][key] = {"owner_id": key[0], "proxy_id": key[1], "start": start}
                a.update(dict.fromkeys(VALUES, 0))
            for f in COUNTS:
                a[f] += b[f]
            for f in GAUGES:
                a[f] = max(a[f], b[f])
    upsert_existing([(window, list(buckets.values())) for window, buckets in folded.items()], replace=VALUES)


def upsert_existing(batches: list[tuple[str, list[dict]]], attempts: int = 3, **how) -> None:
    """Upserts (window, rows) batches in one transaction, but the rows of proxies deleted since they were read: one
    such row would fail the foreign key at commit, and with it every other row. Checked inside the transaction (on
    SQLite it holds the write lock, so none goes meanwhile); on PostgreSQL one can go between that check and the
    commit, and the next attempt checks again."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                ids = {r["proxy_id"] for _, rows in batches for r in rows} - {None}
                existing = set(Proxy.objects.filter(id__in=ids).values_list("id", flat=True)) if ids else set()
                for window, rows in batches:
                    upsert(window, [r for r in rows if r["proxy_id"] is None or r["proxy_id"] in existing], **how)
            return
        except IntegrityError:
            if attempt == attempts - 1:
                raise


class Rollup:
    """The metrics side of one runner, attached to its log writer."""

    def __init__(self, runner=None):
        self.runner = runner
        self.dirty: set[datetime] = set()  # hours whose 1 m buckets changed since they were last folded
        self._lock = threading.Lock()
        self._due = {"sample": 0.0, "fold": 0.0, "retention": 0.0}
        self._retention: threading.Thread | None = None
        self._started = False
        self._last_sample = None
        self._last_glance = None
        self._last_activity = None
        self.writer = None

    def attach(self, writer) -> None:
        self.writer = writer
        writer.in_transaction.append(self.add_rows)
        writer.periodic.append(self.tick)

    def add_rows(self, batch: Entry) -> None:
        buckets = minute_counts(batch)
        upsert("1m", buckets, add=COUNTS)
        self._mark(b["start"] for b in buckets)

    def _mark(self, starts: Iterable[datetime]) -> None:
        with self._lock:
            self.dirty.update(floor(s, 3600) for s in starts)

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        force = force or (self.writer is not None and self.writer.stopping)  # the last tick folds everything
        if not self._started:
            self._started = True  # after a restart, refold what the previous process may not have
            hour = floor(timezone.now(), 3600)
            self._mark([hour - timedelta(hours=1), hour])
        if force or now >= self._due["sample"]:
            self._due["sample"] = now + settings.RUBBERDUCK_METRICS_SAMPLE_SECONDS
            self.sample()
        if force or now >= self._due["fold"]:
            self._due["fold"] = now + settings.RUBBERDUCK_METRICS_FOLD_SECONDS
            self.fold()
        if now >= self._due["retention"] and not (self._retention and self._retention.is_alive()):
            self._due["retention"] = now + settings.RUBBERDUCK_RETENTION_SECONDS
            self._retention = threading.Thread(target=self.retain, name="rubberduck-retention", daemon=True)
            self._retention.start()

    def retain(self) -> None:
        """Applies retention a slice at a time until it is all gone (D85), on its own thread, nicer than the
        proxies' loops and the writer's flushes: its deletes yield the core to them (D112). Stops between two
        slices when the writer stops."""
        lower_this_thread(settings.RUBBERDUCK_WEB_NICE)
        try:
            while not apply_retention()[1]:
                if self.writer is not None and self.writer.stopping:
                    return
                time.sleep(RETENTION_AGAIN_SECONDS)
        except Exception:
            log.exception("retention failed; tried again in %s s", settings.RUBBERDUCK_RETENTION_SECONDS)
        finally:
            connection.close()

    def fold(self) -> None:
        with self._lock:
            hours, self.dirty = sorted(self.dirty), set()
        oldest = timezone.now() - timedelta(days=minute_retention_days())
        for i, hour in enumerate(hours):
            if hour + timedelta(hours=1) < oldest:
                continue  # its minutes are gone: refolding would shrink the 15 m / 1 h buckets
            try:
                fold_hour(hour)
            except Exception:
                self._mark(hours[i:])
                raise

    def sample(self) -> None:
        """Writes the runner's gauges into the current minute: per proxy it serves, and per owner."""
        if self.runner is None:
            return
        minute = floor(timezone.now(), 60)
        # Within a minute whose gauges this runner has written, nothing to do while its proxies' gauges stay put:
        # the owners' proxy counts are read (one query) only when they move (D97).
        activity = (minute, self.runner.activity())
        if activity == self._last_activity:
            return
        served = self.runner.snapshot()
        glance = (minute, [(p.proxy_id, p.in_flight, p.stopping) for p in served])
        if glance == self._last_glance:
            self._last_activity = activity
            return
        rows, in_flight = [], defaultdict(int)
        for proxy in served:
            in_flight[proxy.owner_id] += proxy.in_flight
            rows.append({"owner_id": proxy.owner_id, "proxy_id": proxy.proxy_id, "start": minute,
                         "in_flight": proxy.in_flight, "running_proxies": 0 if proxy.stopping else 1})  # fmt: skip
        if not rows:
            return
        statuses = defaultdict(dict)
        for r in (
            Proxy.objects.filter(owner_id__in=in_flight).order_by().values("owner_id", "status").annotate(n=Count("id"))
        ):
            statuses[r["owner_id"]][r["status"]] = r["n"]
        for owner, n in in_flight.items():
            rows.append({"owner_id": owner, "proxy_id": None, "start": minute, "in_flight": n,
                         "running_proxies": statuses[owner].get(Proxy.Status.RUNNING, 0),
                         "stopped_proxies": statuses[owner].get(Proxy.Status.STOPPED, 0)})  # fmt: skip
        signature = (minute, sorted((r["owner_id"], r["proxy_id"] or 0, *(r.get(g, 0) for g in GAUGES)) for r in rows))
        if signature != self._last_sample:  # else nothing moved this minute: no write
            upsert_existing([("1m", rows)], peak=GAUGES)
            self._last_sample = signature
            self._mark([minute])
        self._last_glance, self._last_activity = glance, activity


def minute_retention_days() -> int:
    return metrics_retention_days().get("1m") or 10**5
