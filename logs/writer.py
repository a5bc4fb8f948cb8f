"""The one log writer of a runner process.

The request path appends a LogRecord to an in-memory deque (cheap and thread-safe). This
thread drains it every ~100 ms, or sooner once 500 rows wait, and writes each batch in one transaction
with multi-row INSERTs; sinks then see the committed batch (metrics roll-ups, live streams).

Everything here shares the GIL, and on a busy machine the core, with the proxies: a row's cost is paid by
the hits it displaces. So a batch of queued records is turned around column by column (transposed, mapped and
chained in C, with no Python step per row where a column needs none), without dicts or datetimes (D24), and
flushes are large enough that the per-batch work stays small per row, yet short enough to keep the hit p99
down (D31).

When the database does not take writes (locked, restarting, full), records wait in the queue and are written once
it does; the queue is bounded (RUBBERDUCK_LOG_BUFFER_RECORDS), and what does not fit is dropped, counted
(`dropped`) and shown (/healthz, /metrics, one warning per episode) (D70-D72).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain, repeat
from operator import mul, sub

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction

from logs.models import ENTRY_COLUMNS
from logs.pricing import cost_usd
from logs.records import Entry
from proxies.models import Proxy
from proxies.records import PROXY_ID, LogRecord

log = logging.getLogger("rubberduck.logs")

MAX_BATCH = 5000  # rows per transaction
ROWS_PER_INSERT = 64  # 960 parameters: under the 999 of SQLite builds older than 3.32

Sink = Callable[[Entry], None]  # gets a committed batch, column by column (batch_of)


class LogWriter:
    def __init__(self, interval: float = 0.1, batch: int = 500, limit: int | None = None):
        self.queue: deque[tuple] = deque()  # LogRecord.frozen() values
        self.interval = interval
        self.batch = batch
        # The most records that may wait; more are dropped and counted (D70).
        self.limit = max(limit if limit is not None else settings.RUBBERDUCK_LOG_BUFFER_RECORDS, 1)
        # enqueue's one compare: the batch size until it is crossed, then the bound (D71).
        self._next = min(batch, self.limit + 1)
        self._overflow_lock = threading.Lock()
        self.dropped = 0  # records dropped since start because the queue was full
        self.overflowing = False  # from the first drop until the queue has drained below its bound
        self._episode_dropped = 0
        self.failing_since: float | None = None  # monotonic time of the first failed flush of a failing spell
        self._periodic_failing: set[Callable[[], None]] = set()
        self.sinks: list[Sink] = []  # called after each commit with the written batch
        self.in_transaction: list[Sink] = []  # called inside the transaction
        self.periodic: list[Callable[[], None]] = []  # called on this thread between flushes (roll-up folds)
        self._stop = threading.Event()
        self._wake = threading.Event()  # set when `batch` records wait, or to stop
        # One flush at a time: a caller's flush() returns only once every record queued before it is committed.
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.written = 0

    def enqueue(self, record: LogRecord) -> None:
        """Called on the request path: about a microsecond, thread-safe (deque.append and one compare)."""
        queue = self.queue
        queue.append(record.frozen())
        if len(queue) >= self._next:  # once per crossing of the batch size, or each record past the bound
            self._crowded()

    def _crowded(self) -> None:
        """Off the common path: wakes the writer once a batch waits, and past the bound drops the newest
        records, counted, until the queue fits (D70, D71)."""
        with self._overflow_lock:
            queue, over = self.queue, 0
            while len(queue) > self.limit:
                try:
                    queue.pop()
                except IndexError:  # the writer took them all meanwhile
                    break
                over += 1
            if over:
                self.dropped += over
                self._episode_dropped += over
                if not self.overflowing:
                    self.overflowing = True
                    log.warning(
                        "log buffer full (%s records waiting for the database): dropping new log entries, counted "
                        "in rubberduck_log_entries_dropped_total, until the database takes writes again",
                        self.limit,
                    )
            self._next = self.limit + 1
        self._wake.set()

    def _drained(self) -> None:
        """After a flush that emptied the queue: the next crossing of the batch size wakes the writer again, and
        an overflow episode ends with one line saying what it lost."""
        with self._overflow_lock:
            self._next = min(self.batch, self.limit + 1)
            if self.overflowing and len(self.queue) < self.limit:
                self.overflowing = False
                log.warning("log buffer has room again: %s log entries were dropped", self._episode_dropped)
                self._episode_dropped = 0

    def state(self) -> dict:
        """For /healthz, /metrics and runproxies' SIGUSR1 line: plain numbers read from any thread."""
        return {
            "queued": len(self.queue),
            "limit": self.limit,
            "written": self.written,
            "dropped": self.dropped,
            "overflowing": self.overflowing,
            "failing": self.failing_since is not None,
        }

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rubberduck-log-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Flushes everything still queued, then ends the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
        self.run_periodic()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            # Sleeps a whole interval unless a batch fills up, so it does not take the GIL from busy proxies (D32).
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                self._failed()
                self._stop.wait(0.5)
            self.run_periodic()

    def _failed(self) -> None:
        """One line when flushes start failing (the database is away, locked past its timeout or full), not one
        per retry; the records stay queued (D72)."""
        if self.failing_since is None:
            self.failing_since = time.monotonic()
            log.exception("log flush failed; %s entries wait and are retried every 0.5 s", len(self.queue))

    def run_periodic(self) -> None:
        for hook in self.periodic:
            try:
                hook()
            except Exception:
                if hook not in self._periodic_failing:  # once per failing spell, not every interval
                    self._periodic_failing.add(hook)
                    log.exception("periodic log-writer task failed; retried every interval")
            else:
                self._periodic_failing.discard(hook)

    def flush(self) -> int:
        """Writes all queued records; returns how many."""
        with self._flush_lock:
            return self._flush()

    def _flush(self) -> int:
        total = 0
        while self.queue:
            records = []
            while self.queue and len(records) < MAX_BATCH:
                records.append(self.queue.popleft())
            try:
                batch = self._write_existing(records)
            except Exception:
                self.queue.extendleft(reversed(records))  # retried on the next flush
                if len(self.queue) > self.limit:  # records came meanwhile: the bound holds, the newest go
                    self._crowded()
                raise
            total += len(batch.id)
            self.written += len(batch.id)
            for sink in self.sinks:
                try:
                    sink(batch)
                except Exception:
                    log.exception("log sink failed")
        if self.failing_since is not None:
            log.warning("log flush works again after %.1f s", time.monotonic() - self.failing_since)
            self.failing_since = None
        self._drained()
        return total

    def _write_existing(self, records: list[tuple], attempts: int = 3) -> Entry:
        """Writes the records; when a proxy was deleted with entries still queued (their foreign key fails at commit),
        drops its entries from `records` and writes the rest, again should another go meanwhile (on PostgreSQL, one
        can between the read of which proxies exist and the commit)."""
        for attempt in range(attempts):
            try:
                return self._write(records)
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
                records[:] = drop_deleted_proxies(records)

    def _write(self, records: list[tuple]) -> Entry:
        close_old_connections()
        with transaction.atomic():
            batch = batch_of(records, allocate_ids(len(records)))
            insert(db_values(batch))
            for hook in self.in_transaction:
                hook(batch)
        return batch


