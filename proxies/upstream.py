"""The upstream connection pool: one aiohttp session per proxy, sending requests as the client sent them.

aiohttp is called directly, not through httpx, whose request machinery is half of a miss's CPU (D14).

Two aiohttp defaults change a request on its way: a URL given as a string is re-quoted by yarl (`%3A` in a path
goes out as `:`), and a body without Content-Type gets `application/octet-stream`. Both break what SigV4 signed
(Bedrock model ids are percent-encoded path segments; InvokeModel may carry no Content-Type), so URLs go out
as already encoded and the pool adds no Content-Type or Accept the client did not send.

A proxy whose owner may not reach private networks connects only to public addresses (proxies/addresses.py): its
resolver drops the others, so a name that resolves to a private address by the time a connection is made (DNS
rebinding) fails like an unreachable host, and an IP address in the URL (which aiohttp never resolves) is checked
before the request is sent.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import AsyncIterable, Callable

import aiohttp
import certifi
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from proxies.addresses import is_ip, kind_of, own_addresses, refusal, resolved_refusal

# What sending or reading may raise: aiohttp's own errors, and TimeoutError for connect and read timeouts.
UPSTREAM_ERRORS = (aiohttp.ClientError, TimeoutError)
# A body above this goes out in slices: given whole, aiohttp joins it to the request's headers (one write), a
# second copy of it held until it is sent (D66).
SLICED_BODY_BYTES = 1 << 20


class ForbiddenAddress(aiohttp.ClientConnectionError, OSError):
    """The upstream is, or resolves only to, an address this proxy's owner may not reach."""


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's own resolver, minus the addresses a restricted proxy must not connect to."""

    def __init__(self, private_networks: Callable[[], bool]):
        self.inner = aiohttp.DefaultResolver()
        self.private_networks = private_networks

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        found: list[ResolveResult] = await self.inner.resolve(host, port, family)
        if self.private_networks():
            return found
        kept = [result for result in found if kind_of(result["host"]) is None]
        if not kept:
            raise ForbiddenAddress(resolved_refusal(host, found[0]["host"]) if found else host)
        return kept

    async def close(self) -> None:
        await self.inner.close()


class UpstreamPool:
    """A proxy's one pooled upstream client; created on the proxy's own event loop. `private_networks` says, at
    the moment of asking, whether the proxy's owner may reach private addresses."""

    def __init__(self, timeout: float, private_networks: Callable[[], bool]):
        own_addresses()  # looked up once here, never on the loop's request path
        self.private_networks = private_networks
        self.timeout = timeout
        self.ssl_context = shared_ssl_context()  # the upstream WebSockets' too (proxies/tunnel.py)
        self.resolver = PublicOnlyResolver(private_networks)
        connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=30, ssl=self.ssl_context, resolver=self.resolver)
        self.session = aiohttp.ClientSession(
            connector=connector,
            # Callers share the pool: a cookie the upstream sets for one must never go out with another's request.
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Content-Type", "Accept"),
            # `timeout` bounds each read (a silent upstream) and the wait for a pooled connection, not the whole
            # answer: a long stream that keeps sending is never cut.
            timeout=aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=10.0, sock_read=timeout),
        )

    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | AsyncIterable[bytes]
    ) -> aiohttp.ClientResponse:
        """The upstream's answer once its headers are in; the caller reads the body and then releases it. A body
        given as an async iterable is sent as it comes (with the Content-Length in `headers`, else chunked)."""
        target = encoded_url(url)
        if not self.private_networks() and (reason := literal_refusal(target.raw_host)):
            raise ForbiddenAddress(reason)
        if type(body) is bytes and len(body) > SLICED_BODY_BYTES:
            if not any(name.lower() == "content-length" for name, _ in headers):
                headers = [*headers, ("content-length", str(len(body)))]
            body = slices(body)
        return await self.session.request(method, target, headers=headers, data=body or None, allow_redirects=False)

    async def address_for(self, url: str) -> str | None:
        """Where a connection the pool does not make itself (an upstream WebSocket, proxies/tunnel.py) must go: an
        address of the URL's host this proxy may reach, or None when it may reach any (it then resolves the host
        itself). Raises ForbiddenAddress when there is none."""
        if self.private_networks():
            return None
        target = encoded_url(url)
        if reason := literal_refusal(target.raw_host):
            raise ForbiddenAddress(reason)
        if is_ip(target.raw_host or ""):
            return None
        return (await self.resolver.resolve(target.raw_host, target.port or 0, socket.AF_UNSPEC))[0]["host"]

    async def aclose(self) -> None:
        await self.session.close()


async def slices(body: bytes, size: int = 1 << 20):
    """A big body as views of 1 MiB of it, each written once the connection took the one before (no copies)."""
    view = memoryview(body)
    for at in range(0, len(view), size):
        yield view[at : at + size]


def unreachable(error: Exception) -> str:
    """What the client is told when the upstream could not be reached (aiohttp wraps a resolver's error)."""
    cause = getattr(error, "os_error", error)
    if isinstance(cause, ForbiddenAddress):
        return f"Rubberduck did not connect to the upstream: {cause.args[0]}, which this proxy may not reach."
    return f"Rubberduck could not reach the upstream: {error.__class__.__name__}."


def broken(error: Exception, *, answered: bool) -> tuple[int, str | None, str]:
    """Why sending or reading failed, as the client's status (502 or 504), the log entry's failure and the
    message. `answered`: the upstream's headers were in, so it broke off in its body."""
    if isinstance(error, TimeoutError):
        return 504, "upstream_timeout", "Rubberduck timed out waiting for the upstream."
    cause = getattr(error, "os_error", error)
    if isinstance(cause, ForbiddenAddress):
        return 502, None, unreachable(error)  # the owner's policy, not a broken upstream
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return 502, "upstream_dns", f"Rubberduck could not resolve the upstream's host name: {error.host}."
    if isinstance(error, aiohttp.ClientSSLError):
        return 502, "upstream_tls", f"Rubberduck's TLS handshake with the upstream failed: {cause}."
    if isinstance(error, aiohttp.ClientConnectorError):
        return 502, "upstream_down", unreachable(error)
    if isinstance(error, aiohttp.ClientResponseError) and not answered:  # e.g. a content-encoding it cannot decode
        return 502, "upstream_invalid", f"The upstream's answer could not be read: {error.message}."
    if answered:
        return 502, "upstream_cut", "The upstream closed the connection before its answer was complete."
    return 502, "upstream_reset", "The upstream closed the connection before it answered."


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One verifying client context for every proxy of the process, with certifi's CA bundle: one of its own cost
    each proxy ~0.8 MiB and most of its start (D91). An SSLContext is only read once set up, from any thread. Made
    here rather than by httpx, whose import brings its command line's libraries (rich, click) along (D98)."""
    return ssl.create_default_context(cafile=certifi.where())


@functools.lru_cache(maxsize=1024)
def literal_refusal(host: str | None) -> str | None:
    """Why an IP address written in a URL is off limits (aiohttp connects to those without resolving them)."""
    return refusal(host) if host and is_ip(host) else None


@functools.lru_cache(maxsize=1024)
def encoded_url(url: str) -> URL:
    """A proxy sends to a few URLs; each is parsed once (a yarl URL is immutable)."""
    return URL(url, encoded=True)
