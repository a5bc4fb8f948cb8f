"""Writes on log entries that are not the writer's: purges (by a user, or by retention)."""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from logs.models import LogEntry
from logs.selectors import log_entries

PURGE_BATCH = 1000  # rows per transaction: on SQLite the write lock is held a few ms at a time
MIN_PAUSE = 0.01  # seconds between two batches at least


def delete_in_batches(qs: QuerySet, *, batch: int = PURGE_BATCH, deadline: float | None = None) -> tuple[int, bool]:
    """Deletes `qs` (unordered) by batches of ids, one transaction each, and after each waits as long as it held
    the write lock (D84): the log writer and the cache stores get the database at least half the time, so they
    go on writing during a purge of millions instead of queueing behind it (on SQLite, failing with "database
    is locked" after the busy timeout). Stops at `deadline` (time.monotonic()) if given.
    Returns (rows deleted, whether none is left)."""
    deleted = 0
    while deadline is None or time.monotonic() < deadline:
        started = time.monotonic()
        with transaction.atomic():
            # One statement, the batch's ids a subquery: no list of a thousand ids made in Python and passed back
            # as parameters, which held the GIL from the proxies' loops for milliseconds a batch.
            n, _ = qs.model.objects.filter(pk__in=qs.values("pk")[:batch]).delete()
        deleted += n
        if n < batch:
            return deleted, True
        time.sleep(max(time.monotonic() - started, MIN_PAUSE))
    return deleted, False


def log_entries_purge(*, owner, filters: dict) -> int:
    """Deletes the owner's entries matching `filters` (only ever the owner's: the queryset is owner-scoped)."""
    deleted, _ = delete_in_batches(log_entries(owner=owner, filters=filters, ordered=False))
    return deleted


def log_entries_expire(*, days: int, deadline: float | None = None) -> tuple[int, bool]:
    """Retention: deletes entries older than `days` (an indexed range on timestamp), until `deadline` if given.
    Returns (rows deleted, whether none is left)."""
    cutoff = timezone.now() - timedelta(days=days)
    return delete_in_batches(LogEntry.objects.filter(timestamp__lt=cutoff).order_by(), deadline=deadline)
