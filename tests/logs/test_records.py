"""A log record travels to the writer as one flat tuple that the cyclic GC stops tracking."""

import gc
import time
from datetime import UTC, datetime

import pytest

from logs.records import Entry, rows_of
from logs.writer import batch_of
from providers.base import Usage
from proxies.records import LogRecord
from tests.factories import LogRecordFactory, ProxyFactory, write_logs


def every_field_set() -> LogRecord:
    return LogRecord(
        proxy_id=1, owner_id=2, timestamp=3.5, ip="::1", method="POST", path="/v1/messages", prompt_hash="ab",
        status_code=429, latency_ms=1.25, cache="miss", failure="rate_limit",
        usage=Usage(model="m-1", input_tokens=10, output_tokens=5, cache_read_tokens=3, cache_write_tokens=2),
        model="m", pricing_provider="acme", client_messages=4, upstream_messages=9,
    )  # fmt: skip


def test_a_queued_record_becomes_its_entry():
    assert rows_of(batch_of([every_field_set().frozen()], [7])) == [
        Entry(id=7, timestamp=3.5, proxy_id=1, ip="::1", method="POST", path="/v1/messages", prompt_hash="ab",
              status_code=429, latency_ms=1.25, cache="miss", failure="rate_limit", model="m-1", prompt_tokens=10,
              completion_tokens=5, cost_usd=None, client_messages=4, upstream_messages=9,
              owner_id=2)  # an unknown provider: no guess
    ]  # fmt: skip
    bare_record = LogRecord(proxy_id=1, owner_id=2, timestamp=0.0, ip="", method="GET", path="/").frozen()
    [bare] = rows_of(batch_of([bare_record], [1]))
    assert (bare.model, bare.prompt_tokens, bare.completion_tokens, bare.cache) == ("", None, None, "bypass")
    assert (bare.client_messages, bare.upstream_messages) == (None, None)


def test_a_batch_cuts_long_paths_and_models_to_their_columns_and_keeps_the_rest():
    long = LogRecord(proxy_id=1, owner_id=2, timestamp=0.0, ip="", method="GET", path="/" + "p" * 600,
                     usage=Usage(model="m" * 300)).frozen()  # fmt: skip
    short = every_field_set().frozen()
    batch = batch_of([long, short], [1, 2])
    assert [len(path) for path in batch.path] == [500, len("/v1/messages")]
    assert [len(model) for model in batch.model] == [200, len("m-1")]
    assert rows_of(batch)[1] == rows_of(batch_of([short], [2]))[0]


def test_a_queued_record_is_untracked_after_one_young_collection():
    queued = every_field_set().frozen()
    gc.collect(0)
    assert not gc.is_tracked(queued)


def test_timestamps_are_stored_as_django_itself_would_store_them(db):
    from django.db import connection

    from logs.writer import timestamp_column

    rounding = (1764000000.9999996, 1764000000.0000004, 1764000000.0000005, 1764000001.0000015, 1764000001.25)
    stamps = (0.0, 1764000000.123456, 1764000000.5, 1764000000, *rounding, *(1764000000 + i / 7 for i in range(50)))
    one_second = tuple(1764000003 + i / 7000 + 1e-4 for i in range(500))  # a batch within one second
    for column in (*((ts,) for ts in stamps), stamps, one_second, (*one_second, 1764000004.0), ()):
        expected = [connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(ts, tz=UTC)) for ts in column]
        assert list(timestamp_column(column)) == expected, column


