"""Synchronous ORM work of the data plane, always run off the event loop (in the runner's db executor)."""

from __future__ import annotations

from django.db import IntegrityError, close_old_connections
from django.db.models import F

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
        headers=[tuple(h) for h in row.headers],
        body=bytes(row.body),
        chunks=[tuple(c) for c in row.chunks] if row.chunks is not None else None,
        usage=Usage.from_dict(row.usage),
    )


def save_entries(proxy_id: int, entries: dict[str, Cached]) -> None:
    """Upserts a batch of entries of one proxy in one statement (one transaction)."""
    close_old_connections()
    rows = [
        CacheEntry(
            proxy_id=proxy_id,
            key=key,
            status=entry.status,
            headers=entry.headers,
            body=entry.body,
            chunks=entry.chunks,
            usage=entry.usage.as_dict() if entry.usage else None,
            size=len(entry.body),
        )
        for key, entry in entries.items()
    ]
    try:
        CacheEntry.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["proxy", "key"],
            update_fields=["status", "headers", "body", "chunks", "usage", "size"],
        )
    except IntegrityError:  # the proxy was deleted meanwhile
        pass


def add_hits(proxy_id: int, hits: dict[str, int]) -> None:
    for key, n in hits.items():
        CacheEntry.objects.filter(proxy_id=proxy_id, key=key).update(hits=F("hits") + n)
