"""Failure simulation: a proxy's failure config compiled once into the rules the request path evaluates.

Order of evaluation (docs/failures.md): IP filter -> RPM limit -> timeout (delay/hang) -> error injection;
only then the cache and the upstream. Every random draw comes from one generator per proxy, seeded by the
config's `seed` when given, so a seeded proxy fires the same rules in the same order. Every request that
gets past the IP filter and the RPM limit makes the same draws whatever fires: one for the timeout rule
(when configured), one for the error rules (when configured), and one per streamed answer for the stream
rule (when configured). So one rule's outcome never shifts another rule's sequence.
"""

from __future__ import annotations

import ipaddress
import random
import re
from dataclasses import dataclass

from proxies.ratelimit import RateLimiter, RedisRateLimiter


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the failure rules decided for one request."""

    failure: str | None = None  # the log's failure type
    status: int | None = None  # answer with the provider's error of this status
    delay: float = 0.0  # wait this long, then serve normally (or answer `status`, when both fired)
    hang: bool = False  # never answer; wait for the client to give up
    retry_after: int | None = None  # seconds, advertised in the provider's retry headers
    limit: int | None = None  # the RPM limit, when it is what fired (for the provider's rate-limit headers)
    check_rpm: bool = False  # ask the shared limiter with `await Chaos.after_shared_rpm()` for the verdict


@dataclass(frozen=True, slots=True)
class StreamRule:
    cut_after_events: int | None
    chunk_delay_ms: float


PASS = Verdict()
IP_BLOCKED = Verdict("ip_blocked", status=403)
CHECK_RPM = Verdict(check_rpm=True)
# Statuses whose real answers carry a retry hint; an injected one advertises a 1 s wait.
RETRY_HINT_STATUSES = frozenset({429, 503, 529})
_OCTET_GLOB = re.compile(r"\*|25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d")
_V6_GLOB = re.compile(r"[0-9a-f*]{1,4}")


class IPMatcher:
    """Exact addresses (v4 and v6), CIDR ranges, and `*` wildcards (a whole IPv4 octet or IPv6 group)."""

    def __init__(self, patterns: list[str]):
        self.networks: list = []
        self.globs: list[tuple[int, tuple[str, ...]]] = []  # (ip version, parts with "*" for any)
        for pattern in patterns:
            kind, value = parse_ip_pattern(pattern)
            (self.networks if kind == "net" else self.globs).append(value)

    def __bool__(self):
        return bool(self.networks or self.globs)

    def matches(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        if getattr(address, "ipv4_mapped", None):  # ::ffff:10.0.0.1 from a dual-stack socket is 10.0.0.1
            address = address.ipv4_mapped
        if any(address.version == net.version and address in net for net in self.networks):
            return True
        if not self.globs:
            return False
        if address.version == 4:
            parts = tuple(str(address).split("."))
        else:
            parts = tuple(f"{int(group, 16):x}" for group in address.exploded.split(":"))
        return any(
            version == address.version and all(p == "*" or p == a for p, a in zip(glob, parts, strict=True))
            for version, glob in self.globs
        )


def parse_ip_pattern(pattern: str):
    """("net", ip_network) or ("glob", (version, parts)). Raises ValueError for anything else.

    `10.0.0.0/8` and `192.168.*.*` (trailing wildcards) are networks; `10.*.3.*` matches octet by octet.
    IPv6 wildcards stand for whole groups (`2001:db8:*:*:*:*:*:*`, or with `::` for runs of zeros)."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("An IP pattern must be a non-empty string.")
    pattern = pattern.strip()
    if "*" not in pattern:
        return "net", ipaddress.ip_network(pattern, strict=False)
    if "/" in pattern:
        raise ValueError(f"{pattern!r}: a wildcard pattern cannot also have a prefix length.")
    if ":" not in pattern:
        octets = pattern.split(".")
        if len(octets) != 4 or not all(_OCTET_GLOB.fullmatch(o) for o in octets):
            raise ValueError(f"{pattern!r} is not an IPv4 wildcard pattern like 192.168.*.* or 10.*.3.*.")
        fixed = [o for o in octets if o != "*"]
        if octets[: len(fixed)] == fixed:  # trailing wildcards only: a CIDR block
            return "net", ipaddress.ip_network(".".join(fixed + ["0"] * (4 - len(fixed))) + f"/{8 * len(fixed)}")
        return "glob", (4, tuple(octets))
    return "glob", (6, _v6_glob_parts(pattern.lower()))


