"""How long log entries are kept: the site settings row when there is one, else settings.py (0 keeps them
forever). Applied with the metric buckets' retention by the runner now and then (metrics/retention.py)."""

from __future__ import annotations

from django.conf import settings

from accounts.selectors import site_settings_saved


def log_retention_days() -> int:
    row = site_settings_saved()
    return row.log_retention_days if row is not None else settings.RUBBERDUCK_LOG_RETENTION_DAYS
