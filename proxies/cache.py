"""The response cache: a byte-bounded in-memory LRU in front of the durable CacheEntry table.

The request path never touches the database directly: lookups that miss memory, of keys the store's filter says
may be stored, go to `db` (a one-thread executor), and stores are queued there too. The runner hands each cache its
store (proxies.store.ProxyStore), which does that database work.
"""

from __future__ import annotations

import asyncio
import logging
import marshal
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from providers.base import Usage

log = logging.getLogger("rubberduck.proxy")


@dataclass(slots=True)
class Cached:
    status: int
    headers: tuple[tuple[str, str], ...]  # without framing headers (content-length, transfer-encoding)
    body: bytes
    chunks: tuple[tuple[float, int], ...] | None  # for streams: (offset_ms, length) per chunk as recorded
    usage: Usage | None
    wire_headers: tuple[tuple[bytes, bytes], ...] | None = None  # as a replay sends them, built on first hit
    # What the store writes of the request beside the answer (method, path, query, model, stream); set on entries
    # the proxy recorded, never kept in memory (frozen() leaves it out). The store removes credentials from it.
    details: tuple[str, str, str, str | None, bool] | None = None

    @property
    def size(self) -> int:
        return len(self.body) + 64 * (len(self.chunks or ()) + len(self.headers)) + 200

    def frozen(self) -> tuple[int, bytes, bytes]:
        """The entry as the LRU keeps it: its size, its body and the rest marshalled into bytes. Such a tuple holds
        nothing the cyclic GC tracks, so a full LRU adds nothing to a full collection (D5)."""
        usage = None if self.usage is None else tuple(getattr(self.usage, f) for f in Usage.__slots__)
        return self.size, self.body, marshal.dumps((self.status, self.headers, self.chunks, usage, self.wire_headers))

    @classmethod
    def thawed(cls, frozen: tuple[int, bytes, bytes]) -> Cached:
        _, body, rest = frozen
        status, headers, chunks, usage, wire_headers = marshal.loads(rest)
        return cls(status, headers, body, chunks, None if usage is None else Usage(*usage), wire_headers)


# Entries last hit, also kept thawed (bodies shared with the LRU), so a hit skips unmarshalling (D13).
THAWED_ENTRIES = 256


class MemoryLRU:
    """One process-wide LRU, bounded by the bytes of the entries it holds, shared by all proxy threads."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple[int, str], tuple[int, bytes, bytes]] = OrderedDict()  # Cached.frozen()
        self._thawed: dict[tuple[int, str], Cached] = {}  # of the entries last hit, oldest first; all in _entries
        self._lock = threading.Lock()

    def get(self, proxy_id: int, key: str) -> Cached | None:
        k = (proxy_id, key)
        with self._lock:
            kept = self._entries.get(k)
            if kept is None:
                return None
            self._entries.move_to_end(k)
            entry = self._thawed.get(k)
            if entry is None:
                entry = self._thawed[k] = Cached.thawed(kept)
                if len(self._thawed) > THAWED_ENTRIES:
                    del self._thawed[next(iter(self._thawed))]
            return entry

    def put(self, proxy_id: int, key: str, entry: Cached) -> None:
        kept = entry.frozen()
        size = kept[0]
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop((proxy_id, key), None)
            if old is not None:
                self.bytes -= old[0]
                self._thawed.pop((proxy_id, key), None)
            self._entries[(proxy_id, key)] = kept
            self.bytes += size
            while self.bytes > self.max_bytes:
                gone, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted[0]
                self._thawed.pop(gone, None)

    def clear(self, proxy_id: int) -> set[str]:
        """Forgets every entry of the proxy; returns their keys."""
        with self._lock:
            gone = [k for k in self._entries if k[0] == proxy_id]
            for k in gone:
                self.bytes -= self._entries.pop(k)[0]
                self._thawed.pop(k, None)
        return {key for _, key in gone}

    def forget(self, proxy_id: int, keys) -> None:
        with self._lock:
            for key in keys:
                kept = self._entries.pop((proxy_id, key), None)
                if kept is not None:
                    self.bytes -= kept[0]
                    self._thawed.pop((proxy_id, key), None)


class Store(Protocol):
    """Where a proxy's answers are kept beyond memory (proxies.store.ProxyStore); called on the db executor."""

    def may_hold(self, key: str) -> bool: ...  # on the proxy's loop: False only for a key surely not stored

    def entry(self, key: str) -> Cached | None: ...

    def save(self, entries: dict[str, Cached], submit=None) -> None: ...

    def clear(self) -> set[str]: ...

    def reload(self, submit) -> None: ...


