"""The one log writer of a runner process.

The request path appends a LogRecord to an in-memory deque (about a microsecond, thread-safe). This
thread drains it every ~100 ms, or sooner once 500 rows wait, and writes each batch in one transaction
with a raw executemany; sinks then see the committed batch (metrics roll-ups, live streams).
"""

from __future__ import annotations

import logging
import operator
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from django.db import IntegrityError, close_old_connections, connection, transaction

from logs.models import ENTRY_COLUMNS
from logs.pricing import cost_usd
from logs.records import LogRecord
from providers.base import Usage

log = logging.getLogger("rubberduck.logs")

COLUMNS = ENTRY_COLUMNS

Sink = Callable[[list[dict]], None]


class LogWriter:
    def __init__(self, interval: float = 0.1, batch: int = 500):
        self.queue: deque[tuple] = deque()  # LogRecord.frozen() values
        self.interval = interval
        self.batch = batch
        self.sinks: list[Sink] = []  # called after each commit with the written rows
        self.in_transaction: list[Callable[[list[dict]], None]] = []  # called inside the transaction
        self.periodic: list[Callable[[], None]] = []  # called on this thread between flushes (roll-up folds)
        self._stop = threading.Event()
        # One flush at a time: a caller's flush() returns only once every record queued before it is committed.
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.written = 0

    def enqueue(self, record: LogRecord) -> None:
        """Called on the request path: about a microsecond, thread-safe (deque.append)."""
        self.queue.append(record.frozen())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rubberduck-log-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Flushes everything still queued, then ends the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
        self.run_periodic()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            deadline = time.monotonic() + self.interval
            while time.monotonic() < deadline and len(self.queue) < self.batch and not self._stop.is_set():
                time.sleep(0.01)
            try:
                self.flush()
            except Exception:
                log.exception("log flush failed; will retry")
                time.sleep(0.5)
            self.run_periodic()

    def run_periodic(self) -> None:
        for hook in self.periodic:
            try:
                hook()
            except Exception:
                log.exception("periodic log-writer task failed")

    def flush(self) -> int:
        """Writes all queued records; returns how many."""
        with self._flush_lock:
            return self._flush()

    def _flush(self) -> int:
        total = 0
        while self.queue:
            records = []
            while self.queue and len(records) < 5000:
                records.append(self.queue.popleft())
            rows = [row_of(r) for r in records]
            try:
                try:
                    self._write(rows)
                except IntegrityError:
                    rows = drop_deleted_proxies(rows)  # a proxy deleted with entries still queued
                    self._write(rows)
            except Exception:
                self.queue.extendleft(reversed(records))  # nothing is lost: retried on the next flush
                raise
            total += len(rows)
            for sink in self.sinks:
                try:
                    sink(rows)
                except Exception:
                    log.exception("log sink failed")
        self.written += total
        return total

    def _write(self, rows: list[dict]) -> None:
        close_old_connections()
        with transaction.atomic():
            ids = allocate_ids(len(rows))
            for row, row_id in zip(rows, ids, strict=True):
                row["id"] = row_id
            table = "logs_logentry"
            placeholders = ", ".join(["%s"] * len(COLUMNS))
            sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})"
            with connection.cursor() as cursor:
                cursor.executemany(sql, db_values(rows))
            for hook in self.in_transaction:
                hook(rows)


def drop_deleted_proxies(rows: list[dict]) -> list[dict]:
    from proxies.models import Proxy

    alive = set(Proxy.objects.filter(id__in={r["proxy_id"] for r in rows}).values_list("id", flat=True))
    return [r for r in rows if r["proxy_id"] in alive]


def allocate_ids(n: int) -> Iterable[int]:
    """Ids for n new rows, so the batch can be published with them. Safe across processes: on SQLite the
    IMMEDIATE transaction holds the write lock; on PostgreSQL the sequence hands them out."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('logs_logentry', 'id')) FROM generate_series(1, %s)", [n]
            )
            return [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM logs_logentry")
        start = cursor.fetchone()[0] + 1
        return range(start, start + n)


def row_of(values: tuple) -> dict:
    """A queued record (LogRecord.frozen()) as the row the database and the sinks get."""
    (proxy_id, owner_id, timestamp, ip, method, path, prompt_hash, status_code, latency_ms, cache, failure, model,
     pricing_provider, usage_model, input_tokens, output_tokens, cache_read, cache_write) = values  # fmt: skip
    model = usage_model or model
    priced = input_tokens is not None or output_tokens is not None
    usage = Usage(usage_model, input_tokens, output_tokens, cache_read, cache_write) if priced else None
    return {
        "proxy_id": proxy_id,
        "owner_id": owner_id,
        "timestamp": datetime.fromtimestamp(timestamp, tz=UTC),
        "ip": ip,
        "method": method,
        "path": path[:500],
        "prompt_hash": prompt_hash,
        "status_code": status_code,
        "latency_ms": round(latency_ms, 3),
        "cache": cache,
        "failure": failure,
        "model": (model or "")[:200],
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "cost_usd": cost_usd(pricing_provider, model, usage),
    }


def db_values(rows: list[dict]) -> list[list]:
    """The rows as parameter lists in COLUMNS order, adapted for this connection's database."""
    adapt_datetime, adapt_decimal = datetime_adapter(), connection.ops.adapt_decimalfield_value
    timestamp_at, cost_at = COLUMNS.index("timestamp"), COLUMNS.index("cost_usd")
    in_order = operator.itemgetter(*COLUMNS)
    values = []
    for row in rows:
        v = list(in_order(row))
        v[timestamp_at] = adapt_datetime(v[timestamp_at])
        if v[cost_at] is not None:
            v[cost_at] = adapt_decimal(v[cost_at], 14, 8)
        values.append(v)
    return values


def datetime_adapter() -> Callable[[datetime], object]:
    """Django's datetime adapter for this connection. On SQLite with UTC storage, the same text it makes from
    an aware UTC datetime, without the per-call settings lookups that were a third of the writer's time."""
    if connection.vendor == "sqlite" and connection.timezone == UTC:
        return lambda value: value.isoformat(" ")[:-6]  # the writer's datetimes are UTC: drop "+00:00"
    return connection.ops.adapt_datetimefield_value