def drop_deleted_proxies(records: list[tuple]) -> list[tuple]:
    alive = set(Proxy.objects.filter(id__in={r[PROXY_ID] for r in records}).values_list("id", flat=True))
    return [r for r in records if r[PROXY_ID] in alive]


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


def batch_of(records: list[tuple], ids: Iterable[int]) -> Entry:
    """Queued records (LogRecord.frozen()) as the batch the database and the sinks get: an Entry whose fields are
    columns, a tuple of one value per row each (rows_of turns it into entries)."""
    if not records:
        return Entry._make(() for _ in Entry._fields)
    (proxy_id, owner_id, timestamp, ip, method, path, prompt_hash, status_code, latency_ms, cache, failure, model,
     pricing_provider, usage_model, input_tokens, output_tokens, cache_read, cache_write, client_messages,
     upstream_messages) = zip(*records, strict=True)  # fmt: skip
    model = tuple(u or m or "" for u, m in zip(usage_model, model, strict=True))
    costs: dict[tuple, Decimal | None] = {}  # a batch repeats a few usages
    cost = []
    for usage in zip(pricing_provider, model, input_tokens, output_tokens, cache_read, cache_write, strict=True):
        if usage not in costs:
            costs[usage] = None if usage[2] is None and usage[3] is None else cost_usd(*usage)
        cost.append(costs[usage])
    return Entry(
        tuple(ids), timestamp, proxy_id, ip, method, clipped(path, 500), prompt_hash, status_code,
        tuple(map(round, latency_ms, repeat(3))), cache, failure, clipped(model, 200), input_tokens, output_tokens,
        tuple(cost), client_messages, upstream_messages, owner_id,
    )  # fmt: skip