# Stores wait this long to be written together: statement and transaction set-up dominate a lone entry (D17).
STORE_GATHER_SECONDS = 0.05


class ProxyCache:
    """The cache of one proxy: memory first, then its store for keys stored there."""

    def __init__(self, proxy_id: int, lru: MemoryLRU, db: Executor, store: Store):
        self.proxy_id = proxy_id
        self.lru = lru
        self.db = db
        self.store = store
        self.pending_hits: dict[str, int] = {}
        # Entries waiting to be stored, all written by one db job (D17). deque append/popleft are atomic across threads.
        self.pending: deque[tuple[str, Cached]] = deque()
        self._store_scheduled = False

    async def get(self, key: str) -> Cached | None:
        entry = self.lru.get(self.proxy_id, key)
        if entry is None and self.store.may_hold(key):
            loop = asyncio.get_running_loop()
            try:
                entry = await loop.run_in_executor(self.db, self.store.entry, key)
            except Exception as e:  # the database is away: a miss, answered by the upstream (D74)
                self.store_failed("reading a stored answer", e)
                return None
            if entry is not None:
                self.lru.put(self.proxy_id, key, entry)
        if entry is not None:
            self.pending_hits[key] = self.pending_hits.get(key, 0) + 1
        return entry

    def remember(self, key: str, entry: Cached) -> None:
        """Replaces the entry in memory only (a replay's first hit adds the headers it encoded)."""
        self.lru.put(self.proxy_id, key, entry)

    def put(self, key: str, entry: Cached) -> None:
        """Called on the proxy's loop: the entry is served from memory at once and stored STORE_GATHER_SECONDS
        later with the others that arrived meanwhile."""
        self.lru.put(self.proxy_id, key, entry)
        self.pending.append((key, entry))
        if not self._store_scheduled:
            self._store_scheduled = True
            asyncio.get_running_loop().call_later(STORE_GATHER_SECONDS, self.store_pending)

    def store_pending(self) -> None:
        """Hands what is pending to the db thread; on the proxy's loop, like put() (the flag is theirs alone). Also
        called when the proxy stops, so nothing is left waiting on a timer of a closed loop."""
        self._store_scheduled = False
        if self.pending:
            self.db.submit(self._store_pending)

    def _store_pending(self) -> None:
        """Runs on the db executor: writes every entry queued so far in one transaction."""
        batch = {}
        while self.pending:
            key, entry = self.pending.popleft()
            batch[key] = entry
        if batch:
            try:
                self.store.save(batch, self.db.submit)
            except Exception as e:  # the database is away: these answers are kept in memory only (D74)
                self.store_failed(f"storing {len(batch)} answers (kept in memory only)", e)
            else:
                self._failing_since = None

    _failing_since: float | None = None

    def store_failed(self, doing: str, error: Exception) -> None:
        """One warning per minute of a failing spell, not one per request."""
        now = time.monotonic()
        if self._failing_since is None or now - self._failing_since > 60:
            self._failing_since = now
            log.warning("proxy %s cache: %s failed: %s", self.proxy_id, doing, error)

    def take_hits(self) -> dict[str, int]:
        """The hit counts gathered since the last call (flushed to the table by the runner)."""
        hits, self.pending_hits = self.pending_hits, {}
        return hits

    def clear(self) -> int:
        """Runs on the db executor, after any store in flight: forgets every answer, in memory and stored. Returns
        how many it removed beyond the rows stored before (those the API's clear deleted): answers pending a store
        or only in memory, and rows a store in flight wrote after the API's delete."""
        held = set()
        while self.pending:
            held.add(self.pending.popleft()[0])
        held |= self.lru.clear(self.proxy_id)
        only_held = {key for key in held if not self.store.may_hold(key)}  # a false positive counts as stored
        removed = self.store.clear()
        return len(removed | only_held)

    def reload(self) -> None:
        """Runs on the db executor after the API wrote single entries (deleted one, imported a file): forgets the
        proxy's answers in memory, which are read from their rows as they are now, and has the store's key filter
        built anew (nothing per key is held to tell which changed, D94)."""
        self.lru.clear(self.proxy_id)
        self.store.reload(self.db.submit)
