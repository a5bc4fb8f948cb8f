"""Writes on log entries that are not the writer's: purges (by a user, or by retention)."""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from logs.models import LogEntry
from logs.selectors import log_entries

PURGE_BATCH = 1000  # rows per transaction: on SQLite the write lock is held a few ms at a time
MIN_PAUSE = 0.01  # seconds between two batches at least


def delete_in_batches(
    qs: QuerySet, *, batch: int = PURGE_BATCH, deadline: float | None = None, after: int | None = None
) -> tuple[int, int | None]:
    """Deletes `qs` (unordered) by batches of ids, one transaction each, and after each waits as long as it held
    the write lock (D84): the log writer and the cache stores get the database at least half the time, so they
    go on writing during a purge of millions instead of queueing behind it (on SQLite, failing with "database
    is locked" after the busy timeout). Stops at `deadline` (time.monotonic()) if given.
    Returns (rows deleted, None once none is left, else the id to go on `after` in a later call)."""
    deleted, after = 0, after or 0  # ids start at 1
    while deadline is None or time.monotonic() < deadline:
        started = time.monotonic()
        rest = qs.filter(pk__gt=after)
        # A batch is a range of ids, from where the one before ended to its 1,000th match: PostgreSQL keeps the
        # index entries of deleted rows until a vacuum, and a batch that started from the beginning again walked
        # over all of them (D108). Its bound is the one value Python handles: no list of a thousand ids.
        bound = rest.order_by("pk").values_list("pk", flat=True)[batch - 1 : batch]
        upper = None if last_batch(rest, batch) else next(iter(bound), None)
        with transaction.atomic():
            n, _ = (rest if upper is None else rest.filter(pk__lte=upper)).delete()
        deleted += n
        if upper is None:
            return deleted, None
        after = upper
        time.sleep(max(time.monotonic() - started, MIN_PAUSE))
    return deleted, after


def last_batch(rest: QuerySet, batch: int) -> bool:
    """Fewer than `batch` rows left, as a filter's index tells on SQLite (D111): there the id-ordered read that
    finds a batch's bound goes on through every later row of the table looking for matches that are not there
    (at 10 M entries 0.7 s for each retention with nothing expired). Not on PostgreSQL: its filter indexes keep
    the deleted rows' entries until a vacuum, and a count through them would walk those again each batch."""
    return connection.vendor == "sqlite" and rest.values("pk")[:batch].count() < batch


def log_entries_purge(*, owner, filters: dict) -> int:
    """Deletes the owner's entries matching `filters` (only ever the owner's: the queryset is owner-scoped)."""
    deleted, _ = delete_in_batches(log_entries(owner=owner, filters=filters))
    return deleted


def expired_log_entries(days: int) -> QuerySet[LogEntry]:
    """What retention deletes: entries older than `days` (an indexed range on timestamp)."""
    return LogEntry.objects.filter(timestamp__lt=timezone.now() - timedelta(days=days)).order_by()
