"""The logs at scale, on small data: bounded totals, query plans that read through an index, purges and
retention in batches with the writer writing between them. (bench/scale.py measures the same at 10 M rows.)"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from logs.models import LogEntry
from tests.factories import LogRecordFactory, ProxyFactory, write_logs
from tests.logs.test_log_api import sqlite_steps

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def insert_rows(proxy_id: int, n: int, *, start: str = "2026-03-01 12:00:00", status: int = 200) -> None:
    """n entries one second apart from `start`, in one statement (SQLite), so a test can have thousands."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < {n - 1}) "
            "INSERT INTO logs_logentry (proxy_id, timestamp, ip, method, path, prompt_hash, status_code, latency_ms,"
            " cache, failure, model) SELECT %s, strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, '+' || x || ' seconds'),"
            " '10.0.0.1', 'POST', '/v1/chat/completions', '', %s, 5.0, 'miss', NULL, '' FROM n",
            [proxy_id, start, status],
        )


@pytest.fixture
def sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("writes rows with SQLite's recursive CTE and reads SQLite's plans")


def test_it_counts_exactly_up_to_ten_thousand_then_says_it_is_a_lower_bound(api, user, monkeypatch, sqlite_only):
    from logs import selectors

    monkeypatch.setattr(selectors, "COUNT_BUDGET", 60.0)  # the limit, not the time budget, on a busy machine
    proxy = ProxyFactory(owner=user)
    insert_rows(proxy.id, 10_000)
    page = api.get("/api/v1/logs/", {"page_size": 2}).json()
    assert (page["total"], page["total_is_lower_bound"], page["count"]) == (10_000, False, 10_000)

    insert_rows(proxy.id, 2, start="2026-03-02 12:00:00", status=500)
    first = api.get("/api/v1/logs/", {"page_size": 2}).json()
    assert (first["total"], first["total_is_lower_bound"], first["count"]) == (10_000, True, 10_000)
    second = api.get(first["next"]).json()  # the cursor carries the bound too
    assert (second["total"], second["total_is_lower_bound"]) == (10_000, True)
    filtered = api.get("/api/v1/logs/", {"status": "5xx"}).json()
    assert (filtered["total"], filtered["total_is_lower_bound"], len(filtered["results"])) == (2, False, 2)


def analyze(statistics: bool) -> None:
    """The planner's statistics: none, as the product leaves an SQLite database (D118), or a full ANALYZE."""
    if statistics:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def plan(query: tuple[str, tuple]) -> str:
    sql, params = query
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " / ".join(row[-1] for row in cursor.fetchall())


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"status": "5xx"},
        {"status": "429"},
        {"cache": "bypass"},
        {"failure": "timeout"},
        {"failure": "none"},
        {"ip": "10.9.9.9"},
        {"since": T0},
        {"status": "4xx", "ip": "10.9.9.9", "since": T0},
    ],
)
@pytest.mark.parametrize("statistics", [False, True], ids=["as served", "analyzed"])
def test_every_filter_pages_through_an_index_without_sorting_the_matches(user, filters, statistics, sqlite_only):
    """With no statistics, as the product leaves an SQLite database (D118), and after an ANALYZE."""
    from logs.raw import entry_columns
    from logs.selectors import matching, page_query

    proxies = [ProxyFactory(owner=user, name=f"p{i}") for i in range(3)]  # the owner-wide list merges proxies
    for i, proxy in enumerate(proxies):
        insert_rows(proxy.id, 3000, start=f"2026-03-0{i + 1} 00:00:00")
    analyze(statistics)
    for after in (None, (timezone.now(), 10**12)):
        text = plan(page_query(matching(owner=user, filters=filters, after=after), 51, entry_columns()))
        assert "TEMP B-TREE" not in text, text
        assert "USING INDEX" in text, text


