"""Synchronous ORM work of the data plane, always run off the event loop (in the runner's db executor)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from providers.base import Usage
from proxies.cache import Cached
from proxies.models import CacheEntry
from proxies.recordings import safe_path


class ProxyStore:
    """One proxy's stored answers (CacheEntry rows); its methods run on the db executor, never on a loop.

    The table has no index on the key: sha256 keys would scatter every insert over its pages (D19). So a proxy
    loads its keys' row ids at start (`ids`: cache key -> row id) and reads and updates rows by id. `ids` is
    written on the db thread only; the proxy's loop reads it, and clearing the cache empties it.
    """

    def __init__(self, proxy_id: int, ids: dict[str, int]):
        self.proxy_id = proxy_id
        self.ids = ids
        self.last = max(ids.values(), default=0)  # new rows of this proxy have higher ids: read back after a batch

    @classmethod
    def load(cls, proxy_id: int) -> ProxyStore:
        """The proxy's rows as stored; should a key have two (written by two runners), the later one counts."""
        rows = CacheEntry.objects.filter(proxy_id=proxy_id).order_by("id").values_list("key", "id")
        return cls(proxy_id, dict(rows.iterator(chunk_size=10_000)))

    def reload(self) -> set[str]:
        """Reads the proxy's keys again (the API deleted or imported entries); returns the keys whose row changed,
        went or came."""
        close_old_connections()
        fresh = ProxyStore.load(self.proxy_id).ids
        old = self.ids
        changed = {key for key, row_id in old.items() if fresh.get(key) != row_id}
        changed |= fresh.keys() - old.keys()
        old.clear()
        old.update(fresh)  # the same dict: the proxy's loop reads it
        self.last = max(self.last, max(fresh.values(), default=0))
        return changed

    def forget(self, key: str, row_id: int) -> None:
        if self.ids.get(key) == row_id:
            del self.ids[key]

    def entry(self, key: str, row_id: int) -> Cached | None:
        close_old_connections()
        row = CacheEntry.objects.filter(id=row_id).first()
        if row is None:  # deleted meanwhile (the cache was cleared)
            self.forget(key, row_id)
            return None
        return Cached(
            status=row.status,
            headers=tuple(tuple(h) for h in row.headers),
            body=bytes(row.body),
            chunks=tuple(tuple(c) for c in row.chunks) if row.chunks is not None else None,
            usage=Usage.from_dict(row.usage),
        )

    def save(self, entries: dict[str, Cached]) -> None:
        """Writes a batch of entries in one transaction: new keys as new rows, whose ids it then reads back, a key
        stored already in place (keeping its hit count; recorded now). Plain executemany: bulk_create builds
        model instances and compiles its SQL for every batch, on a thread that shares the GIL with the proxies
        (D18)."""
        close_old_connections()
        created_at = connection.ops.adapt_datetimefield_value(timezone.now())
        json_or_null = json_adapter()
        inserts, updates = [], []
        for key, entry in entries.items():
            method, path, query, model, stream = entry.details or ("", "", "", "", entry.chunks is not None)
            answer = (entry.status, json_or_null(entry.headers), entry.body, json_or_null(entry.chunks),
                      json_or_null(entry.usage.as_dict() if entry.usage else None), len(entry.body), created_at,
                      method, safe_path(path, query), model or "", stream)  # fmt: skip
            row_id = self.ids.get(key)
            if row_id is None:
                inserts.append((self.proxy_id, key, *answer, 0))
            else:
                updates.append((*answer, row_id))
        new = []
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                if updates:
                    cursor.executemany(UPDATE, updates)
                if inserts:
                    cursor.executemany(INSERT, inserts)
                    cursor.execute(NEW_ROWS, (self.proxy_id, self.last))
                    new = cursor.fetchall()
        except IntegrityError:  # the proxy was deleted meanwhile
            return
        for row_id, key in new:
            self.ids[key] = row_id
            self.last = row_id

    def clear(self) -> set[str]:
        """Deletes the proxy's rows: those the API deleted, and any a batch in flight wrote after it; returns the
        keys of the rows it deleted."""
        close_old_connections()
        with transaction.atomic():
            rows = CacheEntry.objects.filter(proxy_id=self.proxy_id)
            keys = set(rows.values_list("key", flat=True))
            if keys:
                rows.delete()
        self.ids.clear()
        return keys

    def add_hits(self, hits: dict[str, int]) -> None:
        """Adds a second's hit counts, one statement for all keys (D18), and when they were last hit. Hits of an
        answer not stored yet are not counted."""
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        counts = [(n, now, row_id) for key, n in hits.items() if (row_id := self.ids.get(key)) is not None]
        if counts:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(ADD_HITS, counts)


def json_adapter() -> Callable[[object], object]:
    """A JSON column's value as this connection's database takes it (None stays NULL). On SQLite, JSON is text,
    written with orjson (D20)."""
    if connection.vendor == "sqlite":
        return lambda value: None if value is None else orjson.dumps(value).decode()
    adapt = connection.ops.adapt_json_value
    return lambda value: None if value is None else adapt(value, None)


def _statements() -> tuple[str, str, str, str]:
    """The SQL of the db thread's writes, built once: insert, update in place, read back a proxy's new rows, add
    hits. The same text on SQLite and PostgreSQL."""
    quote = connection.ops.quote_name
    column = {f.name: quote(f.column) for f in CacheEntry._meta.concrete_fields}
    table = quote(CacheEntry._meta.db_table)
    updated = [
        "status",
        "headers",
        "body",
        "chunks",
        "usage",
        "size",
        "created_at",
        "method",
        "path",
        "model",
        "stream",
    ]
    inserted = ["proxy", "key", *updated, "hits"]
    row_id, proxy, key, hits = column["id"], column["proxy"], column["key"], column["hits"]
    columns, values = ", ".join(column[f] for f in inserted), ", ".join(["%s"] * len(inserted))
    insert = f"INSERT INTO {table} ({columns}) VALUES ({values})"
    update = f"UPDATE {table} SET {', '.join(f'{column[f]} = %s' for f in updated)} WHERE {row_id} = %s"
    new_rows = f"SELECT {row_id}, {key} FROM {table} WHERE {proxy} = %s AND {row_id} > %s ORDER BY {row_id}"
    last_hit_at = column["last_hit_at"]
    add_hits = f"UPDATE {table} SET {hits} = {hits} + %s, {last_hit_at} = %s WHERE {row_id} = %s"
    return insert, update, new_rows, add_hits


INSERT, UPDATE, NEW_ROWS, ADD_HITS = _statements()
