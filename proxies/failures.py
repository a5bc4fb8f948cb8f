"""Failure simulation: a proxy's failure config compiled once into the rules the request path evaluates.

Order of evaluation (documented in the README): IP filter -> RPM limit -> timeout (delay/hang) ->
error injection; only then the cache and the upstream. Every random draw comes from one generator per
proxy, seeded by the config's `seed` when given, so a seeded proxy fires the same rules in the same order.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import random
from dataclasses import dataclass

from proxies.ratelimit import RateLimiter


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the failure rules decided for one request."""

    failure: str | None = None  # the log's failure type
    status: int | None = None  # answer with the provider's error of this status
    delay: float = 0.0  # wait this long, then serve normally
    hang: bool = False  # never answer; wait for the client to give up
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class StreamRule:
    cut_after_events: int | None
    chunk_delay_ms: float


PASS = Verdict()


class IPMatcher:
    """Exact addresses (v4 and v6), CIDR ranges, and `*` wildcards per IPv4 octet (or fnmatch for v6)."""

    def __init__(self, patterns: list[str]):
        self.networks: list = []
        self.globs: list[str] = []
        for pattern in patterns:
            kind, value = parse_ip_pattern(pattern)
            (self.networks if kind == "net" else self.globs).append(value)

    def __bool__(self):
        return bool(self.networks or self.globs)

    def matches(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if getattr(address, "ipv4_mapped", None):
            address = address.ipv4_mapped
        if any(address in net for net in self.networks):
            return True
        return any(fnmatch.fnmatchcase(str(address), glob) for glob in self.globs)


def parse_ip_pattern(pattern: str):
    """("net", ip_network) or ("glob", pattern). Raises ValueError for anything else."""
    pattern = pattern.strip()
    if "*" in pattern:
        octets = pattern.split(".")
        if len(octets) == 4 and all(o == "*" or (o.isdigit() and int(o) < 256) for o in octets):
            fixed = [o for o in octets if o != "*"]
            if octets[: len(fixed)] == fixed:  # trailing wildcards only: a CIDR block
                return "net", ipaddress.ip_network(".".join(fixed + ["0"] * (4 - len(fixed))) + f"/{8 * len(fixed)}")
            return "glob", pattern
        if ":" in pattern and all(c in "0123456789abcdefABCDEF:*" for c in pattern):
            return "glob", pattern.lower()
        raise ValueError(f"{pattern!r} is not an IP address, CIDR range or wildcard pattern.")
    return "net", ipaddress.ip_network(pattern, strict=False)


class Chaos:
    """The compiled failure config of one proxy."""

    def __init__(self, config: dict, limiter: RateLimiter | None = None):
        config = config or {}
        self.rng = random.Random(config.get("seed"))
        timeout = config.get("timeout") or {}
        self.timeout_mode = timeout.get("mode", "off")
        self.timeout_seconds = float(timeout.get("seconds") or 0)
        self.timeout_rate = float(timeout.get("rate", 1.0))
        self.errors = [(int(e["status"]), float(e.get("rate", 1.0))) for e in config.get("errors") or []]
        self.allow = IPMatcher(config.get("ip_allow") or [])
        self.block = IPMatcher(config.get("ip_block") or [])
        self.rpm = config.get("rpm_limit")
        self.limiter = limiter
        stream = config.get("stream") or {}
        self.stream_rate = float(stream.get("rate", 1.0))
        self.stream = (
            StreamRule(stream.get("cut_after_events"), float(stream.get("chunk_delay_ms") or 0))
            if stream.get("cut_after_events") is not None or stream.get("chunk_delay_ms")
            else None
        )
        self.active = bool(
            self.allow or self.block or self.rpm or self.errors or self.timeout_mode != "off" or self.stream
        )

    def fires(self, rate: float) -> bool:
        # Always draw, so that a seeded sequence does not depend on which rules fired before.
        return self.rng.random() < rate

    def decide(self, ip: str) -> Verdict:
        if not self.active:
            return PASS
        if self.block.matches(ip) or (self.allow and not self.allow.matches(ip)):
            return Verdict("ip_blocked", status=403)
        if self.rpm and self.limiter is not None:
            retry_after = self.limiter.hit(int(self.rpm))
            if retry_after is not None:
                return Verdict("rate_limit", status=429, retry_after=retry_after)
        if self.timeout_mode != "off" and self.fires(self.timeout_rate):
            if self.timeout_mode == "hang":
                return Verdict("hang", hang=True)
            delay = Verdict("timeout", delay=self.timeout_seconds)
        else:
            delay = PASS
        for status, rate in self.errors:
            if self.fires(rate):
                retry_after = 1 if status in (429, 503, 529) else None
                return Verdict("error", status=status, delay=delay.delay, retry_after=retry_after)
        return delay

    def stream_rule(self) -> StreamRule | None:
        if self.stream is None or not self.fires(self.stream_rate):
            return None
        return self.stream
