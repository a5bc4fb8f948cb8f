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
from django.db import connection
from django.utils import timezone

from logs.csv_sql import csv_line
from logs.models import ENTRY_FIELDS
from logs.raw import datetime_of, entries_of, page
from logs.selectors import Matching, matching

CHUNK = 5000  # rows per query: large enough that a query's setup is small per row, small enough to stay light
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def csv_lines(found: Matching | None, size: int) -> list[str]:
    """The CSV line of each of the first `size` entries of `found` (D105), and nothing else: the keyset's (time,
    id) of a chunk's last entry is read back from its line, since PostgreSQL's driver parsed every row's time in
    Python, most of an export's CPU there (D116)."""
    return [v[0] for v in page(found, size, csv_line(connection.vendor))]


def key_of_line(line: str) -> tuple[datetime, int]:
    """(timestamp, id) of an entry from its CSV line, which starts with its id and its ISO 8601 time."""
    entry_id, timestamp, _ = line.split(",", 2)
    return datetime.fromisoformat(timestamp), int(entry_id)


def csv_part(lines: list[str], header: bool) -> bytes:
    lines = [",".join(ENTRY_FIELDS), *lines] if header else lines
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
        found = matching(owner=self.owner, filters=self.filters, after=self.after)
        first, self.started = not self.started, True
        if self.fmt == "csv":
            values = csv_lines(found, CHUNK)
            part = csv_part(values, header=first)
            last = key_of_line(values[-1]) if values else None
        else:
            values = page(found, CHUNK)
            part = json_part(values, first)
            last = (datetime_of(values[-1][1]), values[-1][0]) if values else None
        self.after = last or self.after
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
