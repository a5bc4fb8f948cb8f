"""Requests-per-minute limiting for one proxy: a sliding window of the last minute's admissions."""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class RateLimiter:
    """In-memory sliding window; one per proxy, shared by the threads that touch it."""

    window = 60.0

    def __init__(self):
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()

    def hit(self, limit: int) -> int | None:
        """Admits one request: None when allowed, else the whole seconds until a slot frees up."""
        now = time.monotonic()
        with self._lock:
            while self._hits and self._hits[0] <= now - self.window:
                self._hits.popleft()
            if len(self._hits) >= limit:
                return max(1, math.ceil(self._hits[0] + self.window - now))
            self._hits.append(now)
            return None
