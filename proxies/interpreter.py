"""Interpreter settings of a process that runs proxies: the GIL switch interval, the cyclic GC's policy, and
busy proxy loops taking turns. configure_process() applies the first two, once, at the start of a process
that serves proxies (`serve`, `runproxies`, the bench's processes), and raises its open-files limit as far as
the system allows (proxies/limits.py, D56); a Runner never changes them.

Every proxy loop of a process shares one GIL with the log writer and db threads, and a full (oldest
generation) collection stops them all while it walks every long-lived object. So start-up objects are frozen out
of the GC's sight, automatic full collections are off, and a thread of its own (`rubberduck-full-gc`) runs one
every RUBBERDUCK_FULL_GC_SECONDS instead (D3). Young collections start at 10,000 net new tracked objects instead
of 700, which requests in flight pass all the time (D6).

Busy proxy loops take turns (TakeTurns), so that no loop waits several turns for the GIL (D7, D8).

Where the web server shares the process (`serve`), its threads run at a lower CPU priority than the proxies'
loops and the log writer: an API call, an export or a purge takes the core only after the traffic (D104).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import sys
import threading
import time

from django.conf import settings

from proxies.limits import raise_descriptor_limit

AUTOMATIC_FULL_OFF = 1_000_000_000  # gen-2 threshold: young-collection count that never arrives (D3)
YOUNG_THRESHOLD = 10_000  # net new tracked objects that start a young collection (CPython: 700) (D6)


def configure_process(switch_interval: float | None = None, full_gc_seconds: float | None = None):
    """Applies the policy for the rest of the process (settings.py's values unless given): the switch interval,
    start-up objects frozen, and unless full_gc_seconds is 0, young collections at YOUNG_THRESHOLD and full
    ones only from the thread this starts and returns."""
    if switch_interval is None:
        switch_interval = settings.RUBBERDUCK_SWITCH_INTERVAL
    if full_gc_seconds is None:
        full_gc_seconds = settings.RUBBERDUCK_FULL_GC_SECONDS
    sys.setswitchinterval(switch_interval)
    raise_descriptor_limit()
    gc.collect()
    gc.freeze()
    if full_gc_seconds <= 0:
        return None
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, AUTOMATIC_FULL_OFF)
    collections = FullCollections(full_gc_seconds)
    collections.start()
    return collections


class FullCollections(threading.Thread):
    """One full collection every `seconds`, in place of the automatic ones configure_process turns off."""

    def __init__(self, seconds: float):
        super().__init__(name="rubberduck-full-gc", daemon=True)
        self.seconds = seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        trim = heap_trimmer()
        while not self.stopping.wait(self.seconds):
            gc.collect()
            trim(0)  # what the collection and the last minute's churn freed goes back to the system (D77)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def heap_trimmer():
    """glibc's malloc_trim: returns the free pages glibc keeps inside its heap to the system, which it otherwise
    holds after churn as resident memory (D77). Elsewhere (musl, macOS) a no-op."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda pad: 0


class TakeTurns:
    """Makes a busy proxy loop hand the GIL and the core to the process's other runnable threads about every
    `seconds` (a proxy's loop: the switch interval). The GIL's forced switch goes to whichever waiting thread
    wakes first, and the one that gave it up takes it back at its next I/O, so some loops would wait several turns;
    os.sched_yield puts this thread behind the others. Checked once per loop iteration that answered a request:
    an idle loop never wakes for it, and a lone busy one pays a syscall a turn. A turn's length sets four busy
    proxies' p99 more than their throughput (D7, D8)."""

    __slots__ = ("loop", "seconds", "due", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float):
        self.loop = loop
        self.seconds = seconds
        self.due = time.monotonic() + seconds
        self.scheduled = False

    def answered(self) -> None:
        """Called by the app after each request, on the loop."""
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._turn)

    def _turn(self) -> None:
        self.scheduled = False
        now = time.monotonic()
        if now >= self.due:
            self.due = now + self.seconds
            os.sched_yield()  # releases the GIL while it yields


def lower_this_thread(nice: int) -> None:
    """Adds `nice` to this thread's nice value; on Linux it is a thread's own, and the threads it starts inherit
    it. `serve` calls it on its main thread once the runner's threads exist, so its web threads yield the core
    to the proxies' loops (D104). Raising it back would take privileges: it is for a thread that stays lower."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
