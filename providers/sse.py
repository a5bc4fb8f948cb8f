"""Server-sent events: raw event framing for recording and cutting, field parsing by httpx-sse."""

from __future__ import annotations

import re

import orjson
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from httpx_sse._models import ServerSentEvent

from providers.base import StreamInspector, Usage

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def parse_event(raw: bytes) -> ServerSentEvent | None:
    """Parses one raw event (as framed by SSEInspector) into its fields; None for a comment-only event."""
    lines, decoder = SSELineDecoder(), SSEDecoder()
    event = None
    for line in lines.decode(raw.decode("utf-8", "replace")) + lines.flush() + [""]:
        event = decoder.decode(line) or event
    return event


class SSEInspector(StreamInspector):
    """Splits an SSE stream into raw events and hands each parsed event to `on_event`.

    Subclasses implement `on_event` to pick usage and spot error events. `wants(raw)` lets them skip
    parsing events that cannot matter (most deltas), which keeps long streams cheap.
    """

    def __init__(self):
        self._buffer = b""
        self.usage: Usage | None = None
        self.error = False
        self.done = False

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._buffer + chunk
        events, start = [], 0
        for m in _EVENT_END.finditer(data):
            raw = data[start : m.end()]
            start = m.end()
            events.append(raw)
            if self.wants(raw):
                event = parse_event(raw)
                if event is not None:
                    self.on_event(event)
        self._buffer = data[start:]
        return events

    def wants(self, raw: bytes) -> bool:
        return True

    def on_event(self, event: ServerSentEvent) -> None:
        raise NotImplementedError

    @staticmethod
    def data_json(event: ServerSentEvent):
        try:
            return orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return None
