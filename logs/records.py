"""What the request path hands to the log writer: plain values, no ORM, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from providers.base import Usage


@dataclass(slots=True)
class LogRecord:
    proxy_id: int
    owner_id: int
    timestamp: float  # epoch seconds when the request arrived
    ip: str
    method: str
    path: str
    prompt_hash: str = ""
    status_code: int = 0
    latency_ms: float = 0.0
    cache: str = "bypass"
    failure: str | None = None
    usage: Usage | None = None
    model: str | None = None
    pricing_provider: str | None = None