@pytest.mark.parametrize(
    "filters, index",
    [
        ({"status": "5xx"}, "log_status_time"),
        ({"status": "429"}, "log_status_time"),
        ({"cache": "bypass"}, "log_cache_time"),
        ({"failure": "timeout", "since": T0}, "log_failure_time"),
        ({"ip": "10.9.9.9"}, "log_ip_time"),
        ({"cache": "bypass", "status": "5xx", "failure": "timeout", "since": T0}, "log_"),  # checked in one (D113)
        ({"ip": "10.9.9.9", "status": "5xx"}, "log_"),  # the address index carries the status too (D115)
        ({"ip": "10.9.9.9", "cache": "bypass", "failure": "timeout"}, "log_"),
    ],
)
@pytest.mark.parametrize("statistics", [False, True], ids=["as served", "analyzed"])
def test_a_count_of_a_filter_checks_the_owners_proxies_in_the_filters_index(
    user, filters, index, statistics, sqlite_only
):
    """The count reads the filter's index alone, never the table (D110): it visited the table for each entry to
    check its proxy, and ran out of its time budget at 10 M entries. With statistics or without (D118)."""
    from logs.selectors import count_query, matching

    proxies = [ProxyFactory(owner=user, name=f"p{i}") for i in range(3)]  # the owner-wide `proxy_id + 0 IN (…)`
    for i, proxy in enumerate(proxies):
        insert_rows(proxy.id, 2000, start=f"2026-03-0{i + 1} 00:00:00")
        insert_rows(proxy.id, 50, start=f"2026-03-0{i + 1} 12:00:00", status=502)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE logs_logentry SET cache = 'bypass', failure = 'timeout', ip = '10.9.9.9' WHERE status_code = 502"
        )
    analyze(statistics)
    text = plan(count_query(matching(owner=user, filters=filters, ordered=False)))
    assert f"USING COVERING INDEX {index}" in text, text


def test_a_purge_goes_in_batches_while_the_writer_keeps_writing(api, user, sqlite_only):
    from logs import services

    proxy = ProxyFactory(owner=user)
    old = 5 * services.PURGE_BATCH
    insert_rows(proxy.id, old, start="2026-01-01 00:00:00")
    answer = {}
    purge = threading.Thread(target=lambda: answer.update(r=api.delete("/api/v1/logs/?until=2026-02-01T00:00:00Z")))
    purge.start()
    seen_mid_purge = []  # how many old entries were left when a write of new ones committed
    written = 0
    while purge.is_alive():
        write_logs(LogRecordFactory(proxy=proxy, at=timezone.now()))
        written += 1
        left = LogEntry.objects.filter(timestamp__lt=datetime(2026, 2, 1, tzinfo=UTC)).count()
        if 0 < left < old:
            seen_mid_purge.append(left)
    purge.join()

    assert answer["r"].status_code == 200 and answer["r"].json() == {"deleted": old}
    assert seen_mid_purge, "no write committed between two of the purge's batches"
    assert LogEntry.objects.count() == written  # every new entry kept, every old one gone
    assert not LogEntry.objects.filter(timestamp__lt=datetime(2026, 2, 1, tzinfo=UTC)).exists()