def _v6_glob_parts(pattern: str) -> tuple[str, ...]:
    if pattern.count("::") > 1:
        raise ValueError(f"{pattern!r} has more than one '::'.")
    if "::" in pattern:
        head, tail = pattern.split("::")
        head_parts, tail_parts = head.split(":") if head else [], tail.split(":") if tail else []
        missing = 8 - len(head_parts) - len(tail_parts)
        if missing < 1:
            raise ValueError(f"{pattern!r} is not an IPv6 wildcard pattern.")
        parts = head_parts + ["0"] * missing + tail_parts
    else:
        parts = pattern.split(":")
    if len(parts) != 8 or not all(_V6_GLOB.fullmatch(p) and (p == "*" or "*" not in p) for p in parts):
        raise ValueError(f"{pattern!r} is not an IPv6 wildcard pattern like 2001:db8:*:*:*:*:*:*.")
    return tuple(p if p == "*" else f"{int(p, 16):x}" for p in parts)


class Chaos:
    """The compiled failure config of one proxy. `decide()` runs on the event loop for every request: with
    no rule configured it returns PASS at once."""

    def __init__(self, config: dict, limiter: RateLimiter | RedisRateLimiter | None = None):
        config = config or {}
        self.rng = random.Random(config.get("seed"))
        timeout = config.get("timeout") or {}
        self.timeout_mode = timeout.get("mode", "off")
        self.timeout_seconds = float(timeout.get("seconds") or 0)
        self.timeout_rate = float(timeout.get("rate", 1.0))
        # Error rules share one draw, split into consecutive intervals: each status fires with its own rate.
        self.error_bounds: list[tuple[int, float]] = []
        upper = 0.0
        for rule in config.get("errors") or []:
            upper += float(rule.get("rate", 1.0))
            self.error_bounds.append((int(rule["status"]), upper))
        if self.error_bounds and upper > 1.0 - 1e-9:  # rates adding up to 1 always fire, float error aside
            self.error_bounds[-1] = (self.error_bounds[-1][0], 1.0)
        self.allow = IPMatcher(config.get("ip_allow") or [])
        self.block = IPMatcher(config.get("ip_block") or [])
        self.rpm = int(config.get("rpm_limit") or 0)
        self.limiter = limiter if self.rpm else None
        stream = config.get("stream") or {}
        self.stream_rate = float(stream.get("rate", 1.0))
        self.stream = (
            StreamRule(stream.get("cut_after_events"), float(stream.get("chunk_delay_ms") or 0))
            if stream.get("cut_after_events") is not None or stream.get("chunk_delay_ms")
            else None
        )
        self.active = bool(self.allow or self.block or self.limiter or self.error_bounds or self.timeout_mode != "off")

    def decide(self, ip: str) -> Verdict:
        """The verdict for a request from `ip`; CHECK_RPM when a shared limiter must be asked (async)."""
        if not self.active:
            return PASS
        if (self.block and self.block.matches(ip)) or (self.allow and not self.allow.matches(ip)):
            return IP_BLOCKED
        if self.limiter is not None:
            if self.limiter.shared:
                return CHECK_RPM
            retry_after = self.limiter.hit(self.rpm)
            if retry_after is not None:
                return self.rate_limited(retry_after)
        return self.draw()

    async def after_shared_rpm(self) -> Verdict:
        """The rest of `decide()` once it said CHECK_RPM: one round trip to the shared limiter, then draws."""
        retry_after = await self.limiter.ahit(self.rpm)
        if retry_after is not None:
            return self.rate_limited(retry_after)
        return self.draw()

    def rate_limited(self, retry_after: int) -> Verdict:
        return Verdict("rate_limit", status=429, retry_after=retry_after, limit=self.rpm)

    def draw(self) -> Verdict:
        """The random rules: the timeout rule and the error rules each draw once, whatever fires."""
        timeout_fired = self.timeout_mode != "off" and self.rng.random() < self.timeout_rate
        status = None
        if self.error_bounds:
            u = self.rng.random()
            status = next((s for s, upper in self.error_bounds if u < upper), None)
        if timeout_fired and self.timeout_mode == "hang":
            return Verdict("hang", hang=True)
        delay = self.timeout_seconds if timeout_fired else 0.0
        if status is not None:
            retry_after = 1 if status in RETRY_HINT_STATUSES else None
            return Verdict("error", status=status, delay=delay, retry_after=retry_after)
        return Verdict("timeout", delay=delay) if timeout_fired else PASS

    def stream_rule(self) -> StreamRule | None:
        """The stream rule for one streamed answer (live or replayed), when it fires."""
        if self.stream is None or not self.rng.random() < self.stream_rate:
            return None
        return self.stream

    async def aclose(self) -> None:
        """Releases what the limiter holds on the calling event loop (the proxy's, as it stops)."""
        if self.limiter is not None and self.limiter.shared:
            await self.limiter.aclose()
