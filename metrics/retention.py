"""How long metric buckets are kept: the site settings row when there is one, else settings.py (0, or a
missing window, keeps that window forever). apply_retention() runs on the runner's log writer now and then
(Rollup.tick): indexed range deletes, in batches, of log entries and metric buckets."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.selectors import site_settings_saved
from logs.retention import log_retention_days
from logs.services import log_entries_expire
from metrics.models import MetricBucket

log = logging.getLogger("rubberduck.metrics")


def metrics_retention_days() -> dict[str, int]:
    row = site_settings_saved()
    days = dict(settings.RUBBERDUCK_METRICS_RETENTION_DAYS)
    if row is not None and isinstance(row.metrics_retention_days, dict):
        days.update({k: int(v) for k, v in row.metrics_retention_days.items() if k in days and v is not None})
    return days


def apply_retention() -> dict[str, int]:
    """Deletes what is older than its retention; returns how many of each kind went."""
    deleted = {}
    days = log_retention_days()
    if days:
        deleted["logs"] = log_entries_expire(days=days)
    now = timezone.now()
    for window, days in metrics_retention_days().items():
        if days:
            deleted[window], _ = MetricBucket.objects.filter(
                window=window, start__lt=now - timedelta(days=days)
            ).delete()
    if any(deleted.values()):
        log.info("retention deleted %s", deleted)
    return deleted
