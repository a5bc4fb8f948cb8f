"""Publishes committed log rows to the channel layer, one group per owner, for `/ws/logs/` (a writer sink).

The writer thread never waits on the layer: a send is scheduled on an event loop and the thread moves on.
- channels-redis (REDIS_URL): on this module's own loop thread, so a `runproxies` process feeds the web
  process's consumers through Redis.
- the in-memory layer only delivers inside one process, and its queues belong to the loop the consumers run
  on (daphne's); consumers register that loop on connect and the send is scheduled there. No consumer
  connected yet means nobody to tell.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict

from channels.layers import InMemoryChannelLayer, get_channel_layer

from logs.records import Entry, rows_of
from logs.selectors import entry_of_row

log = logging.getLogger("rubberduck.logs")

MESSAGE_ENTRIES = 200  # entries per channel-layer message

_consumer_loop: asyncio.AbstractEventLoop | None = None
_own_loop: asyncio.AbstractEventLoop | None = None
_own_lock = threading.Lock()


def group_of(owner_id: int) -> str:
    return f"logs.owner.{owner_id}"


def register_consumer_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _consumer_loop
    _consumer_loop = loop


def _publisher_loop() -> asyncio.AbstractEventLoop:
    global _own_loop
    with _own_lock:
        if _own_loop is None or _own_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="rubberduck-log-publisher", daemon=True).start()
            _own_loop = loop
        return _own_loop


def _loop_for(layer) -> asyncio.AbstractEventLoop | None:
    if isinstance(layer, InMemoryChannelLayer):
        loop = _consumer_loop
        return loop if loop is not None and loop.is_running() else None
    return _publisher_loop()


_warned_at = 0.0


def _report(future) -> None:
    """At most one warning a minute: with Redis away every batch fails, and the rows are in the database anyway."""
    global _warned_at
    if not future.cancelled() and future.exception() is not None and time.monotonic() - _warned_at > 60:
        _warned_at = time.monotonic()
        log.warning("publishing log entries to the live stream failed: %r", future.exception())


def publish_rows(batch: Entry) -> None:
    """A log-writer sink: sends a committed batch (column by column) to its owners' groups."""
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _loop_for(layer)
    if loop is None:
        return
    by_owner: dict[int, list[dict]] = defaultdict(list)
    for e in rows_of(batch):
        by_owner[e.owner_id].append(entry_of_row(e))
    for owner_id, entries in by_owner.items():
        for i in range(0, len(entries), MESSAGE_ENTRIES):
            message = {"type": "log.entries", "entries": entries[i : i + MESSAGE_ENTRIES]}
            asyncio.run_coroutine_threadsafe(layer.group_send(group_of(owner_id), message), loop).add_done_callback(
                _report
            )
