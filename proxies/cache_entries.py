"""A proxy's stored answers one by one: listed, deleted, exported and imported as a recording (proxies/recordings.py).

Writes go through services.change(): the runner serving the proxy then reloads which keys it has stored and
forgets in memory those that changed (ProxyCache.reload), so the API answers once the proxy serves the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet, Sum

from proxies import recordings, services
from proxies.key_filter import key_hash
from proxies.models import CacheEntry, Proxy

LISTED = ("key", "method", "path", "model", "status", "stream", "size", "hits", "created_at", "last_hit_at")
EXPORTED = ("key", "method", "path", "model", "status", "headers", "body", "chunks", "usage", "created_at")
# Rows read or written together by an export or an import.
BATCH = 500


def entries(proxy: Proxy, *, model: str = "", path: str = "", q: str = "") -> QuerySet:
    """The proxy's stored answers, newest first, filtered: `model` exactly, `path` and `q` (key, model or path)
    as substrings."""
    rows = CacheEntry.objects.filter(proxy=proxy)
    if model:
        rows = rows.filter(model=model)
    if path:
        rows = rows.filter(path__contains=path)
    if q:
        rows = rows.filter(Q(key__contains=q) | Q(model__contains=q) | Q(path__contains=q))
    return rows.order_by("-created_at", "-id")


def totals(rows: QuerySet) -> dict:
    sums = rows.order_by().aggregate(count=Count("id"), total_bytes=Sum("size"), total_hits=Sum("hits"))
    return {"count": sums["count"], "total_bytes": sums["total_bytes"] or 0, "total_hits": sums["total_hits"] or 0}


def listed(row: dict) -> dict:
    return {
        "key": row["key"],
        "method": row["method"],
        "path": row["path"],
        "model": row["model"],
        "status": row["status"],
        "stream": row["stream"],
        "size": row["size"],
        "hits": row["hits"],
        "recorded_at": row["created_at"],
        "last_hit_at": row["last_hit_at"],
    }


def entry_delete(*, proxy: Proxy, key: str) -> bool:
    """Deletes the stored answer of `key` (every row of it); False when there is none."""
    with services.change(proxy):
        deleted, _ = CacheEntry.objects.filter(proxy=proxy, key=key).delete()
        if deleted:
            Proxy.objects.filter(pk=proxy.pk).update(cache_version=F("cache_version") + 1)
    return bool(deleted)


def export(proxy: Proxy) -> Iterator[bytes]:
    """The recording file, a batch of lines at a time: rows stream from the cursor, sorted by key (of a key stored
    twice, by two runners, the later row)."""
    rows = CacheEntry.objects.filter(proxy=proxy)
    count = rows.values("key").distinct().count()
    yield recordings.header_line(proxy.provider, count)
    out: list[bytes] = []
    last = None
    for row in rows.order_by("key", "id").values(*EXPORTED).iterator(chunk_size=BATCH):
        if last is not None and last["key"] != row["key"]:
            out.append(recordings.entry_line(last))
            if len(out) >= BATCH:
                yield b"".join(out)
                out = []
        last = row
    if last is not None:
        out.append(recordings.entry_line(last))
    yield b"".join(out)


@dataclass
class Imported:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict:
        return {"added": self.added, "replaced": self.replaced, "unchanged": self.unchanged}


def check(lines: Iterable[bytes], provider: str) -> None:
    """Reads the whole file once without keeping it: recordings.RecordingError at its first mistake."""
    for _ in recordings.read(lines, provider):
        pass


def cache_import(*, proxy: Proxy, lines: Iterable[bytes]) -> Imported:
    """Writes a checked file's entries in one transaction: a new key is added, a key stored with another answer
    replaced (a new row, so the running proxy sees it changed), an identical answer left alone. Reads the file a
    batch of entries at a time; `lines` must be readable again if check() read it first."""
    outcome = Imported()
    with services.change(proxy):
        stored = dict(CacheEntry.objects.filter(proxy=proxy).order_by("id").values_list("key", "id"))
        batch: list[recordings.Recorded] = []
        for entry in recordings.read(lines, proxy.provider):
            batch.append(entry)
            if len(batch) >= BATCH:
                write(proxy, batch, stored, outcome)
                batch = []
        write(proxy, batch, stored, outcome)
        if outcome.added or outcome.replaced:
            Proxy.objects.filter(pk=proxy.pk).update(cache_version=F("cache_version") + 1)
    return outcome


def write(proxy: Proxy, batch: list[recordings.Recorded], stored: dict[str, int], outcome: Imported) -> None:
    ids = [stored[e.key] for e in batch if e.key in stored]
    current = {row["id"]: row for row in CacheEntry.objects.filter(id__in=ids).values(*EXPORTED, "id")}
    new, gone = [], []
    for entry in batch:
        row_id = stored.get(entry.key)
        if row_id is not None:
            row = current.get(row_id)
            if row is not None and same_answer(row, entry):
                outcome.unchanged += 1
                continue
            gone.append(row_id)
            outcome.replaced += 1
        else:
            outcome.added += 1
        new.append(
            CacheEntry(
                proxy=proxy,
                key=entry.key,
                key_hash=key_hash(entry.key),  # how the running proxy finds it (proxies/store.py)
                status=entry.status,
                headers=entry.headers,
                body=entry.body,
                chunks=entry.chunks,
                usage=entry.usage,
                size=len(entry.body),
                method=entry.method,
                path=entry.path,
                model=entry.model,
                stream=entry.chunks is not None,
            )
        )
    if gone:
        CacheEntry.objects.filter(proxy=proxy, id__in=gone).delete()
    created = CacheEntry.objects.bulk_create(new)
    # created_at is auto_now_add: the recorded time is written after.
    by_key = {e.key: e.recorded_at for e in batch}
    for row in created:
        row.created_at = by_key[row.key]
    CacheEntry.objects.bulk_update(created, ["created_at"])


def same_answer(row: dict, entry: recordings.Recorded) -> bool:
    """Whether a stored row answers as the file's entry does (as far as a recording keeps it)."""
    chunks = row["chunks"]
    return (
        row["status"] == entry.status
        and recordings.replay_headers(row["headers"] or []) == entry.headers
        and bytes(row["body"]) == entry.body
        and (None if chunks is None else [list(c) for c in chunks]) == entry.chunks
        and {k: v for k, v in (row["usage"] or {}).items() if v is not None}
        == {k: v for k, v in (entry.usage or {}).items() if v is not None}
    )
