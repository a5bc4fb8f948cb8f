"""The HTTP protocol every proxy port speaks: uvicorn's httptools protocol, whose writes of one loop turn go out
together.

uvicorn writes an answer's status line and headers in one transport.write and its body in another: two send()
calls and, with TCP_NODELAY on (proxies/server.py), two TCP segments for every answer. Here the writes made in
one turn of the event loop are joined and sent at its end, as one send() and one segment (D12). Nothing waits
longer than the turn it was written in, so a stream's chunks still leave as they arrive.

A graceful stop waits for real requests in flight, not for the ones a failure rule holds (they are Rubberduck's
own): the app tells the connection when it holds a request (`hold`), and the stop ends the hold at once. A hang
never answers, so its connection is closed; a delay is cut short and its request goes on to be answered.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TurnWrites:
    """A transport whose writes are sent once per loop turn; everything else is the transport's own."""

    __slots__ = ("loop", "pending", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self.transport = transport
        self.loop = loop
        self.pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self.pending is None:
            self.pending = [data]
            self.loop.call_soon(self.flush)
        else:
            self.pending.append(data)

    def flush(self) -> None:
        pending, self.pending = self.pending, None
        if pending and not self.transport.is_closing():  # the client may have left since
            self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self.pending = None
        self.transport.abort()

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + sum(map(len, self.pending or ()))

    def __getattr__(self, name: str):
        return getattr(self.transport, name)


CONNECTION = "rubberduck.connection"  # in each request's scope: the HttpProtocol it came on


def hold(scope, *, cut: bool) -> asyncio.Future | None:
    """Tells the request's connection that a failure rule holds the request (a hang: `cut`, or a delay). The future
    is done once a graceful stop begins; a hang's connection is closed then instead."""
    connection = scope.get(CONNECTION)
    return connection.hold(cut) if connection is not None else None


class HttpProtocol(HttpToolsProtocol):
    stopping = False
    held: tuple[bool, asyncio.Future] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(TurnWrites(transport, self.loop))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[CONNECTION] = self  # type: ignore[typeddict-unknown-key]

    def hold(self, cut: bool) -> asyncio.Future:
        released = self.loop.create_future()
        self.held = (cut, released)
        if self.stopping:
            self.release()
        return released

    def release(self) -> None:
        cut, released = self.held
        self.held = None
        if not released.done():
            released.set_result(None)
        if cut:
            self.transport.abort()  # the app sees its client leave and logs the request, once

    def shutdown(self) -> None:
        """The server's graceful stop: the held request, if any, is let go now; a real one is waited for."""
        self.stopping = True
        if self.held is not None:
            self.release()
        super().shutdown()
