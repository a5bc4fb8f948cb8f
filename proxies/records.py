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
    client_messages: int | None = None  # a WebSocket session's: messages the client sent through it
    upstream_messages: int | None = None  # and those the upstream sent

    def frozen(self) -> tuple:
        """The record as one flat tuple of plain values, for the writer's queue. The cyclic GC stops tracking
        such a tuple at its first young collection, so records waiting for the writer never reach the old
        generation (D4)."""
        u = self.usage or _NO_USAGE
        return (self.proxy_id, self.owner_id, self.timestamp, self.ip, self.method, self.path, self.prompt_hash,
                self.status_code, self.latency_ms, self.cache, self.failure, self.model, self.pricing_provider,
                u.model, u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens,
                self.client_messages, self.upstream_messages)  # fmt: skip


_NO_USAGE = Usage()
PROXY_ID = 0  # where frozen() puts it
