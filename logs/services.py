"""Writes on log entries that are not the writer's: purges (by a user, or by retention)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from logs.models import LogEntry
from logs.selectors import log_entries

PURGE_BATCH = 5000


def _delete_in_batches(qs) -> int:
    """Deletes by id batches, so a big purge never holds the (SQLite) write lock for long."""
    deleted = 0
    while True:
        ids = list(qs.values_list("id", flat=True)[:PURGE_BATCH])
        if not ids:
            return deleted
        with transaction.atomic():
            n, _ = LogEntry.objects.filter(id__in=ids).delete()
        deleted += n


def log_entries_purge(*, owner, filters: dict) -> int:
    """Deletes the owner's entries matching `filters` (only ever the owner's: the queryset is owner-scoped)."""
    return _delete_in_batches(log_entries(owner=owner, filters=filters).order_by())


def log_entries_expire(*, days: int) -> int:
    """Retention: deletes every entry older than `days` (an indexed range on timestamp)."""
    cutoff = timezone.now() - timedelta(days=days)
    return _delete_in_batches(LogEntry.objects.filter(timestamp__lt=cutoff).order_by())
