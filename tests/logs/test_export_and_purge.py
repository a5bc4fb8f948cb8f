"""GET /api/v1/logs/export (streamed CSV/JSON) and DELETE /api/v1/logs/ (purge)."""

import csv
import io
import json
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from logs.models import LogEntry
from tests.factories import LogRecordFactory, ProxyFactory, write_logs

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_it_exports_csv_quoted_by_the_csv_module_with_utc_times_and_the_range_in_the_filename(api, user):
    proxy = ProxyFactory(owner=user)
    write_logs(
        LogRecordFactory(proxy=proxy, at=T0, path='/v1/chat/completions?q="a,b"\nnext', ip="::1"),
        LogRecordFactory(proxy=proxy, at=T0 + timedelta(hours=2)),
    )

    response = api.get("/api/v1/logs/export", {"format": "csv", "since": "2026-03-01T13:00:00+01:00",
                                               "until": "2026-03-01T13:00:00Z"})  # fmt: skip

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="rubberduck-logs_20260301T120000Z_20260301T130000Z.csv"'
    )
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    assert rows[0]["path"] == '/v1/chat/completions?q="a,b"\nnext'
    assert rows[0]["timestamp"] == "2026-03-01T12:00:00.000000Z"
    assert rows[0]["ip"] == "::1" and rows[0]["cost_usd"] == ""


def test_it_exports_json_as_one_array_of_entries_of_the_user_only(api, user, other_user):
    mine, theirs = ProxyFactory(owner=user), ProxyFactory(owner=other_user)
    write_logs(
        *[LogRecordFactory(proxy=mine, at=T0 + timedelta(seconds=i)) for i in range(3)],
        LogRecordFactory(proxy=theirs, at=T0),
    )

    response = api.get("/api/v1/logs/export", {"format": "json"})

    entries = json.loads(b"".join(response.streaming_content))
    assert [e["proxy"] for e in entries] == [mine.id] * 3
    assert entries[0]["timestamp"] == "2026-03-01T12:00:02.000000Z"
    assert response["Content-Disposition"].startswith('attachment; filename="rubberduck-logs_start_')


def test_an_export_of_200k_rows_streams_in_bounded_memory(api, user):
    proxy = ProxyFactory(owner=user)
    with connection.cursor() as cursor:  # 200k rows in one statement (SQLite), so the test stays quick
        cursor.execute(
            "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 199999) "
            "INSERT INTO logs_logentry (proxy_id, timestamp, ip, method, path, prompt_hash, status_code, latency_ms,"
            " cache, failure, model, prompt_tokens, completion_tokens, cost_usd) "
            "SELECT %s, datetime('2026-03-01 12:00:00', '+' || x || ' seconds'), '127.0.0.1', 'POST',"
            " '/v1/chat/completions', printf('%%064x', x), 200, 12.5, 'miss', NULL, 'gpt-4o-mini', 11, 7, 0.00001 FROM n",
            [proxy.id],
        )
    assert LogEntry.objects.count() == 200_000
    connection.close()

    tracemalloc.start()
    started = time.perf_counter()
    response = api.get("/api/v1/logs/export", {"format": "csv"})
    lines = sum(chunk.count(b"\r\n") for chunk in response.streaming_content)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"200k-row CSV export: peak traced memory {peak / 1e6:.1f} MB in {elapsed:.1f} s")
    assert lines == 200_001
    # 200k model instances alone would be >100 MB; streaming keeps a chunk (2,000 rows) at a time.
    assert peak < 25e6


def test_a_purge_deletes_the_range_and_says_how_many(api, user):
    proxy = ProxyFactory(owner=user)
    write_logs(*[LogRecordFactory(proxy=proxy, at=T0 + timedelta(minutes=i)) for i in range(5)])

    response = api.delete("/api/v1/logs/?since=2026-03-01T12:01:00Z&until=2026-03-01T12:04:00Z")

    assert response.status_code == 200 and response.json() == {"deleted": 3}
    assert sorted(e.timestamp.minute for e in LogEntry.objects.all()) == [0, 4]


def test_a_purge_needs_since_or_until(api, user):
    write_logs(LogRecordFactory(proxy=ProxyFactory(owner=user), at=T0))
    response = api.delete("/api/v1/logs/")
    assert response.status_code == 400
    assert api.delete(f"/api/v1/logs/?proxy={LogEntry.objects.get().proxy_id}").status_code == 400
    assert LogEntry.objects.count() == 1


def test_a_purge_never_touches_another_users_logs(api, user, other_user):
    mine, theirs = ProxyFactory(owner=user), ProxyFactory(owner=other_user)
    write_logs(
        LogRecordFactory(proxy=mine, at=T0),
        LogRecordFactory(proxy=theirs, at=T0),
        LogRecordFactory(proxy=theirs, at=T0 + timedelta(days=1)),
    )

    assert api.delete("/api/v1/logs/?since=2000-01-01T00:00:00Z").json() == {"deleted": 1}
    assert api.delete(f"/api/v1/logs/?until=2100-01-01T00:00:00Z&proxy={theirs.id}").json() == {"deleted": 0}
    assert LogEntry.objects.filter(proxy=theirs).count() == 2
