"""The export's CSV lines as SQLite and PostgreSQL write them (logs/csv_sql.py): the same text on both, and the
text Python's csv module writes for the same fields."""

import csv
import io
import os
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from logs.csv_sql import csv_line
from logs.models import ENTRY_COLUMNS, LogEntry
from tests.factories import ProxyFactory
from tests.proxies.test_scale_out import manage, postgres_url  # noqa: F401 (postgres_url: a fixture)

TRICKY = dict(path='/v1/x?q="a,b"\r\nnext\rend', model='gpt, "4o"', failure=None, prompt_tokens=None, cost_usd=None)
PLAIN = dict(path="/v1/models", model="", failure="timeout", prompt_tokens=11, cost_usd=Decimal("0.0000018"))
# (values, the CSV line expected): no fraction, a fraction, NULLs, decimals without trailing zeros, quoting.
ROWS = [
    (
        dict(TRICKY, timestamp=datetime(2026, 3, 1, 12, tzinfo=UTC), latency_ms=12.0, status_code=200),
        '{id},2026-03-01T12:00:00.000000Z,{proxy},::1,POST,"/v1/x?q=""a,b""\r\nnext\rend",,200,12,hit,,'
        '"gpt, ""4o""",,7,,,',
    ),
    (
        dict(PLAIN, timestamp=datetime(2026, 3, 1, 12, 0, 0, 500, tzinfo=UTC), latency_ms=0.125, status_code=504),
        "{id},2026-03-01T12:00:00.000500Z,{proxy},::1,POST,/v1/models,,504,0.125,hit,timeout,,11,7,0.0000018,,",
    ),
    (
        dict(
            PLAIN,
            timestamp=datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
            latency_ms=1234.5,
            status_code=429,
            cost_usd=Decimal("1.5"),
        ),  # fmt: skip
        "{id},2026-03-01T23:59:59.999999Z,{proxy},::1,POST,/v1/models,,429,1234.5,hit,timeout,,11,7,1.5,,",
    ),
    (
        dict(PLAIN, timestamp=datetime(2026, 3, 2, tzinfo=UTC), latency_ms=0.0, status_code=200, cost_usd=Decimal(0)),
        "{id},2026-03-02T00:00:00.000000Z,{proxy},::1,POST,/v1/models,,200,0,hit,timeout,,11,7,0,,",
    ),
]
COMMON = dict(ip="::1", method="POST", prompt_hash="", cache="hit", completion_tokens=7)


def expected_lines(entries) -> list[str]:
    return [line.format(id=e.id, proxy=e.proxy_id) for e, (_, line) in zip(entries, ROWS, strict=True)]


def test_the_columns_written_unquoted_can_hold_nothing_that_would_need_quotes():
    from logs.csv_sql import PLAIN_TEXT, TEXT
    from proxies.cache_key import cache_key

    texts = {c for c in ENTRY_COLUMNS if LogEntry._meta.get_field(c).get_internal_type() == "CharField"}
    assert TEXT | PLAIN_TEXT == texts and not TEXT & PLAIN_TEXT  # a new text column is placed in one of them
    for value in [*LogEntry.Cache.values, *LogEntry.Failure.values]:
        assert not set(value) & set(',"\r\n'), value
    prompt_hash = cache_key("POST", '/v1/x,"y"', [("q", "a,b")], [], b'{"a": "\r\n"}')
    assert set(prompt_hash) <= set("0123456789abcdef")


def test_every_line_is_what_the_csv_module_writes_for_its_fields():
    for _, line in ROWS:
        [fields] = csv.reader(io.StringIO(line, newline=""))
        written = io.StringIO()
        csv.writer(written, lineterminator="").writerow(fields)
        assert written.getvalue() == line and len(fields) == len(ENTRY_COLUMNS)


@pytest.mark.django_db
def test_sqlite_writes_the_lines():
    proxy = ProxyFactory()
    entries = [LogEntry.objects.create(proxy=proxy, **COMMON, **values) for values, _ in ROWS]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {csv_line('sqlite')} FROM logs_logentry ORDER BY id")
        assert [line for (line,) in cursor.fetchall()] == expected_lines(entries)


@pytest.mark.django_db
def test_postgresql_writes_the_same_lines(postgres_url, tmp_path):  # noqa: F811
    manage({**os.environ, "DATABASE_URL": postgres_url, "RUBBERDUCK_DATA_DIR": str(tmp_path)}, "migrate")
    columns = [c for c in ENTRY_COLUMNS if c != "id"]
    with psycopg.connect(postgres_url.replace("postgres://", "postgresql://")) as db:
        db.execute("SET session_replication_role = replica")  # no proxy row behind proxy_id: its FK not checked
        db.execute("SET TIME ZONE 'Asia/Kolkata'")  # the session's zone must not show
        entries = []
        for values, _ in ROWS:
            row = {"proxy_id": 1, **COMMON, **values}
            (entry_id,) = db.execute(
                f"INSERT INTO logs_logentry ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                "RETURNING id",
                [row.get(c) for c in columns],
            ).fetchone()
            entries.append(LogEntry(id=entry_id, proxy_id=1))
        lines = [line for (line,) in db.execute(f"SELECT {csv_line('postgresql')} FROM logs_logentry ORDER BY id")]
    assert lines == expected_lines(entries)
