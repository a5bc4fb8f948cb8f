"""Synchronous ORM work of the data plane, always run off the event loop (in the runner's db executor)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import orjson
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from providers.base import Usage
from proxies.cache import Cached
from proxies.key_filter import KeyFilter, key_hash, words_for
from proxies.models import CacheEntry
from proxies.recordings import safe_path

# Hashes read per db job while the key filter is built: other jobs (cache reads, stores) run between them.
FILTER_CHUNK = 50_000
IN_LIST = 500  # keys per `IN (...)` when a batch looks up which of its keys are stored already


class ProxyStore:
    """One proxy's stored answers (CacheEntry rows); its methods run on the db executor, never on a loop.

    A row is found by `key_hash` (8 bytes of its sha256 key, indexed with its proxy) and then its whole key; the
    sha256 text itself is not indexed, as its 64 random bytes would scatter every insert over the index (D19,
    D92). Nothing per key is held in memory but the fixed-size filter (proxies/key_filter.py), which the loops
    ask first (`may_hold`) so that a key never stored costs no trip here; it is built from the index in chunks
    after the proxy has started, and until then every key may be stored (D93, D94).
    """

    def __init__(self, proxy_id: int):
        self.proxy_id = proxy_id
        self.filter: KeyFilter | None = None  # None until built: any key may be stored
        self.building: list[int] | None = None  # hashes stored while a filter is built, added to it at the end
        self.generation = 0  # of the rows: a clear begins the next, and a filter built from an older one is dropped
        self.built = threading.Event()  # set once a filter answers (the bench and tests wait for it)

    def may_hold(self, key: str) -> bool:
        """On a proxy's loop: False only for a key surely not stored (as far as this process has seen)."""
        f = self.filter
        return f is None or f.may_hold(key_hash(key))

    # the key filter, built and rebuilt in db jobs

    def build_filter(self, submit: Callable) -> None:
        """Starts building the filter: the rows are counted, then their hashes read FILTER_CHUNK at a time, each
        chunk one job given to `submit` (the db executor's), the next submitted by the last. Hashes stored
        meanwhile are kept aside for it."""
        self.building = []
        submit(self._count_then_read, submit, self.generation)

    def _count_then_read(self, submit: Callable, generation: int) -> None:
        if generation != self.generation:
            return
        close_old_connections()
        with connection.cursor() as cursor:
            cursor.execute(COUNT, (self.proxy_id,))
            rows = cursor.fetchone()[0]
        self._read_chunk(submit, generation, KeyFilter(words_for(rows + rows // 2)), None)

    def _read_chunk(self, submit: Callable, generation: int, new: KeyFilter, after: int | None) -> None:
        if generation != self.generation:
            return
        close_old_connections()
        with connection.cursor() as cursor:
            if after is None:
                cursor.execute(FIRST_HASHES, (self.proxy_id, FILTER_CHUNK))
            else:
                cursor.execute(NEXT_HASHES, (self.proxy_id, after, FILTER_CHUNK))
            hashes = [h for (h,) in cursor.fetchall()]
        new.add_many(hashes)
        if len(hashes) == FILTER_CHUNK:
            submit(self._read_chunk, submit, generation, new, hashes[-1])
            return
        new.add_many(self.building or ())
        self.building = None
        self.filter = new
        self.built.set()

    def _grow_if_full(self, submit: Callable | None) -> None:
        if submit is not None and self.building is None and self.filter is not None and self.filter.full:
            self.build_filter(submit)

    # rows

    def entry(self, key: str) -> Cached | None:
        """The stored answer of `key`, or None (never stored, or the filter's false positive)."""
        close_old_connections()
        with connection.cursor() as cursor:
            cursor.execute(ENTRY, (self.proxy_id, key_hash(key), key))
            row = cursor.fetchone()
        if row is None:
            return None
        status, headers, body, chunks, usage = row
        headers, chunks, usage = json_value(headers), json_value(chunks), json_value(usage)
        return Cached(
            status=status,
            headers=tuple(tuple(h) for h in headers),
            body=bytes(body),
            chunks=tuple(tuple(c) for c in chunks) if chunks is not None else None,
            usage=Usage.from_dict(usage),
        )

    def save(self, entries: dict[str, Cached], submit: Callable | None = None) -> None:
        """Writes a batch of entries in one transaction: new keys as new rows, a key stored already in place
        (keeping its hit count; recorded now), found by one indexed read for the batch. Plain executemany:
        bulk_create builds model instances and compiles its SQL for every batch, on a thread that shares the GIL
        with the proxies (D18). `submit` (the db executor's) rebuilds the filter larger once it is full."""
        close_old_connections()
        created_at = connection.ops.adapt_datetimefield_value(timezone.now())
        json_or_null = json_adapter()
        hashes = {key: key_hash(key) for key in entries}
        inserts, updates = [], []
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                stored = self._stored(cursor, hashes)
                for key, entry in entries.items():
                    method, path, query, model, stream = entry.details or ("", "", "", "", entry.chunks is not None)
                    answer = (entry.status, json_or_null(entry.headers), entry.body, json_or_null(entry.chunks),
                              json_or_null(entry.usage.as_dict() if entry.usage else None), len(entry.body),
                              created_at, method, safe_path(path, query), model or "", stream)  # fmt: skip
                    row_id = stored.get(key)
                    if row_id is None:
                        inserts.append((self.proxy_id, key, hashes[key], *answer, 0))
                    else:
                        updates.append((*answer, row_id))
                if updates:
                    cursor.executemany(UPDATE, updates)
                if inserts:
                    cursor.executemany(INSERT, inserts)
        except IntegrityError:  # the proxy was deleted meanwhile
            return
        new = [hashes[row[1]] for row in inserts]
        if self.filter is not None:
            self.filter.add_many(new)
        if self.building is not None:
            self.building.extend(new)
        self._grow_if_full(submit)

    def _stored(self, cursor, hashes: dict[str, int]) -> dict[str, int]:
        """Which of these keys have a row, and its id (the later one, should two runners have written one)."""
        found: dict[str, int] = {}
        values = list(set(hashes.values()))
        for start in range(0, len(values), IN_LIST):
            chunk = values[start : start + IN_LIST]
            cursor.execute(stored_statement(len(chunk)), (self.proxy_id, *chunk))
            for row_id, key in cursor.fetchall():
                if key in hashes and row_id > found.get(key, 0):
                    found[key] = row_id
        return found

    def clear(self) -> set[str]:
        """Deletes the proxy's rows: those the API deleted, and any a batch in flight wrote after it; returns the
        keys of the rows it deleted. Its filter is then empty, and one being built is dropped (its chunks see the
        generation changed)."""
        close_old_connections()
        with transaction.atomic():
            rows = CacheEntry.objects.filter(proxy_id=self.proxy_id)
            keys = set(rows.values_list("key", flat=True))
            if keys:
                rows.delete()
        self.generation += 1
        self.filter = KeyFilter()
        self.building = None
        self.built.set()
        return keys

    def reload(self, submit: Callable) -> None:
        """After the API deleted or imported single entries: any key may be stored again until the filter, built
        anew from the rows as they are now, answers."""
        self.generation += 1
        self.filter = None
        self.built.clear()
        self.build_filter(submit)

    def add_hits(self, hits: dict[str, int]) -> None:
        """Adds a second's hit counts, one statement for all keys (D18), and when they were last hit. Hits of an
        answer not stored yet are not counted."""
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        counts = [(n, now, self.proxy_id, key_hash(key), key) for key, n in hits.items()]
        if counts:
            close_old_connections()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(ADD_HITS, counts)


def json_value(value):
    """A JSON column as read by a raw cursor: text on SQLite (and from psycopg unless it parsed it already)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def json_adapter() -> Callable[[object], object]:
    """A JSON column's value as this connection's database takes it (None stays NULL). On SQLite, JSON is text,
    written with orjson (D20)."""
    if connection.vendor == "sqlite":
        return lambda value: None if value is None else orjson.dumps(value).decode()
    adapt = connection.ops.adapt_json_value
    return lambda value: None if value is None else adapt(value, None)


def _statements() -> dict[str, str]:
    """The SQL of the db thread, built once; the same text on SQLite and PostgreSQL."""
    quote = connection.ops.quote_name
    c = {f.name: quote(f.column) for f in CacheEntry._meta.concrete_fields}
    table = quote(CacheEntry._meta.db_table)
    updated = ["status", "headers", "body", "chunks", "usage", "size", "created_at", "method", "path", "model",
               "stream"]  # fmt: skip
    inserted = ["proxy", "key", "key_hash", *updated, "hits"]
    columns, values = ", ".join(c[f] for f in inserted), ", ".join(["%s"] * len(inserted))
    by_key = f"{c['proxy']} = %s AND {c['key_hash']} = %s AND {c['key']} = %s"
    answer = ", ".join(c[f] for f in ("status", "headers", "body", "chunks", "usage"))
    hashes = f"SELECT {c['key_hash']} FROM {table} WHERE {c['proxy']} = %s"
    return {
        "insert": f"INSERT INTO {table} ({columns}) VALUES ({values})",
        "update": f"UPDATE {table} SET {', '.join(f'{c[f]} = %s' for f in updated)} WHERE {c['id']} = %s",
        "entry": f"SELECT {answer} FROM {table} WHERE {by_key} ORDER BY {c['id']} DESC LIMIT 1",
        "add_hits": f"UPDATE {table} SET {c['hits']} = {c['hits']} + %s, {c['last_hit_at']} = %s WHERE {by_key}",
        "count": f"SELECT COUNT(*) FROM {table} WHERE {c['proxy']} = %s",
        "first_hashes": f"{hashes} ORDER BY {c['key_hash']} LIMIT %s",
        "next_hashes": f"{hashes} AND {c['key_hash']} > %s ORDER BY {c['key_hash']} LIMIT %s",
        "stored": f"SELECT {c['id']}, {c['key']} FROM {table} WHERE {c['proxy']} = %s AND {c['key_hash']} IN ",
    }


SQL = _statements()
INSERT, UPDATE, ENTRY, ADD_HITS = SQL["insert"], SQL["update"], SQL["entry"], SQL["add_hits"]
COUNT, FIRST_HASHES, NEXT_HASHES = SQL["count"], SQL["first_hashes"], SQL["next_hashes"]


def stored_statement(n: int) -> str:
    return f"{SQL['stored']}({', '.join(['%s'] * n)})"
