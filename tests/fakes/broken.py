"""An upstream that breaks on purpose: a provider's real answer (its fake's `respond`), delivered badly.

A real HTTP/1.1 server on loopback, plain or TLS with a self-signed certificate. Each request is answered with
what `respond` gives, written to the socket by a delivery (`how`, set by the test): whole, reset before its
headers, reset half-way through its body or stream, chunked without the last chunk, a byte at a time, encoded
with gzip or br, or a 200 whose JSON breaks off.
"""

from __future__ import annotations

import datetime
import gzip
import socket
import ssl
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.fakes.server import Received, Reply, Server

Delivery = Callable[[socket.socket, Reply], None]


def head(reply: Reply, *extra: tuple[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {reply.status} Whatever", *(f"{k}: {v}" for k, v in [*reply.headers, *extra])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def body_of(reply: Reply) -> bytes:
    return b"".join(reply.chunks) if reply.chunks is not None else reply.body


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def parts_of(reply: Reply) -> list[bytes]:
    """A streamed answer's chunks; a plain answer's body in two."""
    if reply.chunks is not None:
        return list(reply.chunks)
    half = len(reply.body) // 2
    return [reply.body[:half], reply.body[half:]]


def reset(conn: socket.socket) -> None:
    """Closes with a TCP RST, as a crashed server or a middlebox does."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def whole(conn: socket.socket, reply: Reply) -> None:
    if reply.chunks is None:
        conn.sendall(head(reply, ("content-length", str(len(reply.body)))) + reply.body)
        return
    conn.sendall(head(reply, ("transfer-encoding", "chunked")))
    for part in reply.chunks:
        conn.sendall(chunk(part))
    conn.sendall(b"0\r\n\r\n")


def reset_before_headers(conn: socket.socket, reply: Reply) -> None:
    reset(conn)


def reset_mid_body(conn: socket.socket, reply: Reply) -> None:
    """Headers with the whole body's Content-Length, half the body, then a reset."""
    body = body_of(reply)
    conn.sendall(head(reply, ("content-length", str(len(body)))) + body[: len(body) // 2])
    time.sleep(0.05)
    reset(conn)


def reset_mid_stream(conn: socket.socket, reply: Reply) -> None:
    """Chunked: the first half of the chunks (at least one), then a reset."""
    parts = parts_of(reply)
    conn.sendall(head(reply, ("transfer-encoding", "chunked")))
    for part in parts[: max(1, len(parts) // 2)]:
        conn.sendall(chunk(part))
    time.sleep(0.05)
    reset(conn)


def truncated(conn: socket.socket, reply: Reply) -> None:
    """Chunked: every chunk but the terminating one, then an orderly close."""
    conn.sendall(head(reply, ("transfer-encoding", "chunked")) + b"".join(chunk(p) for p in parts_of(reply)))
    conn.shutdown(socket.SHUT_WR)


def drip(gap: float, started: threading.Event | None = None, done: threading.Event | None = None) -> Delivery:
    """Chunked, one byte per chunk, `gap` seconds apart; `started` is set after the first, `done` after the last."""

    def deliver(conn: socket.socket, reply: Reply) -> None:
        conn.sendall(head(reply, ("transfer-encoding", "chunked")))
        for i, byte in enumerate(body_of(reply)):
            conn.sendall(chunk(bytes([byte])))
            if i == 0 and started is not None:
                started.set()
            time.sleep(gap)
        conn.sendall(b"0\r\n\r\n")
        if done is not None:
            done.set()

    return deliver


def stall(seconds: float) -> Delivery:
    """Headers and half the body, a silence of `seconds`, then the rest."""

    def deliver(conn: socket.socket, reply: Reply) -> None:
        body = body_of(reply)
        conn.sendall(head(reply, ("content-length", str(len(body)))) + body[: len(body) // 2])
        time.sleep(seconds)
        conn.sendall(body[len(body) // 2 :])

    return deliver


def encoded(encoding: str) -> Delivery:
    """The answer compressed (`gzip` or `br`) although the request asked for identity; a stream chunk by chunk,
    each flushed, so it can be decoded as it arrives."""
    import brotli

    def deliver(conn: socket.socket, reply: Reply) -> None:
        header = ("content-encoding", encoding)
        if reply.chunks is None:
            data = gzip.compress(reply.body) if encoding == "gzip" else brotli.compress(reply.body)
            conn.sendall(head(reply, header, ("content-length", str(len(data)))) + data)
            return
        conn.sendall(head(reply, header, ("transfer-encoding", "chunked")))
        if encoding == "gzip":
            z = zlib.compressobj(wbits=31)
            pieces = [z.compress(p) + z.flush(zlib.Z_SYNC_FLUSH) for p in reply.chunks] + [z.flush()]
        else:
            b = brotli.Compressor()
            pieces = [b.process(p) + b.flush() for p in reply.chunks] + [b.finish()]
        for piece in pieces:
            if piece:
                conn.sendall(chunk(piece))
                time.sleep(0.01)
        conn.sendall(b"0\r\n\r\n")

    return deliver


def invalid_json(conn: socket.socket, reply: Reply) -> None:
    """Status and headers as they are (a 200 saying JSON), the body cut off in the middle of the JSON."""
    body = body_of(reply)[: len(body_of(reply)) // 2]
    conn.sendall(head(reply, ("content-length", str(len(body)))) + body)


def self_signed(tmp: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 that signs itself (no CA vouches for it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "self-signed.pem", tmp / "self-signed.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


class BrokenUpstream:
    def __init__(self, respond: Callable[[Received], Reply], tls: bool = False):
        self.respond = respond
        self.how: Delivery = whole
        self.requests: list[Received] = []
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
                self.close_connection = True  # one answer per connection: a broken one leaves nothing to reuse
                try:
                    fake.how(self.connection, fake.respond(received))
                except OSError:  # the proxy hung up
                    pass

            do_GET = do_POST = _handle

        self.httpd = Server(("127.0.0.1", 0), Handler)
        if tls:
            self._tmp = tempfile.TemporaryDirectory()
            context = self_signed(Path(self._tmp.name))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> BrokenUpstream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
