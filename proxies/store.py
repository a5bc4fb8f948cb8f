"""Synchronous ORM work of the data plane, always run off the event loop (in the runner's db executor)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from providers.base import Usage
from proxies.cache import Cached
from proxies.models import CacheEntry


def known_keys(proxy_id: int) -> set[str]:
    return set(CacheEntry.objects.filter(proxy_id=proxy_id).values_list("key", flat=True))


def load_entry(proxy_id: int, key: str) -> Cached | None:
    close_old_connections()
    row = CacheEntry.objects.filter(proxy_id=proxy_id, key=key).first()
    if row is None:
        return None
    return Cached(
        status=row.status,
        headers=tuple(tuple(h) for h in row.headers),
        body=bytes(row.body),
        chunks=tuple(tuple(c) for c in row.chunks) if row.chunks is not None else None,
        usage=Usage.from_dict(row.usage),
    )


def save_entries(proxy_id: int, entries: dict[str, Cached]) -> None:
    """Upserts a batch of entries of one proxy in one transaction, with a plain executemany. bulk_create built
    model instances and compiled its SQL for every batch (~0.45 ms a batch, ~0.13 ms an entry; batches are
    small under load) on a thread that shares the GIL and the core with the proxies: misses at C=64 went
    from ~800 to ~1,000 per second when this replaced it (docs/performance.md)."""
    close_old_connections()
    created_at = connection.ops.adapt_datetimefield_value(timezone.now())
    json_or_null = json_adapter()
    rows = [
        (proxy_id, key, entry.status, json_or_null(entry.headers), entry.body, json_or_null(entry.chunks),
         json_or_null(entry.usage.as_dict() if entry.usage else None), len(entry.body), 0, created_at)
        for key, entry in entries.items()
    ]  # fmt: skip
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(UPSERT, rows)
    except IntegrityError:  # the proxy was deleted meanwhile
        pass


def json_adapter() -> Callable[[object], object]:
    """A JSON column's value as this connection's database takes it (None stays NULL). On SQLite, JSON is text:
    orjson writes it in ~0.3 µs where Django's adapter (json.dumps with its encoder class) took ~3 µs, and an
    entry has three such columns."""
    if connection.vendor == "sqlite":
        return lambda value: None if value is None else orjson.dumps(value).decode()
    adapt = connection.ops.adapt_json_value
    return lambda value: None if value is None else adapt(value, None)


def _statements() -> tuple[str, str]:
    """The upsert (INSERT … ON CONFLICT (proxy, key) DO UPDATE, the same text on SQLite 3.24+ and PostgreSQL;
    a stored entry keeps its hit count and creation time) and the hit-count update, built once."""
    quote = connection.ops.quote_name
    column = {f.name: quote(f.column) for f in CacheEntry._meta.concrete_fields}
    table = quote(CacheEntry._meta.db_table)
    inserted = ["proxy", "key", "status", "headers", "body", "chunks", "usage", "size", "hits", "created_at"]
    updated = ["status", "headers", "body", "chunks", "usage", "size"]
    upsert = (
        f"INSERT INTO {table} ({', '.join(column[f] for f in inserted)}) "
        f"VALUES ({', '.join(['%s'] * len(inserted))}) "
        f"ON CONFLICT ({column['proxy']}, {column['key']}) DO UPDATE SET "
        + ", ".join(f"{column[f]} = excluded.{column[f]}" for f in updated)
    )
    hits, proxy, key = column["hits"], column["proxy"], column["key"]
    add_hits = f"UPDATE {table} SET {hits} = {hits} + %s WHERE {proxy} = %s AND {key} = %s"
    return upsert, add_hits


UPSERT, ADD_HITS = _statements()


def add_hits(proxy_id: int, hits: dict[str, int]) -> None:
    """Adds a second's hit counts, one statement for all keys (an ORM update per key cost ~0.3 ms each)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(ADD_HITS, [(n, proxy_id, key) for key, n in hits.items()])
