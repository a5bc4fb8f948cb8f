"""1 m roll-ups in the log writer's transaction; folds into 15 m and 1 h; retention."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from logs.models import LogEntry
from logs.writer import LogWriter
from metrics.models import MetricBucket
from metrics.retention import apply_retention
from metrics.rollup import Rollup, floor, fold_hour
from tests.factories import LogRecordFactory, ProxyFactory, write_logs

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def rolled_writer() -> LogWriter:
    writer = LogWriter()
    Rollup().attach(writer)
    return writer


def minute_totals(**filters):
    return {
        (b.start.minute, b.proxy_id): (b.requests, b.cache_hits, b.errors)
        for b in MetricBucket.objects.filter(window="1m", **filters)
    }


def test_a_batch_is_counted_into_its_minutes_per_proxy_and_per_owner(user):
    a, b = ProxyFactory(owner=user, name="a"), ProxyFactory(owner=user, name="b")
    write_logs(
        LogRecordFactory(proxy=a, at=T0, cache="hit"),
        LogRecordFactory(proxy=a, at=T0 + timedelta(seconds=59), status_code=500),
        LogRecordFactory(proxy=b, at=T0 + timedelta(seconds=61), failure="timeout", status_code=504),
        writer=rolled_writer(),
    )
    assert minute_totals() == {
        (0, a.id): (2, 1, 1), (0, None): (2, 1, 1),
        (1, b.id): (1, 0, 1), (1, None): (1, 0, 1),
    }  # fmt: skip


def test_rows_out_of_time_order_each_land_in_their_own_minute(user):
    a = ProxyFactory(owner=user, name="a")
    # A slow request is queued after faster ones that arrived later, so a batch is not in time order.
    at = [61, 59.999, 60, 5, 119.999, 120]
    write_logs(*(LogRecordFactory(proxy=a, at=T0 + timedelta(seconds=s)) for s in at), writer=rolled_writer())
    assert {m: n for (m, proxy), (n, _, _) in minute_totals().items() if proxy == a.id} == {0: 2, 1: 3, 2: 1}


def test_counts_commit_with_the_rows_or_not_at_all(user):
    proxy = ProxyFactory(owner=user)
    writer = rolled_writer()
    boom = [True]

    def fail_once(rows):
        if boom.pop() if boom else False:
            raise RuntimeError("disk full")

    writer.in_transaction.append(fail_once)
    writer.enqueue(LogRecordFactory(proxy=proxy, at=T0))
    with pytest.raises(RuntimeError):
        writer.flush()
    assert LogEntry.objects.count() == 0 and MetricBucket.objects.count() == 0

    writer.flush()  # the record was put back: written once, counted once
    assert LogEntry.objects.count() == 1
    assert minute_totals(proxy__isnull=True) == {(0, None): (1, 0, 0)}


def test_a_restart_neither_loses_nor_double_counts_a_minute(user):
    proxy = ProxyFactory(owner=user)
    minute = floor(timezone.now() - timedelta(minutes=5), 60)  # recent: stop() also applies retention
    first = rolled_writer()
    write_logs(*[LogRecordFactory(proxy=proxy, at=minute + timedelta(seconds=i)) for i in range(7)], writer=first)
    first.stop()  # the process ends
    second = rolled_writer()  # a new process, same minute
    write_logs(*[LogRecordFactory(proxy=proxy, at=minute + timedelta(seconds=30 + i)) for i in range(5)], writer=second)
    second.stop()

    bucket = MetricBucket.objects.get(window="1m", proxy__isnull=True)
    assert bucket.requests == LogEntry.objects.count() == 12
    assert MetricBucket.objects.get(window="1h", proxy__isnull=True).requests == 12  # stop() folds


def test_folding_minutes_into_15m_and_1h_is_idempotent(user):
    proxy = ProxyFactory(owner=user)
    write_logs(
        *[LogRecordFactory(proxy=proxy, at=T0 + timedelta(minutes=m), usage=None) for m in (0, 5, 14, 15, 59)],
        LogRecordFactory(proxy=proxy, at=T0 + timedelta(minutes=61)),
        writer=rolled_writer(),
    )
    MetricBucket.objects.filter(window="1m", proxy__isnull=True, start=T0).update(cost_usd=Decimal("0.5"))

    fold_hour(T0)
    fold_hour(T0)

    quarters = {b.start.minute: b.requests for b in MetricBucket.objects.filter(window="15m", proxy__isnull=True)}
    assert quarters == {0: 3, 15: 1, 45: 1}
    hour = MetricBucket.objects.get(window="1h", proxy__isnull=True, start=T0)
    assert (hour.requests, hour.cost_usd) == (5, Decimal("0.5"))
    assert MetricBucket.objects.get(window="1h", proxy=proxy, start=T0).requests == 5
    assert not MetricBucket.objects.filter(window="1h", start=T0 + timedelta(hours=1)).exists()  # not dirty here


def test_retention_follows_the_site_settings_when_saved_else_settings(user, settings):
    from accounts.models import SiteSettings

    proxy = ProxyFactory(owner=user)
    now = timezone.now()
    write_logs(*[LogRecordFactory(proxy=proxy, at=now - timedelta(days=d)) for d in (10, 3, 0)], writer=rolled_writer())
    settings.RUBBERDUCK_LOG_RETENTION_DAYS = 7
    settings.RUBBERDUCK_METRICS_RETENTION_DAYS = {"1m": 5, "15m": 30, "1h": 365}
    SiteSettings.objects.filter(pk=1).delete()

    apply_retention()
    assert LogEntry.objects.count() == 2
    assert MetricBucket.objects.filter(window="1m", proxy__isnull=True).count() == 2

    SiteSettings.objects.create(pk=1, log_retention_days=1, metrics_retention_days={"1m": 1, "15m": 30, "1h": 365})
    apply_retention()
    assert LogEntry.objects.count() == 1
    assert MetricBucket.objects.filter(window="1m", proxy__isnull=True).count() == 1


def test_retention_runs_on_a_thread_of_its_own_nicer_than_the_writers(user, settings):
    """The writer's tick starts it; its deletes yield the core to the proxies' loops and the flushes (D112)."""
    import os
    import sqlite3

    from django.db import connection

    from accounts.models import SiteSettings
    from tests.conftest import wait_until
    from tests.test_serve import threads_nice

    if connection.vendor != "sqlite":
        pytest.skip("holds SQLite's write lock to catch the retention thread while it waits")
    SiteSettings.objects.filter(pk=1).delete()
    settings.RUBBERDUCK_LOG_RETENTION_DAYS = 7
    settings.RUBBERDUCK_RETENTION_SECONDS = 0  # due again at the next tick
    proxy = ProxyFactory(owner=user)
    rollup = Rollup()
    rollup.tick()  # the first: folds and samples too (the next fold is 5 s away)
    wait_until(lambda: not rollup._retention.is_alive(), timeout=10)
    write_logs(*[LogRecordFactory(proxy=proxy, at=timezone.now() - timedelta(days=d)) for d in (10, 9, 0)])
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the retention's delete waits for this lock
    try:
        rollup.tick()
        thread = rollup._retention
        nice = threads_nice(os.getpid())
        assert thread.is_alive() and thread.name == "rubberduck-retention"
        assert nice[thread.native_id] == min(19, nice[threading.get_native_id()] + settings.RUBBERDUCK_WEB_NICE)
        assert LogEntry.objects.count() == 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    wait_until(lambda: LogEntry.objects.count() == 1, timeout=10)
