"""Streamed exports: rows go from a server-side iterator to the client a chunk at a time, never all in memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC

import orjson
from django.db.models import QuerySet
from django.utils import timezone

from logs.models import ENTRY_COLUMNS
from logs.selectors import ENTRY_FIELDS, iso

CHUNK = 2000
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


COLUMNS = ENTRY_COLUMNS
COST = COLUMNS.index("cost_usd")


def rows(qs: QuerySet) -> Iterator[tuple]:
    """Entries as tuples in ENTRY_FIELDS order. `.iterator()` streams from the cursor (server-side on
    PostgreSQL) instead of caching the queryset; tuples, not model instances: an export can be millions."""
    for values in qs.values_list(*COLUMNS).iterator(chunk_size=CHUNK):
        cost = values[COST]
        yield (values[0], iso(values[1]), *values[2:COST], None if cost is None else float(cost), *values[COST + 1 :])


def as_csv(qs: QuerySet) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ENTRY_FIELDS)
    for n, row in enumerate(rows(qs), 1):
        writer.writerow(row)
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
    for row in rows(qs):
        entry = dict(zip(ENTRY_FIELDS, row, strict=True))
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
