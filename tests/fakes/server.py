"""A real HTTP/1.1 server on loopback that plays an LLM provider's API in tests.

Each provider's fake is a `respond(request) -> Reply` function; tests can also queue one-off replies
(errors, slow answers) and read back every request the upstream received.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: list[bytes] | None = None  # a streamed answer, sent with chunked transfer-encoding
    chunk_delay: float = 0.0
    delay: float = 0.0  # before anything is sent
    cut: bool = False  # close the connection before the final chunk
    gate: threading.Event | None = None  # sent after the first chunk, the rest waits for it (10 s at most)
    gate_opened: bool | None = None  # whether it did open in time: set once the answer is sent


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # http.server listens with a backlog of 5: under a burst, a connection that finds the accept queue full
    # is left to SYN-ACK retransmits (1+2+4+8+16 s) and a test client times out at 30 s waiting for it.
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a proxy hanging up is fine in tests
            super().handle_error(request, client_address)


class FakeUpstream:
    def __init__(self, respond: Callable[[Received], Reply]):
        self.respond = respond
        self.requests: list[Received] = []
        self.queued: deque[Reply] = deque()
        self.body_started = threading.Event()  # the first bytes of a request body arrived
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _read_body(self) -> bytes:
                """The request body, read as it arrives (Content-Length or chunked)."""
                parts = []
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        parts.append(self.rfile.read(size))
                        fake.body_started.set()
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(parts)
                left = int(self.headers.get("content-length") or 0)
                while left:
                    part = self.rfile.read1(min(left, 1 << 20))
                    if not part:
                        break
                    parts.append(part)
                    fake.body_started.set()
                    left -= len(part)
                return b"".join(parts)

            def _handle(self):
                body = self._read_body()
                received = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                fake.requests.append(received)
                reply = fake.queued.popleft() if fake.queued else fake.respond(received)
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                if reply.chunks is None:
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for i, chunk in enumerate(reply.chunks):
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                    if reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                    if i == 0 and reply.gate is not None:
                        reply.gate_opened = reply.gate.wait(10)
                if reply.cut:
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")

            def _safe_handle(self):
                try:
                    self._handle()
                except (BrokenPipeError, ConnectionResetError):  # the proxy hung up: fine in tests
                    self.close_connection = True

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _safe_handle

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeUpstream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def queue(self, *replies: Reply) -> None:
        self.queued.extend(replies)


class Routes:
    """A stateful fake's own API, beside its stateless `respond`: (method, path regex) -> handler(req, **groups)."""

    def __init__(self, *routes: tuple[str, str, Callable[..., Reply]]):
        self.routes = [(method, re.compile(pattern + r"\Z"), handler) for method, pattern, handler in routes]

    def reply(self, req: Received, path: str) -> Reply | None:
        """The answer of the first route for the request's method and `path` (no query); None when none is."""
        for method, regex, handler in self.routes:
            m = regex.match(path)
            if m is not None and method == req.method:
                return handler(req, **m.groupdict())
        return None


def chunked(body: bytes, size: int = 1 << 20) -> list[bytes]:
    """A body as the chunks of a streamed answer (a download as a server sends it)."""
    return [body[i : i + size] for i in range(0, len(body), size)]