def test_retention_deletes_a_slice_at_a_time_and_the_writer_writes_between_slices(user, settings, sqlite_only):
    from accounts.models import SiteSettings
    from metrics.retention import apply_retention

    SiteSettings.objects.filter(pk=1).delete()
    settings.RUBBERDUCK_LOG_RETENTION_DAYS = 7
    proxy = ProxyFactory(owner=user)
    expired_at = (timezone.now() - timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
    insert_rows(proxy.id, 4000, start=expired_at)
    write_logs(*[LogRecordFactory(proxy=proxy, at=timezone.now() - timedelta(days=6)) for _ in range(3)])

    slices, deleted = 0, 0
    while True:
        slices += 1
        done, finished = apply_retention(slice_seconds=0.02)
        deleted += done.get("logs", 0)
        write_logs(LogRecordFactory(proxy=proxy, at=timezone.now()))  # between two slices, as on the writer
        if finished:
            break
        assert slices < 10_000

    assert slices > 1  # a slice ends at its time: two batches and their pauses are past it
    assert deleted == 4000
    assert LogEntry.objects.count() == 3 + slices  # the kept ones and one per slice


def test_an_unfinished_retention_goes_on_from_the_id_its_last_slice_ended_at(user, settings, sqlite_only):
    """On PostgreSQL the deleted rows' index entries stay until a vacuum: a slice that started over walked them."""
    from accounts.models import SiteSettings
    from metrics.retention import RESUME, apply_retention

    SiteSettings.objects.filter(pk=1).delete()
    settings.RUBBERDUCK_LOG_RETENTION_DAYS = 7
    RESUME.clear()
    insert_rows(ProxyFactory(owner=user).id, 4000, start=(timezone.now() - timedelta(days=30)).strftime("%F %T"))

    done, finished = apply_retention(slice_seconds=0.02)
    assert not finished and done["logs"] > 0
    ids = list(LogEntry.objects.order_by("id").values_list("id", flat=True))
    assert ids[0] == RESUME["logs"] + 1  # gone up to where the next slice starts, nothing after it yet
    while not finished:
        _, finished = apply_retention(slice_seconds=0.02)
    assert LogEntry.objects.count() == 0 and RESUME == {}  # a finished one starts over next time


def test_a_retention_with_few_rows_expired_does_not_read_the_rest_of_the_table(user, settings, sqlite_only):
    """The last batch (fewer than 1,000 left) is not looked for in id order through every later row (D111): at
    10 M entries that read took 0.7 s, longer than a retention's slice, so a retention with nothing expired never
    finished and read the table again every half second on the log writer's thread."""
    from accounts.models import SiteSettings
    from metrics.retention import apply_retention

    SiteSettings.objects.filter(pk=1).delete()
    settings.RUBBERDUCK_LOG_RETENTION_DAYS = 7
    proxy = ProxyFactory(owner=user)

    def steps(kept: int) -> int:
        insert_rows(proxy.id, 10, start=(timezone.now() - timedelta(days=30)).strftime("%F %T"))
        insert_rows(proxy.id, kept, start=(timezone.now() - timedelta(days=1)).strftime("%F %T"))
        insert_rows(proxy.id, 10, start=(timezone.now() - timedelta(days=30)).strftime("%F %T"))  # after them
        taken = sqlite_steps(lambda: apply_retention(slice_seconds=None))
        assert not LogEntry.objects.filter(timestamp__lt=timezone.now() - timedelta(days=7)).exists()
        return taken

    small, large = steps(2_000), steps(20_000)  # then eleven times the rows kept
    assert LogEntry.objects.count() == 22_000
    assert large <= small * 2 + 20, (small, large)


def test_a_count_past_its_time_budget_settles_for_the_page_as_a_lower_bound(api, user, monkeypatch, sqlite_only):
    from logs import selectors

    proxy = ProxyFactory(owner=user)
    insert_rows(proxy.id, 10_000)
    monkeypatch.setattr(selectors, "COUNT_BUDGET", 0.0)  # every count interrupted at once

    page = api.get("/api/v1/logs/", {"page_size": 20}).json()

    # 21: the page's 20 and the one read to know there is a next page
    assert (page["total"], page["total_is_lower_bound"], len(page["results"])) == (21, True, 20)
    assert api.get(page["next"]).status_code == 200  # the connection is usable after the interrupted count


@pytest.mark.parametrize("proxies", [1, 2])
def test_a_deep_page_within_an_until_reads_no_more_than_the_first(user, proxies, sqlite_only):
    """The cursor's bound, not `until`, is where the index range starts: an export's last chunk, or a list's
    thousandth page, costs what its first does."""
    from logs.raw import page
    from logs.selectors import matching

    for i in range(proxies):
        insert_rows(ProxyFactory(owner=user, name=f"p{i}").id, 20_000 // proxies)
    filters = {"since": T0, "until": T0 + timedelta(days=1)}
    oldest = LogEntry.objects.order_by("timestamp", "id")[100]
    first = sqlite_steps(lambda: page(matching(owner=user, filters=filters), 51))
    deep = sqlite_steps(lambda: page(matching(owner=user, filters=filters, after=(oldest.timestamp, oldest.id)), 51))
    assert deep <= 2 * first, (first, deep)
