"""Interpreter settings of a process that runs proxies: the GIL switch interval and the cyclic GC's policy.

Every proxy loop of a process shares one GIL with the log writer and db threads, and a full (oldest
generation) collection stops them all while it walks every long-lived object. Under sustained load the
requests in flight at each young collection are promoted, so CPython ran a full collection every one or two
seconds, each 20-60 ms: the hit p99 at C=64 doubled (bench/run.py). So: start-up objects are frozen out of
the GC's sight, automatic full collections are off, and the log writer's thread runs one every
RUBBERDUCK_FULL_GC_SECONDS instead. Young collections (the ones that reclaim almost all garbage) are unchanged.
"""

from __future__ import annotations

import gc
import sys
import time

AUTOMATIC_FULL_OFF = 1_000_000_000  # gen-2 threshold: young-collection count that never arrives


def tune(switch_interval: float, full_gc_seconds: float) -> None:
    sys.setswitchinterval(switch_interval)
    gc.collect()
    gc.freeze()
    if full_gc_seconds > 0:
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, AUTOMATIC_FULL_OFF)


class FullCollections:
    """A log-writer periodic hook: one full collection every `seconds` (none when 0)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.due = time.monotonic() + seconds

    def __call__(self) -> None:
        if self.seconds > 0 and time.monotonic() >= self.due:
            gc.collect()
            self.due = time.monotonic() + self.seconds
