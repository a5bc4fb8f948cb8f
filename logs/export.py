"""Streamed exports: the rows go to the client a chunk at a time, each chunk a query of its own, never all in
memory and never all read before the first byte leaves.

An `Export` reads its entries in keyset chunks (each query starts after the last row of the one before, like
the list's next pages), so no database cursor stays open between two chunks: under ASGI each chunk is read
on the request's worker thread (`sync_to_async`) while the event loop sends the previous one, and a cursor
never crosses threads (D83). Under WSGI (and Django's test client) the same chunks are iterated in turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

import orjson
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from logs.csv_sql import csv_line
from logs.models import ENTRY_FIELDS
from logs.raw import datetime_of, entries_of, fetch
from logs.selectors import log_entries

CHUNK = 5000  # rows per query: large enough that a query's setup is small per row, small enough to stay light
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def csv_rows(qs: QuerySet) -> list[tuple]:
    """(id, timestamp, the entry's CSV line) of each entry of `qs` (D105)."""
    return fetch(qs.annotate(csv_line=RawSQL(csv_line(connection.vendor), ())), ("id", "timestamp", "csv_line"))


def csv_part(values: list[tuple], header: bool) -> bytes:
    lines = [",".join(ENTRY_FIELDS)] if header else []
    lines += [v[2] for v in values]
    return "".join(f"{line}\r\n" for line in lines).encode() if lines else b""


def json_part(values: list[tuple], first: bool) -> bytes:
    """Part of one JSON array: its opening bracket first, then entries separated by commas."""
    inner = orjson.dumps(entries_of(values))[1:-1]
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
        part = csv_part(values, header=first) if self.fmt == "csv" else json_part(values, first)
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
