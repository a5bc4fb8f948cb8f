"""Server-sent events: raw event framing for recording and cutting, and the fields of the few events that
matter (usage, errors).

The fields are parsed here, not by httpx-sse: its public API decodes only an httpx.Response, and wrapping an
event's bytes in one would cost the streaming path many times this parse."""

from __future__ import annotations

import re
from typing import NamedTuple

import orjson

from providers.base import StreamInspector, Usage

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class Event(NamedTuple):
    event: str  # "message" when the event names none
    data: str  # its data lines, joined by "\n"


def parse_event(raw: bytes) -> Event | None:
    """The fields of one raw event (as framed by SSEInspector), by the SSE rules: `field: value` lines (one space
    after the colon is dropped), a line starting with `:` is a comment. None for an event with neither field."""
    text = raw.decode("utf-8", "replace")
    if "\r" in text:  # CRLF, CR and LF all end a line
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    name, data = "", []
    for line in text.split("\n"):
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if not name and not data:
        return None
    return Event(name or "message", "\n".join(data))


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

    def on_event(self, event: Event) -> None:
        raise NotImplementedError

    @staticmethod
    def data_json(event: Event):
        try:
            return orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return None
