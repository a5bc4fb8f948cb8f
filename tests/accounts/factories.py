"""Rows made straight in the database (no runner needed) for admin and isolation tests."""

import itertools

from django.utils import timezone

_ports = itertools.count(41000)


def proxy_row(owner, **fields):
    from proxies.models import Proxy

    defaults = {"name": f"{owner.email}-proxy", "provider": "openai", "model_name": "m", "port": next(_ports)}
    return Proxy.objects.create(owner=owner, **{**defaults, **fields})


def log_row(proxy, **fields):
    from logs.models import LogEntry

    defaults = {
        "timestamp": timezone.now(),
        "ip": "127.0.0.1",
        "method": "POST",
        "path": "/v1/chat/completions",
        "status_code": 200,
        "latency_ms": 5.0,
        "cache": "miss",
        "prompt_hash": "p" * 64,
    }
    return LogEntry.objects.create(proxy=proxy, **{**defaults, **fields})


def cache_row(proxy, **fields):
    from proxies.models import CacheEntry

    return CacheEntry.objects.create(proxy=proxy, **{"key": "k" * 64, "status": 200, "body": b"{}", **fields})
