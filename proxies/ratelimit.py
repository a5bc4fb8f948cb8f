"""Requests-per-minute limiting for one proxy: a sliding window of the last minute's admissions.

`RateLimiter` keeps the window in memory (one runner process). `RedisRateLimiter` keeps it in a Redis
sorted set keyed `rubberduck:rpm:<proxy_id>`, so that every runner process serving the proxy shares one
count; the runner picks it when REDIS_URL is set. The Redis check is async (redis.asyncio), because it runs
on the proxy's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from collections import deque

log = logging.getLogger("rubberduck.proxy")

KEY_PREFIX = "rubberduck:rpm:"
WINDOW_SECONDS = 60.0

# One atomic step on the window: drop what is older than a minute, then either refuse (answer the seconds
# until the oldest admission leaves the window) or admit (answer 0). Redis's own clock keeps every process
# on one time line.
SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, math.ceil((tonumber(oldest[2]) + window - now) / 1000))
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RateLimiter:
    """In-memory sliding window; one per proxy, shared by the threads that touch it."""

    shared = False
    window = WINDOW_SECONDS

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


class RedisRateLimiter:
    """The same window in Redis, shared by every process that limits this proxy id. When Redis cannot be
    reached, the limit still holds per process (an in-memory window) and a warning is logged."""

    shared = True

    def __init__(self, url: str, proxy_id: int, *, window: float = WINDOW_SECONDS):
        self.url = url
        self.key = f"{KEY_PREFIX}{proxy_id}"
        self.window_ms = int(window * 1000)
        self.fallback = RateLimiter()
        self.fallback.window = window
        self._clients: dict[asyncio.AbstractEventLoop, object] = {}  # one client per event loop
        self._warned_at = 0.0

    def _script(self):
        loop = asyncio.get_running_loop()
        script = self._clients.get(loop)
        if script is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
            script = self._clients[loop] = client.register_script(SLIDING_WINDOW)
        return script

    async def ahit(self, limit: int) -> int | None:
        """Admits one request: None when allowed, else the whole seconds until a slot frees up."""
        import redis

        try:
            retry_after = await self._script()(keys=[self.key], args=[self.window_ms, limit, os.urandom(8).hex()])
        except (redis.RedisError, OSError) as e:
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("RPM limit of %s falls back to this process's count: Redis failed: %s", self.key, e)
            return self.fallback.hit(limit)
        return int(retry_after) or None

    async def aclose(self) -> None:
        script = self._clients.pop(asyncio.get_running_loop(), None)
        if script is not None:
            await script.registered_client.aclose()
