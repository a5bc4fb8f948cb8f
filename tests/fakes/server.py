"""A real HTTP/1.1 server on loopback that plays an LLM provider's API in tests.

Each provider's fake is a `respond(request) -> Reply` function; tests can also queue one-off replies
(errors, slow answers) and read back every request the upstream received.
"""

from __future__ import annotations

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
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
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
                for chunk in reply.chunks:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                    if reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                if reply.cut:
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")

            def _safe_handle(self):
                try:
                    self._handle()
                except (BrokenPipeError, ConnectionResetError):  # the proxy hung up: fine in tests
                    self.close_connection = True

            do_GET = do_POST = do_DELETE = do_PUT = _safe_handle

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
