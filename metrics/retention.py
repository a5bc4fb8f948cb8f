"""How long metric buckets are kept: the site settings row when there is one, else settings.py (0, or a
missing window, keeps that window forever). apply_retention() runs on the runner's log writer now and then
(Rollup.tick): indexed range deletes, in batches, of log entries and metric buckets, a slice of time at a
time, so that the writer's flushes go on between two slices (D85)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.selectors import site_settings_saved
from logs.retention import log_retention_days
from logs.services import delete_in_batches, expired_log_entries
from metrics.models import MetricBucket

log = logging.getLogger("rubberduck.metrics")

SLICE_SECONDS = 0.25  # of deleting per call: the writer's thread is busy with it meanwhile


def metrics_retention_days() -> dict[str, int]:
    row = site_settings_saved()
    days = dict(settings.RUBBERDUCK_METRICS_RETENTION_DAYS)
    if row is not None and isinstance(row.metrics_retention_days, dict):
        days.update({k: int(v) for k, v in row.metrics_retention_days.items() if k in days and v is not None})
    return days


# Where an unfinished retention's next slice goes on, per kind: the ids before it are gone, and on PostgreSQL
# their index entries stay until a vacuum, so starting over each slice walked them all again (D108).
RESUME: dict[str, int] = {}


def apply_retention(slice_seconds: float | None = SLICE_SECONDS) -> tuple[dict[str, int], bool]:
    """Deletes what is older than its retention, for `slice_seconds` at most (None: until done); returns how
    many of each kind went, and whether all of it did (if not, the caller calls again soon)."""
    deadline = None if slice_seconds is None else time.monotonic() + slice_seconds
    deleted, finished = {}, True
    days = log_retention_days()
    if days:
        deleted["logs"], finished = resumed("logs", expired_log_entries(days), deadline)
    now = timezone.now()
    for window, days in metrics_retention_days().items():
        if days and finished:
            old = MetricBucket.objects.filter(window=window, start__lt=now - timedelta(days=days)).order_by()
            deleted[window], finished = resumed(window, old, deadline)
    if any(deleted.values()):
        log.info("retention deleted %s%s", deleted, "" if finished else " (more to go)")
    return deleted, finished


def resumed(kind: str, qs: QuerySet, deadline: float | None) -> tuple[int, bool]:
    """Deletes `qs` in batches from where this kind's last unfinished slice ended; (rows deleted, finished). A
    finished one starts over next time, and then also takes what the moving cutoff reached behind it."""
    deleted, after = delete_in_batches(qs, deadline=deadline, after=RESUME.get(kind))
    if after is None:
        RESUME.pop(kind, None)
    else:
        RESUME[kind] = after
    return deleted, after is None
