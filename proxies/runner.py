"""The runner: a reconciler that makes the running proxy servers match the desired state in the DB.

`reconcile()` reads desired state, diffs it with what runs, stops what must stop, starts what must start
(a port change is a restart), pushes edited settings into running proxies, writes status/last_error back, and
acknowledges the revision of each proxy it has acted on (`applied_revision`: the API's writes wait for it). It is
idempotent and never raises out of its loop. A nudge (same process), a cheap look every WATCH_SECONDS that finds
the rows changed (another process), or the RUBBERDUCK_RECONCILE_SECONDS tick triggers it. Several runner processes
share the work through leases on Proxy rows.

Its log writer comes from the composition root (rubberduck_site.dataplane), which wires what the writer feeds;
others read the proxies it serves through snapshot(), never through `running`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import NamedTuple, Protocol

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

import providers
from proxies.app import ProxyApp, ProxySettings
from proxies.cache import MemoryLRU, ProxyCache
from proxies.failures import Chaos
from proxies.limits import ClientLimits
from proxies.models import Proxy
from proxies.policy import policies
from proxies.ratelimit import RateLimiter, RedisRateLimiter
from proxies.records import LogRecord
from proxies.server import PortUnavailable, ProxyServer
from proxies.store import ProxyStore

log = logging.getLogger("rubberduck.runner")

LEASE = timedelta(seconds=settings.RUBBERDUCK_LEASE_SECONDS)
# How often an idle runner looks whether proxy rows changed (one cheap query), so that a write made by another
# process is applied within this, not within a whole tick.
WATCH_SECONDS = 0.05
# A tick that finds nothing changed (no write, no claim, no new rules) reads no rows; at most this long goes by
# between two that do, for a change that neither a revision nor updated_at shows (D95).
FULL_TICK_SECONDS = 30.0
# How often a quiet light tick looks for leases run out (a sixth of a lease: another runner's proxies are taken
# over within 1/6 of a lease of its end).
CLAIM_SECONDS = LEASE.total_seconds() / 6
# While a tick starts many proxies, those started are recorded as running this often (and once it has started all).
SAY_STARTED_SECONDS = 0.2
IN_LIST = 500  # ids per `IN (...)`: under the 999 parameters of old SQLite builds
_local: Runner | None = None


def local_runner() -> Runner | None:
    """The runner embedded in this process, if any (the API nudges it directly)."""
    return _local


class LogWriter(Protocol):
    """What the runner needs of its log writer (logs.writer.LogWriter): a thread that writes queued records."""

    def enqueue(self, record: LogRecord) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def state(self) -> dict:
        """queued, limit, written (committed), dropped, overflowing, failing: plain values, read from any thread."""
        ...


@dataclass
class Running:
    server: ProxyServer
    port: int
    tls: bool
    provider: str
    version: object  # Proxy.updated_at when its settings were applied
    cache_cleared_at: object
    cache_version: int = 0
    stopping: bool = False

    def state(self, proxy_id: int) -> ProxyState:
        app, counters = self.server.app, self.server.app.counters
        return ProxyState(proxy_id, app.settings.owner_id, self.port, self.stopping, max(counters.in_flight, 0),
                          counters.requests, counters.cache_hits, counters.errors)  # fmt: skip


class ProxyState(NamedTuple):
    """A served proxy as the rest of the process sees it: plain values copied from its live counters (a tuple:
    a gauge sample copies all of them every second, D97)."""

    proxy_id: int
    owner_id: int
    port: int
    stopping: bool
    in_flight: int
    requests: int
    cache_hits: int
    errors: int


class Runner:
    def __init__(
        self,
        writer: LogWriter,
        *,
        runner_id: str | None = None,
        host: str | None = None,
        logging_enabled: bool | None = None,
    ):
        self.id = runner_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.host = host or settings.RUBBERDUCK_PROXY_HOST
        self.running: dict[int, Running] = {}
        self.lru = MemoryLRU(settings.RUBBERDUCK_CACHE_MEMORY_BYTES)
        # The data plane's one thread for ORM work off the proxies' loops: cache reads and stores, hit counts.
        self.db = ThreadPoolExecutor(1, thread_name_prefix="rubberduck-db")
        self.writer = writer
        enabled = settings.RUBBERDUCK_LOGGING if logging_enabled is None else logging_enabled
        self.enqueue_log = self.writer.enqueue if enabled else (lambda record: None)
        self.limiters: dict[int, RateLimiter | RedisRateLimiter] = {}
        self.failed: dict[int, object] = {}  # proxy id -> updated_at of a start that failed (not retried as is)
        self.rules_version: object = None  # of the owners' policies (proxies/policy.py) as last applied
        self._nudge = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._last_lease = None
        self._seen: tuple | None = None  # the fingerprint() as the last full tick began
        self._committed: tuple | None = None  # committed_since()'s mark when the fingerprint was last read
        self._commits_seen = True  # whether other connections committed since the last light tick
        self._claim_due = 0.0
        self._policies: dict[int, object] = {}  # owner id -> policy, read once per full tick
        self._started: list[int] = []  # started, not yet recorded as running
        self._said = 0.0
        self._ticks = 0
        self._ticked = threading.Condition()
        self._failing_since: float | None = None  # monotonic time of the first failed reconcile of a failing spell

    # lifecycle

    def start(self, embedded: bool = True) -> None:
        global _local
        if embedded:
            _local = self
        self.writer.start()
        self.reconcile()
        self._thread = threading.Thread(target=self._loop, name="rubberduck-runner", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        due = time.monotonic() + settings.RUBBERDUCK_RECONCILE_SECONDS
        full_due = time.monotonic() + FULL_TICK_SECONDS
        while not self._stop.is_set():
            nudged = self._nudge.wait(WATCH_SECONDS)
            if self._stop.is_set():
                break
            now = time.monotonic()
            if nudged or now >= full_due or self._changed():
                self._nudge.clear()
                full = self.reconcile()
            elif now >= due:
                full = self.reconcile(light=True)
            else:
                continue
            due = time.monotonic() + settings.RUBBERDUCK_RECONCILE_SECONDS
            if full:
                full_due = time.monotonic() + FULL_TICK_SECONDS

    def _changed(self) -> bool:
        """Whether the API wrote a proxy since the last full tick began (a write bumps its revision; a create or a
        delete changes the count). On SQLite, asked only once another connection has committed anything since it
        last asked (D95)."""
        try:
            moved = committed_since(self._committed)
            if moved is None:
                return False
            changed = fingerprint() != self._seen
            self._committed, self._commits_seen = moved, True
            return changed
        except DatabaseError:
            return True  # a tick reconnects and says what failed

    def nudge(self) -> None:
        self._nudge.set()

    def wait_tick(self, timeout: float) -> None:
        """Returns once a tick that had not ended when called has ended, or after `timeout` seconds."""
        with self._ticked:
            ticks = self._ticks
            self._ticked.wait_for(lambda: self._ticks != ticks, timeout)

    def shutdown(self, mode: str = "graceful") -> None:
        """Stops every proxy (graceful: in-flight requests finish), flushes the logs, releases leases."""
        global _local
        self._stop.set()
        self._nudge.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            servers = [r.server for r in self.running.values()]
            for server in servers:  # all at once, so their graceful waits overlap
                server.stop(mode, wait=False)
            for server in servers:
                server.join()
            ids = list(self.running)
            self.running.clear()
        self.writer.stop()
        self.db.shutdown(wait=True)
        close_old_connections()
        Proxy.objects.filter(id__in=ids).update(status=Proxy.Status.STOPPED)
        Proxy.objects.filter(runner_id=self.id).update(runner_id="", lease_expires_at=None)
        if _local is self:
            _local = None

    # reconciling

    def reconcile(self, light: bool = False) -> bool:
        """One tick; says whether it was a full one. A `light` one reads no proxy rows when nothing has changed
        since the last full one: it renews leases and hands hit counts over, and goes on as a full one otherwise
        (D95)."""
        full = True
        with self._lock:
            try:
                close_old_connections()
                full = not (light and self._unchanged())
                if full:
                    self._reconcile()
            except Exception:
                self._seen = self._committed = None  # the next tick is a full one
                self._failed()
            else:
                if self._failing_since is not None:
                    log.warning("reconcile works again after %.1f s", time.monotonic() - self._failing_since)
                    self._failing_since = None
        with self._ticked:
            self._ticks += 1
            self._ticked.notify_all()
        return full

    def _failed(self) -> None:
        """One line when reconciles start failing (the database is away), not one per retry: the proxies keep
        serving as they are meanwhile, and every tick tries again (D75)."""
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.exception("reconcile failed; the proxies serve on as they are, retrying every tick")
        else:
            time.sleep(WATCH_SECONDS * 4)  # the watch says "changed" while the database fails: not 20 tries a second

    def _unchanged(self) -> bool:
        """For a light tick: whether nothing calls for a full one (no write since the last full tick, nothing
        claimed, the same rules); if so, hands the proxies' hit counts over. While nothing at all was committed
        since the last light tick, only a lease running out can have changed: looked for every CLAIM_SECONDS."""
        if self._changed():
            return False
        quiet, self._commits_seen = not self._commits_seen, False
        if not quiet or time.monotonic() >= self._claim_due:
            if self._claim() or policies().version() != self.rules_version:
                return False
        for running in self.running.values():
            if not running.stopping:
                self._hand_hits(running.server.app.cache)
        return True

    def _hand_hits(self, cache: ProxyCache) -> None:
        hits = cache.take_hits()
        if hits:
            self.db.submit(cache.store.add_hits, hits)

    def _claim(self) -> bool:
        """Claims proxies that want to run and nobody serves; renews this runner's leases now and then. Says
        whether it may have claimed one."""
        self._claim_due = time.monotonic() + CLAIM_SECONDS
        now = timezone.now()
        renew = self._last_lease is None or now - self._last_lease > LEASE / 3
        claimed = others_claimable(now, self.id)  # a read, so an idle tick never takes the write lock
        if not (renew or claimed):
            return False
        claimable = Q(runner_id="") | Q(lease_expires_at__lt=now)
        if renew:
            self._last_lease = now
            claimable |= Q(runner_id=self.id)
        Proxy.objects.filter(claimable, desired_state=Proxy.Desired.RUNNING).update(
            runner_id=self.id, lease_expires_at=now + LEASE
        )
        return claimed

    def _reconcile(self) -> None:
        self._seen = fingerprint()
        self._policies = {}
        self._said = time.monotonic()
        self._claim()
        rows = {p.id: p for p in Proxy.objects.filter(runner_id=self.id).select_related(None)}
        rules_version = policies().version()
        rules_changed, self.rules_version = rules_version != self.rules_version, rules_version
        wanted = {pid: p for pid, p in rows.items() if p.desired_state == Proxy.Desired.RUNNING}
        waiting = set()  # proxies whose row this tick cannot act on yet: a later tick acknowledges them

        for pid, running in list(self.running.items()):
            row = rows.get(pid)
            if running.stopping:
                if running.server.stopped.is_set():
                    del self.running[pid]
                else:
                    waiting.add(pid)
                continue
            if row is None or pid not in wanted:
                self._stop_async(pid, row.stop_mode if row is not None else Proxy.StopMode.GRACEFUL)
                waiting.add(pid)
            elif (row.port, row.tls, row.provider) != (running.port, running.tls, running.provider):
                self._stop_now(pid, "graceful")
            else:
                if row.status != Proxy.Status.RUNNING:
                    self._heal_status(pid, running)
                if row.updated_at != running.version:
                    running.server.app.settings = self._settings_of(row)
                    running.version = row.updated_at
                elif rules_changed:
                    running.server.app.settings = replace(running.server.app.settings, **self._owner_terms(row))
                cache = running.server.app.cache
                if row.cache_cleared_at != running.cache_cleared_at:
                    extra = self.db.submit(cache.clear).result()  # after any store in flight: none outlives it
                    running.cache_cleared_at = row.cache_cleared_at
                    if extra:  # reported by the clear's answer (proxies/api.py)
                        cleared = Proxy.objects.filter(id=pid, cache_cleared_at=row.cache_cleared_at)
                        cleared.update(cache_cleared_extra=extra)
                    running.cache_version = row.cache_version  # the clear forgot every key
                elif row.cache_version != running.cache_version:
                    self.db.submit(cache.reload).result()  # entries deleted or imported: served as they are now
                    running.cache_version = row.cache_version
                self._hand_hits(cache)

        self._forget_deleted()
        stopping_on = {r.port for r in self.running.values() if r.stopping}
        for pid, row in wanted.items():
            if pid not in self.running and self.failed.get(pid) != row.updated_at:
                if row.port in stopping_on:
                    waiting.add(pid)  # freed in a moment by a proxy deleted or stopped: its stop nudges the next tick
                    continue
                self._start(row)
                if time.monotonic() - self._said > SAY_STARTED_SECONDS:
                    self._say_started()
                    self._said = time.monotonic()
        self._say_started()

        applied = defaultdict(list)  # revision -> the proxies that have acted on it
        for pid, row in rows.items():
            if pid in waiting:
                continue
            if pid not in wanted:
                self._let_go(row)
            elif row.applied_revision < row.revision:
                applied[row.revision].append(pid)
        for revision, pids in applied.items():
            for chunk in range(0, len(pids), IN_LIST):
                ids = pids[chunk : chunk + IN_LIST]
                Proxy.objects.filter(id__in=ids, applied_revision__lt=revision).update(applied_revision=revision)

    def _forget_deleted(self) -> None:
        """Drops the rate-limit windows and failed starts of deleted proxies, so proxies created and deleted for
        ever do not grow the runner: more of them than proxies exist means some are gone (one query then)."""
        if max(len(self.limiters), len(self.failed)) <= self._seen[0]:
            return
        alive = set(Proxy.objects.filter(id__in=self.limiters.keys() | self.failed.keys()).values_list("id", flat=True))
        for known in (self.limiters, self.failed):
            for pid in known.keys() - alive:
                del known[pid]

    def _let_go(self, row: Proxy) -> None:
        """Records a proxy that wants to be stopped, and that this runner no longer serves, as stopped, and gives up
        its lease (unless a start came meanwhile: the next tick starts it)."""
        Proxy.objects.filter(id=row.id, desired_state=Proxy.Desired.STOPPED).update(
            status=Proxy.Status.STOPPED, runner_id="", lease_expires_at=None, applied_revision=row.revision
        )

    def _heal_status(self, pid: int, running: Running) -> None:
        """Says running again for a proxy served as its row asks, whatever status an edit wrote over it meanwhile."""
        served = Proxy.objects.filter(
            id=pid, desired_state=Proxy.Desired.RUNNING, port=running.port, tls=running.tls, provider=running.provider
        )
        served.exclude(status=Proxy.Status.RUNNING).update(status=Proxy.Status.RUNNING, last_error=None)

    def _settings_of(self, row: Proxy) -> ProxySettings:
        limiter = self.limiters.get(row.id)
        if limiter is None:  # kept across config edits and restarts; shared between processes via Redis
            url = settings.REDIS_URL
            limiter = self.limiters[row.id] = RedisRateLimiter(url, row.id) if url else RateLimiter()
        return ProxySettings(
            proxy_id=row.id,
            owner_id=row.owner_id,
            upstream_url=row.upstream_url,
            replay=row.replay,
            cache_mode=row.cache_mode,
            chaos=Chaos(row.failures, limiter),
            max_entry_bytes=settings.RUBBERDUCK_CACHE_MAX_ENTRY_BYTES,
            **self._owner_terms(row),
        )

    def _owner_terms(self, row: Proxy) -> dict:
        """What the proxy may use of the server, by its owner's policy (proxies/policy.py): read here, in the
        runner's thread, never on a request's path; once per owner and full tick (D96)."""
        policy = self._policies.get(row.owner_id)
        if policy is None:
            policy = self._policies[row.owner_id] = policies().of(row.owner)
        return {
            "provider": providers.get(row.provider).for_owner(server_credentials=policy.server_credentials),
            "private_networks": policy.private_networks,
        }

    def _start(self, row: Proxy) -> None:
        try:
            store = ProxyStore(row.id)  # nothing read at start: its key filter is built once it serves (D94)
            cache = ProxyCache(row.id, self.lru, self.db, store)
            app = ProxyApp(self._settings_of(row), cache, self.enqueue_log, ClientLimits.from_settings())
            ssl_context = None
            if row.tls:
                from proxies.tls import server_context  # cryptography is heavy: loaded for TLS only (D33)

                ssl_context = server_context(self.host)
            server = ProxyServer(
                app,
                self.host,
                row.port,
                graceful_seconds=settings.RUBBERDUCK_GRACEFUL_STOP_SECONDS,
                upstream_timeout=settings.RUBBERDUCK_UPSTREAM_TIMEOUT,
                ssl_context=ssl_context,
                on_stopped=self.nudge,
            )
            self.lru.clear(row.id)  # what an earlier run here kept may have been cleared since
            server.start()
        except (PortUnavailable, KeyError, OSError, ValueError) as e:
            message = str(e) if not isinstance(e, KeyError) else f"Unknown provider {row.provider!r}."
            log.warning("proxy %s could not start: %s", row.id, message)
            Proxy.objects.filter(id=row.id).update(status=Proxy.Status.ERROR, last_error=message)
            self.failed[row.id] = row.updated_at
            return
        store.build_filter(self.db.submit)
        self.failed.pop(row.id, None)
        self.running[row.id] = Running(
            server, row.port, row.tls, row.provider, row.updated_at, row.cache_cleared_at, row.cache_version
        )
        self._started.append(row.id)
        log.info("proxy %s serving on %s:%s", row.id, self.host, row.port)

    def _say_started(self) -> None:
        """Records the proxies started since last called as running, a few statements for all of them (D96)."""
        started, self._started = self._started, []
        for chunk in range(0, len(started), IN_LIST):
            ids = started[chunk : chunk + IN_LIST]
            Proxy.objects.filter(id__in=ids).update(status=Proxy.Status.RUNNING, last_error=None)

    def _stop_now(self, pid: int, mode: str) -> None:
        running = self.running.pop(pid)
        running.server.stop(mode)

    def _stop_async(self, pid: int, mode: str) -> None:
        """Asks one proxy to stop and moves on, so a graceful wait never holds up other proxies: its server nudges
        the runner when it has stopped, and that reconcile records it (_let_go)."""
        running = self.running[pid]
        running.stopping = True
        running.server.stop(mode, wait=False)

    def activity(self) -> tuple[int, int, int]:
        """A mark that moves whenever snapshot() would tell something new, far cheaper to take: how many proxies
        it serves and stops, and a sum that every request's start and end raise (2 × requests + in flight), so a
        gauge sample of idle proxies builds no snapshot (D97)."""
        served = stopping = moved = 0
        for running in list(self.running.values()):
            counters = running.server.app.counters
            served += 1
            stopping += running.stopping
            moved += 2 * counters.requests + counters.in_flight
        return served, stopping, moved

    def snapshot(self) -> list[ProxyState]:
        """The proxies this runner serves, stopping ones included; read from any thread (metrics, the bench)."""
        return [running.state(pid) for pid, running in list(self.running.items())]


def _fingerprint_sql() -> str:
    quote = connection.ops.quote_name
    revision = quote(Proxy._meta.get_field("revision").column)
    updated = quote(Proxy._meta.get_field("updated_at").column)
    return f"SELECT COUNT(*), COALESCE(SUM({revision}), 0), MAX({updated}) FROM {quote(Proxy._meta.db_table)}"


FINGERPRINT = _fingerprint_sql()


def _claimable_sql() -> str:
    quote = connection.ops.quote_name
    column = {f.name: quote(f.column) for f in Proxy._meta.concrete_fields}
    return (
        f"SELECT 1 FROM {quote(Proxy._meta.db_table)} WHERE {column['desired_state']} = %s AND "
        f"({column['runner_id']} = '' OR {column['lease_expires_at']} < %s) AND {column['runner_id']} <> %s LIMIT 1"
    )


CLAIMABLE = _claimable_sql()


def others_claimable(now, runner_id: str) -> bool:
    """Whether a proxy wants to run that no runner holds, or whose lease has run out, but this runner's own. Plain
    SQL built once, as light ticks ask it twice a second (D95)."""
    with connection.cursor() as cursor:
        cursor.execute(
            CLAIMABLE, (Proxy.Desired.RUNNING.value, connection.ops.adapt_datetimefield_value(now), runner_id)
        )
        return cursor.fetchone() is not None


def committed_since(mark: tuple | None) -> tuple | None:
    """On SQLite: None when no other connection has committed since `mark` (this connection's PRAGMA data_version
    then, ~1 µs), else the mark to give next time; elsewhere always a mark. The watch reads the fingerprint (a
    scan of the proxies, ~0.1 ms at 500) 20 times a second; an idle server commits nothing."""
    if connection.vendor != "sqlite":
        return ()
    connection.ensure_connection()
    raw = connection.connection  # sqlite3's own: Django's cursor costs several times the pragma
    now = (id(raw), raw.execute("PRAGMA data_version").fetchone()[0])  # comparable on one connection only
    return None if now == mark else now


def fingerprint() -> tuple:
    """How many proxies there are, the sum of their revisions, which every write of the API changes, and when one was
    last saved (an edit in the admin, which counts no revision). Plain SQL
    built once: the watch runs it 20 times a second, and the ORM took ~1.2 ms of CPU a query (this ~20 µs)."""
    with connection.cursor() as cursor:
        cursor.execute(FINGERPRINT)
        return tuple(cursor.fetchone())
