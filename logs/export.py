"""Streamed exports: rows go from a server-side iterator to the client a chunk at a time, never all in memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC

import orjson
from django.db.models import QuerySet
from django.utils import timezone

from logs.selectors import ENTRY_FIELDS, entry_of

CHUNK = 2000
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def entries(qs: QuerySet) -> Iterator[dict]:
    # .iterator() streams from the cursor (server-side on PostgreSQL) instead of caching the queryset.
    for entry in qs.iterator(chunk_size=CHUNK):
        yield entry_of(entry)


def as_csv(qs: QuerySet) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ENTRY_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for n, entry in enumerate(entries(qs), 1):
        writer.writerow(entry)
        if n % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def as_json(qs: QuerySet) -> Iterator[bytes]:
    """One JSON array, written element by element."""
    yield b"["
    parts: list[bytes] = []
    first = True
    for entry in entries(qs):
        parts.append(orjson.dumps(entry) if first else b"," + orjson.dumps(entry))
        first = False
        if len(parts) >= 500:
            yield b"\n".join(parts)
            parts = []
    parts.append(b"]\n")
    yield b"\n".join(parts)


FORMATS = {"csv": as_csv, "json": as_json}


def filename(filters: dict, fmt: str) -> str:
    """rubberduck-logs_<since>_<until>.<fmt>; an open end reads `start` / the moment of the export."""

    def stamp(value):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    since = stamp(filters["since"]) if "since" in filters else "start"
    until = stamp(filters["until"]) if "until" in filters else stamp(timezone.now())
    proxy = f"_proxy{filters['proxy']}" if "proxy" in filters else ""
    return f"rubberduck-logs{proxy}_{since}_{until}.{fmt}"
