"""One proxy's server: a uvicorn server on its own port, in its own thread, on its own uvloop loop (D1, D2)."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from email.utils import formatdate

import uvicorn
import uvloop

from proxies.app import ProxyApp
from proxies.limits import descriptors
from proxies.protocol import HttpProtocol, WebSocketProtocol, sweep

log = logging.getLogger("rubberduck.runner")
# A stream cut on purpose or a client gone mid-answer is not a server error worth a traceback.
logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)


def bind(host: str, port: int) -> socket.socket:
    """Binds the proxy's listening socket now, so a port held by another program fails here, readably."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this; without it every answer waits ~40 ms for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise PortUnavailable(f"Port {port} on {host} is not available: {e.strerror or e}.") from e
    sock.setblocking(False)
    return sock


class PortUnavailable(Exception):
    pass


class DateClock(threading.Thread):
    """The `date` and `server` headers every proxy's answers start with, one list shared by all of them and
    refreshed in place once a second by this one thread. uvicorn refreshes each server's own list from a 0.1 s
    tick on its loop, which woke 500 idle proxies 5,000 times a second (D90)."""

    def __init__(self):
        super().__init__(name="rubberduck-date", daemon=True)
        self.headers: list[tuple[bytes, bytes]] = [(b"date", self.now()), (b"server", b"uvicorn")]

    @staticmethod
    def now() -> bytes:
        return formatdate(time.time(), usegmt=True).encode()

    def run(self) -> None:
        while True:
            time.sleep(1.0 - time.time() % 1.0)  # just after each second begins
            self.headers[0] = (b"date", self.now())  # in place: readers see the old tuple or the new one
            descriptors.probe()  # the process's, so once a second for all proxies (D57)


_clock: DateClock | None = None
_clock_lock = threading.Lock()


def date_headers() -> list[tuple[bytes, bytes]]:
    """The process's shared default headers, its clock started on first use."""
    global _clock
    with _clock_lock:
        if _clock is None:
            _clock = DateClock()
            _clock.start()
        return _clock.headers


class QuietServer(uvicorn.Server):
    """A uvicorn server whose loop sleeps until it is asked to stop, instead of waking every 0.1 s to look
    (D90). Its default headers are the process's shared ones (DateClock)."""

    def __init__(self, config: uvicorn.Config):
        super().__init__(config)
        self.server_state.default_headers = date_headers()
        self.wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self.wake = asyncio.Event()
        waiting = self.server_state.waiting  # type: ignore[attr-defined]
        while not self.should_exit:  # checked after `wake` exists: exit() either ran before or will set it
            if waiting:  # requests arriving in pieces: their time limits are swept once a second (D54)
                try:
                    await asyncio.wait_for(self.wake.wait(), 1.0)
                except TimeoutError:
                    await self.config.callback_notify()
            else:
                await self.wake.wait()
            self.wake.clear()

    def exit(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """From any thread: asks the server to stop (should_exit, force_exit set by the caller first)."""
        self.should_exit = True
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._wake)
            except RuntimeError:  # the loop has closed: it stopped already
                pass

    def _wake(self) -> None:
        if self.wake is not None:
            self.wake.set()


class Waiting(set):
    """The connections a request is arriving on in pieces (proxies/protocol.py); the first one in wakes the
    server's loop, which then sweeps them once a second until none is left (D54, D90)."""

    def __init__(self, wake: Callable[[], None]):
        super().__init__()
        self.wake = wake

    def add(self, connection) -> None:
        if not self:
            self.wake()
        super().add(connection)


class ProxyServer:
    def __init__(
        self,
        app: ProxyApp,
        host: str,
        port: int,
        *,
        graceful_seconds: float,
        upstream_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        on_stopped: Callable[[], None] = lambda: None,
    ):
        self.app = app
        self.host, self.port = host, port
        self.upstream_timeout = upstream_timeout
        self.ssl_context = ssl_context
        config = uvicorn.Config(
            app,
            http=HttpProtocol,
            ws=WebSocketProtocol,  # WebSockets (OpenAI Realtime, Gemini Live) tunnel through: proxies/tunnel.py
            lifespan="off",
            # The client IP is the TCP peer: IP rules must not be talked past with X-Forwarded-For.
            proxy_headers=False,
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=graceful_seconds,
            timeout_keep_alive=app.limits.keep_alive_seconds,  # idle, after an answer and before the first (D52)
            backlog=2048,
            callback_notify=self.sweep,  # once a second, from uvicorn's own tick (D54)
            timeout_notify=0,
        )
        self.server = QuietServer(config)
        self.server.server_state.waiting = Waiting(self.server._wake)  # type: ignore[attr-defined]
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.stopped = threading.Event()  # set, and on_stopped called, from its thread once it has ended
        self.on_stopped = on_stopped

    def start(self) -> None:
        """Binds and starts serving; raises PortUnavailable when the port is taken."""
        sock = bind(self.host, self.port)
        self._thread = threading.Thread(target=self._run, args=(sock,), name=f"proxy-{self.port}", daemon=True)
        self._thread.start()
        self._started.wait(10)
        if self._error is not None:
            raise PortUnavailable(f"Proxy on port {self.port} failed to start: {self._error}")

    def _run(self, sock: socket.socket) -> None:
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        try:
            loop.run_until_complete(self.app.start(self.upstream_timeout))
            self.server.config.load()
            if self.ssl_context is not None:
                self.server.config.ssl = self.ssl_context
            loop.call_soon(self._started.set)
            loop.run_until_complete(self.server.serve(sockets=[sock]))
            self._cancel_leftovers(loop)
            loop.run_until_complete(self.app.close())
        except BaseException as e:  # recorded for start(); the runner turns it into last_error
            self._error = e
            log.exception("proxy on port %s crashed", self.port)
        finally:
            self._started.set()
            sock.close()
            loop.close()
            self.stopped.set()
            self.on_stopped()

    def _cancel_leftovers(self, loop: asyncio.AbstractEventLoop) -> None:
        """After a force stop (or an exhausted graceful wait): drop connections, cancel their requests."""
        for connection in list(self.server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    async def sweep(self) -> None:
        """The port's time limits (proxies/protocol.py `sweep`)."""
        sweep(self.server.server_state.waiting, self.app.limits, self.loop.time())  # type: ignore[attr-defined]

    @property
    def in_flight(self) -> int:
        return self.app.counters.in_flight

    def stop(self, mode: str = "graceful", wait: bool = True) -> None:
        """Stops accepting, then lets in-flight requests finish (graceful, bounded) or cuts them (force); with
        `wait`, returns once that is done."""
        if mode == "force":
            self.server.force_exit = True
        self.server.exit(self.loop)
        if wait:
            self.join()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()
