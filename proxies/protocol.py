"""The HTTP protocol every proxy port speaks: uvicorn's httptools protocol, whose writes of one loop turn go out
together.

uvicorn writes an answer's status line and headers in one transport.write and its body in another: two send()
calls and, with TCP_NODELAY on (proxies/server.py), two TCP segments for every answer. Here the writes made in
one turn of the event loop are joined and sent at its end, as one send() and one segment (D12). Nothing waits
longer than the turn it was written in, so a stream's chunks still leave as they arrive.

Hostile or broken clients meet the port's limits here (proxies/limits.py): a head over the size limit gets a 431,
an unparseable request a 400, a request that has not arrived within the client timeout a 408, each in the
provider's shape and with the connection closed (D51, D53, D55); `sweep` looks after the time limits once a second,
so a request pays integer compares for them and no timer (D54).

A graceful stop waits for real requests in flight, not for the ones a failure rule holds (they are Rubberduck's
own): the app tells the connection when it holds a request (`hold`), and the stop ends the hold at once. A hang
never answers, so its connection is closed; a delay is cut short and its request goes on to be answered.
"""

from __future__ import annotations

import asyncio

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.http11 import Request as WebSocketRequest
from websockets.http11 import Response as WebSocketResponse

from providers.base import Fault
from proxies.limits import ClientLimits


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
REFUSED = "rubberduck.refused"  # in a request's scope once the protocol answered it for the app (its log's status)


def hold(scope, *, cut: bool) -> asyncio.Future | None:
    """Tells the request's connection that a failure rule holds the request (a hang: `cut`, or a delay). The future
    is done once a graceful stop begins; a hang's connection is closed then instead."""
    connection = scope.get(CONNECTION)
    return connection.hold(cut) if connection is not None else None


def streams_body(scope) -> None:
    """Tells the request's connection that its body streams to the upstream as it comes: the upstream's to time
    out, not the client timeout's (D53)."""
    connection = scope.get(CONNECTION)
    if connection is not None:
        connection.streamed = scope


