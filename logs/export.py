"""Streamed exports: the rows go to the client a chunk at a time, each chunk a query of its own, never all in
memory and never all read before the first byte leaves.

An `Export` reads its entries in keyset chunks (each query starts after the last row of the one before, like
the list's next pages), so no database cursor stays open between two chunks: under ASGI each chunk is read
on the request's worker thread (`sync_to_async`) while the event loop sends the previous one, and a cursor
never crosses threads (D83). Under WSGI (and Django's test client) the same chunks are iterated in turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from logs.csv_sql import csv_line
from logs.models import ENTRY_COLUMNS
from logs.selectors import ENTRY_FIELDS, iso, log_entries

CHUNK = 5000  # rows per query: large enough that a query's setup is small per row, small enough to stay light
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


COLUMNS = ENTRY_COLUMNS
COST = COLUMNS.index("cost_usd")


def iso_of(value) -> str:
    """A timestamp as read raw: SQLite's text ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC) rewritten without parsing it,
    PostgreSQL's aware datetime formatted."""
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:19]}{value[19:26] or '.000000'}Z"
    return iso(datetime_of(value))


def datetime_of(value) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rows_of(values: list[tuple]) -> list[tuple]:
    """Rows as the export writes them: in ENTRY_FIELDS order, the time in ISO 8601 UTC, the cost a float
    (rounded to the column's 8 places, as the model field reads it)."""
    return [
        (v[0], iso_of(v[1]), *v[2:COST], None if v[COST] is None else round(float(v[COST]), 8), *v[COST + 1 :])
        for v in values
    ]


def fetch(qs: QuerySet, columns: tuple[str, ...] = COLUMNS) -> list[tuple]:
    """The `columns` of `qs` as the database gives them: Django's per-value converters (a parsed datetime made
    aware, a Decimal quantized) were most of an export's time on SQLite, where the timestamp is read as its text
    (D86)."""
    if connection.vendor == "sqlite" and "timestamp" in columns:
        qs = qs.annotate(timestamp_text=Cast("timestamp", TextField()))
        columns = tuple("timestamp_text" if c == "timestamp" else c for c in columns)
    qs = qs.values_list(*columns)
    try:
        sql, params = qs.query.sql_with_params()
    except EmptyResultSet:  # qs.none(): an owner without proxies
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def csv_rows(qs: QuerySet) -> list[tuple]:
    """(id, timestamp, the entry's CSV line) of each entry of `qs` (D105)."""
    return fetch(qs.annotate(csv_line=RawSQL(csv_line(connection.vendor), ())), ("id", "timestamp", "csv_line"))


def csv_part(values: list[tuple], header: bool) -> bytes:
    lines = [",".join(ENTRY_FIELDS)] if header else []
    lines += [v[2] for v in values]
    return "".join(f"{line}\r\n" for line in lines).encode() if lines else b""


def json_part(rows: list[tuple], first: bool) -> bytes:
    """Part of one JSON array: its opening bracket first, then entries separated by commas."""
    inner = orjson.dumps([dict(zip(ENTRY_FIELDS, row, strict=True)) for row in rows])[1:-1]
    return (b"[" if first else b",\n") + inner if inner else (b"[" if first else b"")


class Export:
    """One export's state: which format, where the next chunk starts, whether the file has begun or ended."""

    def __init__(self, owner, filters: dict, fmt: str):
        self.owner, self.filters, self.fmt = owner, filters, fmt
        self.after: tuple | None = None  # (timestamp, id) of the last row sent
        self.started = False
        self.done = False

    def next_part(self) -> bytes | None:
        """The next chunk of the file (reads one chunk of rows), or None once it is all out."""
        if self.done:
            return None
        page = log_entries(owner=self.owner, filters=self.filters, after=self.after)[:CHUNK]
        values = csv_rows(page) if self.fmt == "csv" else fetch(page)
        first, self.started = not self.started, True
        if values:
            self.after = (datetime_of(values[-1][1]), values[-1][0])
        part = csv_part(values, header=first) if self.fmt == "csv" else json_part(rows_of(values), first)
        if len(values) < CHUNK:
            self.done = True
            if self.fmt == "json":
                part += b"]\n"
        return part

    def __iter__(self) -> Iterator[bytes]:
        while (part := self.next_part()) is not None:
            yield part


FORMATS = ("csv", "json")


def filename(filters: dict, fmt: str) -> str:
    """rubberduck-logs_<since>_<until>.<fmt>; an open end reads `start` / the moment of the export."""

    def stamp(value):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    since = stamp(filters["since"]) if "since" in filters else "start"
    until = stamp(filters["until"]) if "until" in filters else stamp(timezone.now())
    proxy = f"_proxy{filters['proxy']}" if "proxy" in filters else ""
    return f"rubberduck-logs{proxy}_{since}_{until}.{fmt}"
