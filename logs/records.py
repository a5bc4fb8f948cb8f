"""A batch of log entries as the writer commits it and its sinks see it, and ways to split it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import NamedTuple


class Entry(NamedTuple):
    """A log entry as the writer commits it and its sinks (roll-ups, Prometheus, live stream) see it: the
    table's columns in order (logs.models.ENTRY_COLUMNS), the time as epoch seconds, then the owner."""

    id: int
    timestamp: float
    proxy_id: int
    ip: str
    method: str
    path: str
    prompt_hash: str
    status_code: int
    latency_ms: float
    cache: str
    failure: str | None
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: Decimal | None
    client_messages: int | None
    upstream_messages: int | None
    owner_id: int


OWNER_ID = Entry._fields.index("owner_id")


def by_proxy(batch: Entry) -> list[Entry]:
    """A batch (logs.writer.batch_of: an Entry of columns) split by proxy (and owner), each part a batch too. For
    the writer's sinks, which count and sum columns in C rather than visit rows in Python. A batch is almost
    always one proxy's, and then it is its only part."""
    if not batch.id:
        return []
    if len(set(batch.proxy_id)) == 1 and len(set(batch.owner_id)) == 1:
        return [batch]
    return list(split(batch, lambda row: (row[2], row[OWNER_ID])).values())  # proxy_id, owner_id


def split(batch: Entry, key: Callable[[tuple], Hashable]) -> dict[Hashable, Entry]:
    """A batch's rows grouped by key(row), each group a batch (column by column) again."""
    groups: dict[Hashable, list[tuple]] = defaultdict(list)
    for row in zip(*batch, strict=True):
        groups[key(row)].append(row)
    return {k: Entry._make(zip(*rows, strict=True)) for k, rows in groups.items()}


def rows_of(batch: Entry) -> list[Entry]:
    """A batch (logs.writer.batch_of) as one Entry per row."""
    return list(map(Entry._make, zip(*batch, strict=True)))
