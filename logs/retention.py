"""How long logs and metric buckets are kept: the site settings row when there is one, else settings.py.

0 (or a missing level) keeps that kind forever. Applied by the runner now and then (metrics/rollup.py):
indexed range deletes, in batches.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from accounts.models import SiteSettings

log = logging.getLogger("rubberduck.logs")


def _site_settings() -> SiteSettings | None:
    try:
        return SiteSettings.objects.filter(pk=1).first()
    except DatabaseError:
        return None


def log_retention_days() -> int:
    row = _site_settings()
    return row.log_retention_days if row is not None else settings.RUBBERDUCK_LOG_RETENTION_DAYS


def metrics_retention_days() -> dict[str, int]:
    row = _site_settings()
    days = dict(settings.RUBBERDUCK_METRICS_RETENTION_DAYS)
    if row is not None and isinstance(row.metrics_retention_days, dict):
        days.update({k: int(v) for k, v in row.metrics_retention_days.items() if k in days and v is not None})
    return days


def apply_retention() -> dict[str, int]:
    """Deletes what is older than its retention; returns how many of each kind went."""
    from logs.services import log_entries_expire
    from metrics.models import MetricBucket

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