class HttpProtocol(HttpToolsProtocol):
    stopping = False
    held: tuple[bool, asyncio.Future] | None = None
    head = 0  # bytes of a request head still arriving; 0 once it is whole (the head-size limit, D51)
    streamed = None  # the scope of a request whose body streams upstream as it comes
    mark: object = None  # what the sweep saw waiting last time (a request's scope), and since when (D54)
    since = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(TurnWrites(transport, self.loop))
        self.limits: ClientLimits = self.config.app.limits
        self.max_head = self.limits.max_head_bytes
        self.waiting: set[HttpProtocol] = self.server_state.waiting  # type: ignore[attr-defined]
        # Idle until its first request: uvicorn's keep-alive timeout, which it arms only after an answer (D52).
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, with the head-size limit (and an unparseable request answered in the provider's shape)."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.refuse(400, "Rubberduck could not parse this HTTP request.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:  # answered as a plain request; the parser takes nothing more on this connection: it closes
                self._unsupported_upgrade_warning()
                self.close_after_answer()
            return
        cycle, limit = self.cycle, self.max_head
        if cycle is None or cycle.scope is not self.scope:  # a head is arriving (its request has no cycle yet)
            self.head += len(data)
            if self.head > limit:
                self.refuse(431, f"Request headers are too large: this proxy takes up to {limit} bytes of them.")
                return
            self.waiting.add(self)  # the sweep's from now on (D54)
        else:
            if self.head + len(data) > limit and self.head_size() > limit:  # a large head whole in one read
                self.refuse(431, f"Request headers are too large: this proxy takes up to {limit} bytes of them.")
                return
            self.head = 0
            if cycle.more_body:  # a body still arriving: most come whole with their head
                self.waiting.add(self)

    def head_size(self) -> int:
        """The current request's head, about: its URL and headers as they came (reads larger than the limit only)."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) + 16

    def on_message_complete(self) -> None:
        """uvicorn's, except that a body that arrived after its answer (an early 413) counts as in, for the sweep."""
        if self.parser.should_upgrade() and self._should_upgrade():
            return
        cycle = self.cycle
        cycle.more_body = False
        if not cycle.response_complete:
            cycle.message_event.set()

    def close_after_answer(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False
        else:
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        self.refuse(400, "Rubberduck could not parse this HTTP request.")

    def refuse(self, status: int, message: str) -> None:
        """Answers the request arriving now in the provider's shape and closes the connection: one the app never
        saw, or one the app waits for the rest of (its log then says `status`). When an answer is already on the
        wire, or an earlier pipelined request waits, the connection is closed, as nothing can be said on it."""
        cycle, scope = self.cycle, self.scope
        if self.transport.is_closing():
            return
        mine = cycle is not None and cycle.scope is scope
        busy = cycle is not None and not cycle.response_complete and (not mine or cycle.response_started)
        if busy or self.pipeline or (mine and cycle.response_complete):
            self.transport.close()
            return
        if mine:  # the app has it and waits for its body: its receive says the client left, its sends go nowhere
            scope[REFUSED] = status  # type: ignore[index]
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.write(self.answer(status, message))
        self.transport.close()

    def answer(self, status: int, message: str) -> bytes:
        answer = self.config.app.settings.provider.error(status, Fault.BAD_REQUEST if status == 400 else Fault.LIMIT,
                                                         message=message)  # fmt: skip
        head = [STATUS_LINE[status]]
        for name, value in (*self.server_state.default_headers, *((n.encode(), v.encode()) for n, v in answer.headers)):
            head.append(b"%s: %s\r\n" % (name, value))
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(answer.body))
        return b"".join(head) + answer.body

    def cut(self, waited: str) -> None:
        """The sweep's: a request too long in coming gets a 408 (D53, D54)."""
        seconds = self.limits.client_timeout_seconds
        self.refuse(408, f"The request did not arrive within {seconds:g} seconds of its first byte.")

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


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (proxies/tunnel.py is the app's side), whose refusal of a handshake it cannot
    accept (a missing or bad Sec-WebSocket-Key, a wrong version) is the provider's error, not text/plain (D55)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        accept = self.conn.accept

        def accept_or_refuse(request: WebSocketRequest) -> WebSocketResponse:
            response = accept(request)
            return response if response.status_code == 101 else self.refusal(response)

        self.conn.accept = accept_or_refuse  # type: ignore[method-assign]

    def refusal(self, response: WebSocketResponse) -> WebSocketResponse:
        message = (response.body or b"").decode("utf-8", "replace").strip() or response.reason_phrase
        answer = self.config.app.settings.provider.error(response.status_code, Fault.BAD_REQUEST, message=message)
        headers = Headers([*answer.headers, ("Content-Length", str(len(answer.body))), ("Connection", "close")])
        return WebSocketResponse(response.status_code, response.reason_phrase, headers, answer.body)


HEAD, BODY = "head", "body"


def sweep(waiting: set[HttpProtocol], limits: ClientLimits, now: float) -> int:
    """Once a second per proxy, over the connections a request is arriving on (`waiting`: a head in pieces or a
    body not whole yet; a request that came whole with its first read never joins it): answers 408 to those
    arriving for longer than the client timeout since their first byte, a byte a second or not at all, and lets go
    of those done (D53, D54). A request whose body streams upstream as it comes is left to the upstream. Returns
    how many it cut."""
    cut = 0
    for connection in list(waiting):
        scope, cycle = connection.scope, connection.cycle
        if connection.parser is None:  # gone (connection_lost)
            waiting.discard(connection)
            continue
        if connection.head:
            waited = HEAD
        elif cycle is not None and cycle.more_body and cycle.scope is scope and connection.streamed is not scope:
            waited = BODY
        else:
            waiting.discard(connection)
            connection.mark = None
            continue
        if connection.mark is not scope:
            connection.mark, connection.since = scope, now
        elif now - connection.since >= limits.client_timeout_seconds:
            waiting.discard(connection)
            connection.cut(waited)
            cut += 1
    return cut
