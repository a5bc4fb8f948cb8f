"""What the request path hands to the log writer: plain values, no ORM, no I/O."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from providers.base import Usage


@dataclass(slots=True)
class LogRecord:
    proxy_id: int
    owner_id: int
    timestamp: float  # epoch seconds when the request arrived
    ip: str
    method: str
    path: str
    prompt_hash: str = ""
    status_code: int = 0
    latency_ms: float = 0.0
    cache: str = "bypass"
    failure: str | None = None
    usage: Usage | None = None
    model: str | None = None
    pricing_provider: str | None = None

    def frozen(self) -> tuple:
        """The record as one flat tuple of plain values, for the writer's queue. The cyclic GC stops tracking
        such a tuple at its first young collection, so records waiting for the writer are never promoted to
        the old generation: promoted records triggered full collections that stalled every proxy of the
        process for 20-60 ms several times a second under load (bench/run.py)."""
        u = self.usage or _NO_USAGE
        return (self.proxy_id, self.owner_id, self.timestamp, self.ip, self.method, self.path, self.prompt_hash,
                self.status_code, self.latency_ms, self.cache, self.failure, self.model, self.pricing_provider,
                u.model, u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens)  # fmt: skip


_NO_USAGE = Usage()
PROXY_ID = 0  # where frozen() puts it


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
    owner_id: int


def by_proxy(batch: Entry) -> list[Entry]:
    """A batch (logs.writer.batch_of: an Entry of columns) split by proxy (and owner), each part a batch too. For
    the writer's sinks, which count and sum columns in C rather than visit rows in Python. A batch is almost
    always one proxy's, and then it is its only part."""
    if not batch.id:
        return []
    if len(set(batch.proxy_id)) == 1 and len(set(batch.owner_id)) == 1:
        return [batch]
    return list(split(batch, lambda row: (row[2], row[15])).values())  # proxy_id, owner_id


def split(batch: Entry, key: Callable[[tuple], Hashable]) -> dict[Hashable, Entry]:
    """A batch's rows grouped by key(row), each group a batch (column by column) again."""
    groups: dict[Hashable, list[tuple]] = defaultdict(list)
    for row in zip(*batch, strict=True):
        groups[key(row)].append(row)
    return {k: Entry._make(zip(*rows, strict=True)) for k, rows in groups.items()}


def rows_of(batch: Entry) -> list[Entry]:
    """A batch (logs.writer.batch_of) as one Entry per row."""
    return list(map(Entry._make, zip(*batch, strict=True)))