def clipped(column: tuple[str, ...], length: int) -> tuple[str, ...]:
    """The column's values cut to the field's max_length (seldom needed: checked in C first)."""
    if max(map(len, column)) <= length:
        return column
    return tuple(value[:length] for value in column)


def db_values(batch: Entry) -> list:
    """The batch's values in ENTRY_COLUMNS order, one row after the other in one flat list, adapted for this
    connection's database."""
    adapt_cost = connection.ops.adapt_decimalfield_value
    costs = {cost: None if cost is None else adapt_cost(cost, 14, 8) for cost in set(batch.cost_usd)}
    columns = (
        batch.id,
        timestamp_column(batch.timestamp),
        *batch[2:14],
        map(costs.__getitem__, batch.cost_usd),
        batch.client_messages,
        batch.upstream_messages,
    )
    return list(chain.from_iterable(zip(*columns, strict=True)))  # 2:14 = proxy_id .. completion_tokens


def insert(values: list) -> None:
    """Inserts rows ROWS_PER_INSERT at a time with multi-row VALUES, so SQLite's per-statement setup and
    AUTOINCREMENT bookkeeping happen once per 64 rows, on the DB-API cursor, where Django's would rewrite the
    placeholder text on every call (D26)."""
    width = len(ENTRY_COLUMNS)
    cursor = connection.connection.cursor()
    try:
        with connection.wrap_database_errors:
            for start in range(0, len(values), width * ROWS_PER_INSERT):
                chunk = values[start : start + width * ROWS_PER_INSERT]
                cursor.execute(insert_statement(len(chunk) // width, connection.vendor), chunk)
    finally:
        cursor.close()


@functools.lru_cache(maxsize=256)
def insert_statement(rows: int, vendor: str) -> str:
    """On SQLite, OR FAIL: a plain INSERT inside a transaction first copies every page it will change to a
    statement journal, so that a constraint failure can undo that one statement; past 64 KiB the journal goes to
    a temporary file, opened and unlinked for the statement. A batch is all or nothing anyway (a failure rolls
    the transaction back), and with several busy proxies that copying would be most of the writer's page writes
    (D27)."""
    verb, paramstyle = ("INSERT OR FAIL", "?") if vendor == "sqlite" else ("INSERT", "%s")
    row = f"({', '.join([paramstyle] * len(ENTRY_COLUMNS))})"
    return f"{verb} INTO logs_logentry ({', '.join(ENTRY_COLUMNS)}) VALUES {', '.join([row] * rows)}"


def timestamp_column(stamps: tuple[float, ...]) -> Iterable:
    """A column of epoch seconds as this connection's database wants aware UTC datetimes (Django's adapter)."""
    if connection.vendor == "sqlite" and connection.timezone == UTC:
        return SqliteTimestamps().column(stamps)
    adapt = connection.ops.adapt_datetimefield_value
    return (adapt(datetime.fromtimestamp(ts, tz=UTC)) for ts in stamps)


class SqliteTimestamps:
    """The text Django stores on SQLite for an aware UTC datetime ("YYYY-MM-DD HH:MM:SS[.ffffff]"), from epoch
    seconds, rounded as datetime.fromtimestamp rounds. The date-and-time part is formatted once per second
    (D25)."""

    def __init__(self):
        self.second: int | None = None
        self.prefix = ""

    def __call__(self, ts: float) -> str:
        second = int(ts)
        micro = round((ts - second) * 1e6)
        if micro == 1_000_000:
            second, micro = second + 1, 0
        prefix = self.prefix_of(second)
        return f"{prefix}.{micro:06d}" if micro else prefix

    def prefix_of(self, second: int) -> str:
        if second != self.second:
            self.second, self.prefix = second, datetime.fromtimestamp(second, tz=UTC).isoformat(" ")[:-6]
        return self.prefix

    def column(self, stamps: tuple[float, ...]) -> Iterable[str]:
        """Many at once: a batch spans ~0.1 s, so its stamps usually share their second, and then they are
        formatted in C (D25). Not when one has no fraction, or rounds up to the next
        second: those take the call."""
        second = int(min(stamps, default=0))
        if stamps and int(max(stamps)) == second:
            micros = list(map(round, map(mul, map(sub, stamps, repeat(second)), repeat(1e6))))
            if 0 not in micros and 1_000_000 not in micros:
                return map(f"{self.prefix_of(second)}.{{:06d}}".format, micros)
        return map(self, stamps)
