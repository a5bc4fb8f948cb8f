"""A log record travels to the writer as one flat tuple that the cyclic GC stops tracking."""

import gc
from datetime import UTC, datetime

from logs.records import LogRecord
from logs.writer import row_of
from providers.base import Usage


def every_field_set() -> LogRecord:
    return LogRecord(
        proxy_id=1, owner_id=2, timestamp=3.5, ip="::1", method="POST", path="/v1/messages", prompt_hash="ab",
        status_code=429, latency_ms=1.25, cache="miss", failure="rate_limit",
        usage=Usage(model="m-1", input_tokens=10, output_tokens=5, cache_read_tokens=3, cache_write_tokens=2),
        model="m", pricing_provider="acme",
    )  # fmt: skip


def test_a_queued_record_becomes_its_row():
    assert row_of(every_field_set().frozen()) == {
        "proxy_id": 1, "owner_id": 2, "timestamp": datetime.fromtimestamp(3.5, tz=UTC), "ip": "::1",
        "method": "POST", "path": "/v1/messages", "prompt_hash": "ab", "status_code": 429, "latency_ms": 1.25,
        "cache": "miss", "failure": "rate_limit", "model": "m-1", "prompt_tokens": 10, "completion_tokens": 5,
        "cost_usd": None,  # an unknown provider: no guess
    }  # fmt: skip
    bare = row_of(LogRecord(proxy_id=1, owner_id=2, timestamp=0.0, ip="", method="GET", path="/", model="m").frozen())
    assert (bare["model"], bare["prompt_tokens"], bare["completion_tokens"], bare["cache"]) == (
        "m",
        None,
        None,
        "bypass",
    )


def test_a_queued_record_is_untracked_after_one_young_collection():
    queued = every_field_set().frozen()
    gc.collect(0)
    assert not gc.is_tracked(queued)


def test_timestamps_are_stored_as_django_itself_would_store_them(db):
    from django.db import connection

    from logs.writer import datetime_adapter

    for ts in (0.0, 1764000000.123456, 1764000000.5, 1764000000):
        value = datetime.fromtimestamp(ts, tz=UTC)
        assert datetime_adapter()(value) == connection.ops.adapt_datetimefield_value(value)
