"""Builders for log tests: proxies without a runner, and entries written through the real LogWriter."""

from __future__ import annotations

import itertools
from datetime import datetime

from logs.writer import LogWriter
from proxies.models import Proxy
from proxies.records import LogRecord

_ports = itertools.count(41000)


def proxy_for(owner, name="p") -> Proxy:
    """A proxy row nobody serves (desired stopped), so no runner picks it up."""
    return Proxy.objects.create(
        owner=owner, name=name, provider="openai", model_name="gpt-4o-mini", port=next(_ports),
        desired_state=Proxy.Desired.STOPPED, status=Proxy.Status.STOPPED,
    )  # fmt: skip


def record(proxy: Proxy, at: datetime | float, **fields) -> LogRecord:
    timestamp = at.timestamp() if isinstance(at, datetime) else at
    values = {"ip": "127.0.0.1", "method": "POST", "path": "/v1/chat/completions", "status_code": 200,
              "latency_ms": 12.5, "cache": "miss", **fields}  # fmt: skip
    return LogRecord(proxy_id=proxy.id, owner_id=proxy.owner_id, timestamp=timestamp, **values)


def write(*records: LogRecord, writer: LogWriter | None = None) -> LogWriter:
    writer = writer or LogWriter()
    for r in records:
        writer.enqueue(r)
    writer.flush()
    return writer