@pytest.mark.django_db(transaction=True)
def test_a_batch_longer_than_one_insert_statement_lands_row_for_row(user):
    from logs.models import LogEntry
    from logs.writer import ROWS_PER_INSERT

    proxy = ProxyFactory(owner=user)
    n = 2 * ROWS_PER_INSERT + 7  # two full statements and a short one
    write_logs(
        *(
            LogRecordFactory(
                proxy=proxy, at=1764000000 + i, path=f"/v1/p{i}", latency_ms=float(i), status_code=200 + i % 3
            )
            for i in range(n)
        )
    )
    stored = LogEntry.objects.order_by("id").values_list("path", "latency_ms", "status_code", "timestamp")
    assert [(path, latency, status, ts.timestamp()) for path, latency, status, ts in stored] == [
        (f"/v1/p{i}", float(i), 200 + i % 3, 1764000000.0 + i) for i in range(n)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_batch_with_a_row_its_table_refuses_lands_nothing_and_stays_queued(user):
    from django.db import IntegrityError

    from logs.models import LogEntry
    from logs.writer import ROWS_PER_INSERT, LogWriter

    proxy = ProxyFactory(owner=user)
    writer = LogWriter()
    records = [LogRecordFactory(proxy=proxy, at=1764000000 + i, status_code=200) for i in range(2 * ROWS_PER_INSERT)]
    records[ROWS_PER_INSERT + 5] = LogRecordFactory(
        proxy=proxy, at=1764000000, status_code=-1
    )  # the column's CHECK (>= 0) refuses it
    for r in records:
        writer.enqueue(r)
    # SQLite's INSERT OR FAIL keeps a failing statement's earlier rows: the transaction must take them back
    with pytest.raises(IntegrityError):
        writer.flush()
    assert LogEntry.objects.count() == 0
    assert len(writer.queue) == len(records)


@pytest.mark.django_db(transaction=True)
def test_values_a_row_lacks_are_stored_as_null(user):
    from django.db import connection

    write_logs(LogRecordFactory(proxy=ProxyFactory(owner=user), at=1764000000, failure=None, usage=None))
    with connection.cursor() as cursor:
        cursor.execute("SELECT failure IS NULL, prompt_tokens IS NULL, cost_usd IS NULL FROM logs_logentry")
        assert cursor.fetchall() == [(True, True, True)]


@pytest.mark.django_db(transaction=True)
def test_the_proxy_time_index_stays_about_as_dense_as_when_built_at_once(user):
    from django.db import OperationalError, connection

    from logs.writer import LogWriter

    if connection.vendor != "sqlite":
        pytest.skip("reads SQLite's page statistics")
    proxies = [ProxyFactory(owner=user, name=f"p{i}") for i in range(2)]
    writer = LogWriter()
    for batch in range(8):  # batches of interleaved proxies, as the writer gets them
        write_logs(
            *(LogRecordFactory(proxy=proxies[i % 2], at=1764000000 + batch + i / 1000) for i in range(500)),
            writer=writer,
        )
    with connection.cursor() as cursor:
        try:
            cursor.execute("SELECT name, count(*) FROM dbstat WHERE name LIKE 'log%' GROUP BY name")
        except OperationalError:
            pytest.skip("this SQLite has no dbstat table")
        written = dict(cursor.fetchall())["log_proxy_time"]
        cursor.execute("REINDEX log_proxy_time")  # built from sorted entries: as dense as it gets
        cursor.execute("SELECT count(*) FROM dbstat WHERE name = 'log_proxy_time'")
        (built,) = cursor.fetchone()
    # a descending index took ~1.9x the append-only time index's pages: new rows split pages at each range's start
    assert written <= 1.4 * built, (written, built)


def test_an_entry_starts_with_the_tables_columns_in_order():
    from logs.models import ENTRY_COLUMNS

    # the writer sends Entry fields as the INSERT's parameters by position, the live stream reads them so too
    assert Entry._fields == (*ENTRY_COLUMNS, "owner_id")


@pytest.mark.django_db(transaction=True)
def test_the_writer_sleeps_its_interval_unless_a_batch_fills_up_or_it_is_stopped(user):
    from logs.models import LogEntry
    from logs.writer import LogWriter
    from tests.conftest import wait_until

    proxy = ProxyFactory(owner=user)
    writer = LogWriter(interval=3600, batch=3)  # an hour: only a full batch or stop() can wake it
    writer.start()
    for i in range(2):
        writer.enqueue(LogRecordFactory(proxy=proxy, at=1764000000 + i))
    assert writer.written == 0
    writer.enqueue(LogRecordFactory(proxy=proxy, at=1764000002))
    wait_until(lambda: writer.written == 3, timeout=10)
    writer.enqueue(LogRecordFactory(proxy=proxy, at=1764000003))
    started = time.monotonic()
    writer.stop()
    assert time.monotonic() - started < 10
    assert LogEntry.objects.count() == 4
