"""A log record travels to the writer as one flat tuple that the cyclic GC stops tracking."""

import gc
from datetime import UTC, datetime

from logs.records import Entry, LogRecord
from logs.writer import entries_of
from providers.base import Usage


def every_field_set() -> LogRecord:
    return LogRecord(
        proxy_id=1, owner_id=2, timestamp=3.5, ip="::1", method="POST", path="/v1/messages", prompt_hash="ab",
        status_code=429, latency_ms=1.25, cache="miss", failure="rate_limit",
        usage=Usage(model="m-1", input_tokens=10, output_tokens=5, cache_read_tokens=3, cache_write_tokens=2),
        model="m", pricing_provider="acme",
    )  # fmt: skip


def test_a_queued_record_becomes_its_entry():
    assert entries_of([every_field_set().frozen()], [7]) == [
        Entry(id=7, timestamp=3.5, proxy_id=1, ip="::1", method="POST", path="/v1/messages", prompt_hash="ab",
              status_code=429, latency_ms=1.25, cache="miss", failure="rate_limit", model="m-1", prompt_tokens=10,
              completion_tokens=5, cost_usd=None, owner_id=2)  # an unknown provider: no guess
    ]  # fmt: skip
    [bare] = entries_of([LogRecord(proxy_id=1, owner_id=2, timestamp=0.0, ip="", method="GET", path="/").frozen()], [1])
    assert (bare.model, bare.prompt_tokens, bare.completion_tokens, bare.cache) == ("", None, None, "bypass")


def test_a_queued_record_is_untracked_after_one_young_collection():
    queued = every_field_set().frozen()
    gc.collect(0)
    assert not gc.is_tracked(queued)


def test_timestamps_are_stored_as_django_itself_would_store_them(db):
    from django.db import connection

    from logs.writer import timestamp_adapter

    stamp = timestamp_adapter()
    rounding = (1764000000.9999996, 1764000000.0000004, 1764000000.0000005, 1764000001.0000015, 1764000001.25)
    for ts in (0.0, 1764000000.123456, 1764000000.5, 1764000000, *rounding, *(1764000000 + i / 7 for i in range(50))):
        expected = connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(ts, tz=UTC))
        assert stamp(ts) == expected, ts
