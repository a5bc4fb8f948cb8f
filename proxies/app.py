"""The data plane: the plain ASGI app every proxy port serves, the same for all providers.

A request goes: read -> failure rules -> route -> cache lookup -> (hit: replay | miss: forward, tee to
client and recorder, store when complete) -> one log record appended to the writer's queue. No ORM call
and no per-request client creation happens here; the provider decides everything wire-specific.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from providers.base import HOP_BY_HOP, Answer, Fault, Provider, Refusal, Request, Route, RouteError
from proxies.cache import Cached, ProxyCache
from proxies.cache_key import cache_key
from proxies.counters import Counters
from proxies.failures import PASS, Chaos, StreamRule
from proxies.interpreter import TakeTurns
from proxies.protocol import hold
from proxies.records import LogRecord
from proxies.request_memo import RequestMemo
from proxies.upstream import UPSTREAM_ERRORS, UpstreamPool, unreachable

log = logging.getLogger("rubberduck.proxy")

# Response headers never copied from upstream or a cache entry: hop-by-hop, framing, and per-answer ones.
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """A running proxy's configuration; replaced as a whole when its owner edits it."""

    proxy_id: int
    owner_id: int
    provider: Provider
    upstream_url: str
    replay: str
    chaos: Chaos
    private_networks: bool  # may forward to private addresses (proxies/addresses.py): the owner's policy


class ClientGone(Exception):
    """The client disconnected before the answer was complete."""


def header_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers (names already lower-case) as a dict; repeated names joined with ", " as HTTP allows."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
    if len(headers) != len(raw):
        headers = {}
        for k, v in raw:
            name, value = k.decode("latin-1"), v.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def request_of(scope, record: LogRecord, query: str, body: bytes) -> Request:
    """The request as its provider sees it."""
    headers = header_dict(scope["headers"])
    return Request(record.method, record.path, query, headers, body, client_ip=record.ip)


def encode_headers(headers) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


class ProxyApp:
    def __init__(self, settings: ProxySettings, cache: ProxyCache, enqueue_log: Callable[[LogRecord], None]):
        self.settings = settings
        self.cache = cache
        self.enqueue_log = enqueue_log
        self.counters = Counters()
        self.memo = RequestMemo(settings.provider)  # a provider change restarts the proxy with a new app
        self.upstream: UpstreamPool | None = None
        self.turns: TakeTurns | None = None
        self.watch: DisconnectWatch | None = None

    async def start(self, upstream_timeout: float) -> None:
        """On the proxy's own event loop: creates its one pooled upstream client, its turn-taking (a turn is the
        GIL's switch interval, RUBBERDUCK_SWITCH_INTERVAL) and its disconnect watch."""
        loop = asyncio.get_running_loop()
        self.upstream = UpstreamPool(upstream_timeout, lambda: self.settings.private_networks)
        self.turns = TakeTurns(loop, sys.getswitchinterval())
        self.watch = DisconnectWatch(loop)

    async def close(self) -> None:
        """On the proxy's loop once it stopped serving: hands pending cache stores over, closes its clients."""
        self.cache.store_pending()
        if self.upstream is not None:
            await self.upstream.aclose()
        await self.settings.chaos.aclose()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        s = self.settings
        record = LogRecord(
            proxy_id=s.proxy_id,
            owner_id=s.owner_id,
            timestamp=time.time(),
            ip=(scope.get("client") or ("", 0))[0],
            method=scope["method"],
            path=scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"],
            pricing_provider=s.provider.pricing_provider_id,
        )
        started = time.perf_counter()
        self.counters.begin()
        try:
            await self.handle(s, scope, receive, send, record)
        except (asyncio.CancelledError, ClientGone):
            record.status_code = record.status_code or 499
            raise
        except Exception:
            log.exception("proxy %s failed on %s %s", s.proxy_id, record.method, record.path)
            record.status_code = 500
            raise
        finally:
            record.latency_ms = (time.perf_counter() - started) * 1000.0
            self.counters.end(record)
            self.enqueue_log(record)
            self.turns.answered()

    async def handle(self, s: ProxySettings, scope, receive, send, record: LogRecord) -> None:
        body = await read_body(receive)
        query = scope.get("query_string", b"").decode("latin-1")
        provider = s.provider
        fingerprint = self.memo.fingerprint(record.method, record.path, query, body, scope["headers"])
        known = self.memo.get(fingerprint)
        request = None  # a repeat the memo knows is answered from the cache without it
        if known is not None:
            (route, key), refused = known, None
        else:
            request = request_of(scope, record, query, body)
            key = None
            try:
                route, refused = provider.route(request), None
            except RouteError as e:  # answered after the failure rules, which come first (docs/failures.md)
                route, refused = None, e

        verdict = s.chaos.decide(record.ip)
        if verdict is not PASS:
            if verdict.check_rpm:
                verdict = await s.chaos.after_shared_rpm()
            if verdict.failure:
                record.failure = verdict.failure
            if verdict.hang:
                hold(scope, cut=True)  # a graceful stop closes it rather than wait for it
                await wait_for_disconnect(receive)
                record.status_code = 499
                return
            if verdict.delay and await disconnected_within(receive, verdict.delay, hold(scope, cut=False)):
                record.status_code = 499
                return
            if verdict.status:
                answer = provider.error(
                    verdict.status,
                    fault_of(verdict.failure),
                    retry_after=verdict.retry_after,
                    limit=verdict.limit,
                    route=route,
                )
                return await send_answer(send, answer, record, failure=verdict.failure)

        if refused is not None:
            return await send_answer(
                send, provider.error(refused.status, refused.fault, message=refused.message), record
            )
        record.model = route.model

        if route.cacheable:
            if key is None:  # so the request was built above
                key_path, key_query, key_headers = provider.cache_key_parts(request, route)
                content_type = request.headers.get("content-type", "")
                key = cache_key(request.method, key_path, key_query, key_headers, body, request.json, content_type)
            record.prompt_hash = key
            cached = await self.cache.get(key)
            if cached is not None:
                if known is None:  # remembered once it repeats: requests seen once never push out repeats
                    self.memo.put(fingerprint, route, key)
                record.cache = "hit"
                record.usage = cached.usage
                return await self.replay(s, cached, send, record)
            record.cache = "miss"

        if request is None:
            request = request_of(scope, record, query, body)
        try:
            upstream = provider.upstream_request(s.upstream_url, request, route)
        except Refusal as refusal:
            return await send_answer(send, refusal.answer, record)
        await self.forward(s, route, upstream, key, receive, send, record)

    async def forward(self, s: ProxySettings, route: Route, upstream, key, receive, send, record) -> None:
        """Sends the request upstream and relays the answer; a client disconnect cancels the upstream call."""
        task = self.watch.begin(receive)
        try:
            await self._forward(s, route, upstream, key, send, record)
        finally:
            self.watch.end(task)

    async def _forward(self, s: ProxySettings, route: Route, upstream, key, send, record) -> None:
        provider = s.provider
        assert self.upstream is not None
        try:
            response = await self.upstream.send(record.method, upstream.url, upstream.headers, upstream.body)
        except UPSTREAM_ERRORS as e:
            if not isinstance(e, TimeoutError):
                message = unreachable(e)
                return await send_answer(send, provider.error(502, Fault.UPSTREAM_UNREACHABLE, message=message), record)
            message = "Rubberduck timed out waiting for the upstream."
            return await send_answer(send, provider.error(504, Fault.UPSTREAM_TIMEOUT, message=message), record)
        try:
            headers = [
                (name, v.decode("latin-1"))
                for k, v in response.raw_headers
                if (name := k.decode("latin-1").lower()) not in DROPPED_RESPONSE_HEADERS
            ]
            streaming = route.stream and response.status < 300
            if streaming:
                await self.relay_stream(s, route, response, headers, key, send, record)
            else:
                await self.relay_body(s, route, response, headers, key, send, record)
        finally:
            response.release()  # back to the pool when read to the end, else the connection is closed

    async def relay_body(self, s: ProxySettings, route: Route, response, headers, key, send, record) -> None:
        try:
            body = await response.read()
        except UPSTREAM_ERRORS:
            message = "The upstream closed the connection before its answer was complete."
            return await send_answer(send, s.provider.error(502, Fault.UPSTREAM_UNREACHABLE, message=message), record)
        status = response.status
        record.status_code = status
        if 200 <= status < 300:
            record.usage = s.provider.answer_usage(route, body, headers)
            if key is not None:
                self.cache.put(key, Cached(status, tuple(headers), body, None, record.usage))
        out = [*headers, ("content-length", str(len(body)))]
        if record.cache != "bypass":
            out.append(("x-rubberduck-cache", record.cache))
        await send({"type": "http.response.start", "status": status, "headers": encode_headers(out)})
        await send({"type": "http.response.body", "body": body})

    async def relay_stream(self, s: ProxySettings, route: Route, response, headers, key, send, record) -> None:
        """Tees the upstream stream: each chunk goes to the client as it arrives and into the recording."""
        inspector = s.provider.stream_inspector(route)
        rule = s.chaos.stream_rule()
        record.status_code = response.status
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": encode_headers([*headers, ("x-rubberduck-cache", record.cache)]),
            }
        )
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        recording: list[tuple[float, int]] = []
        parts: list[bytes] = []
        events_sent = 0
        try:
            async for chunk in response.content.iter_any():
                events = inspector.feed(chunk)
                if rule is not None:
                    events_sent = await send_disturbed(send, events, rule, events_sent, record)
                else:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                recording.append((round((loop.time() - t0) * 1000.0, 1), len(chunk)))
                parts.append(chunk)
        except UPSTREAM_ERRORS:
            raise ClientGone("the upstream stream broke off") from None
        except asyncio.CancelledError:
            # SDKs hang up as soon as they read the terminal event; the stream is complete all the same.
            if inspector.done:
                self.store_stream(key, response.status, headers, parts, recording, inspector, record)
            raise
        await send({"type": "http.response.body", "body": b""})
        self.store_stream(key, response.status, headers, parts, recording, inspector, record)

    def store_stream(self, key, status, headers, parts, recording, inspector, record) -> None:
        """Records usage and caches a complete stream; never one cut short or carrying an error event."""
        record.usage = inspector.usage
        if key is not None and not inspector.error and record.failure != "stream_cut":
            self.cache.put(key, Cached(status, tuple(headers), b"".join(parts), tuple(recording), inspector.usage))

    async def replay(self, s: ProxySettings, cached: Cached, send, record: LogRecord) -> None:
        """Answers from the cache; a stream is replayed as a stream (instantly, or at its recorded pace)."""
        record.status_code = cached.status
        provider = s.provider
        if cached.wire_headers is None:  # encoded once per entry, not per hit
            kept = [(k, v) for k, v in cached.headers if k != provider.request_id_header]
            cached.wire_headers = tuple(encode_headers([*kept, ("x-rubberduck-cache", "hit")]))
            self.cache.remember(record.prompt_hash, cached)
        headers = [*cached.wire_headers, (provider.request_id_header.encode(), provider.new_request_id().encode())]
        if cached.chunks is None:
            headers.append((b"content-length", str(len(cached.body)).encode()))
            await send({"type": "http.response.start", "status": cached.status, "headers": headers})
            await send({"type": "http.response.body", "body": cached.body})
            return
        await send({"type": "http.response.start", "status": cached.status, "headers": headers})
        rule = s.chaos.stream_rule()
        paced = s.replay == "recorded"
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        offset = 0
        events_sent = 0
        splitter = provider.stream_inspector(Route("replay", stream=True)) if rule is not None else None
        for at_ms, length in cached.chunks:
            chunk = cached.body[offset : offset + length]
            offset += length
            if paced:
                wait = t0 + at_ms / 1000.0 - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            if splitter is not None:
                events_sent = await send_disturbed(send, splitter.feed(chunk), rule, events_sent, record)
            else:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def send_disturbed(send, events: list[bytes], rule: StreamRule, events_sent: int, record: LogRecord) -> int:
    """Sends whole events under a stream-chaos rule: slowed by chunk_delay_ms, cut after N events."""
    for event in events:
        if rule.cut_after_events is not None and events_sent >= rule.cut_after_events:
            record.failure = "stream_cut"
            raise ClientGone("stream cut by chaos rule")
        if rule.chunk_delay_ms:
            await asyncio.sleep(rule.chunk_delay_ms / 1000.0)
        await send({"type": "http.response.body", "body": event, "more_body": True})
        events_sent += 1
    return events_sent


def fault_of(failure: str | None) -> Fault:
    return {"ip_blocked": Fault.IP_BLOCKED, "rate_limit": Fault.RATE_LIMITED}.get(failure or "", Fault.INJECTED)


async def send_answer(send, answer: Answer, record: LogRecord, failure: str | None = None) -> None:
    record.status_code = answer.status
    headers = [*answer.headers, ("content-length", str(len(answer.body)))]
    if failure:
        headers.append(("x-rubberduck-failure", failure))
    await send({"type": "http.response.start", "status": answer.status, "headers": encode_headers(headers)})
    await send({"type": "http.response.body", "body": answer.body})


async def read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone("client left while sending its request")
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]


async def wait_for_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def disconnected_within(receive, seconds: float, released: asyncio.Future | None = None) -> bool:
    """Waits `seconds` (a delay rule), or until `released` (a graceful stop); True when the client left meanwhile."""
    left = asyncio.ensure_future(wait_for_disconnect(receive))
    await asyncio.wait(
        (left, released) if released is not None else (left,), timeout=seconds, return_when=asyncio.FIRST_COMPLETED
    )
    if left.done():
        return True
    left.cancel()
    return False


async def cancel_on_disconnect(receive, task: asyncio.Task) -> None:
    await wait_for_disconnect(receive)
    task.cancel()


# A forwarded request starts watching for its client's disconnect only once it has taken this long: a watch is a
# task that waits on receive() and is cancelled at the end, ~10 µs a request (a twelfth of a bare passthrough's
# miss). A client that left earlier is seen at once when the watch starts, as receive() reports it then.
WATCH_AFTER_SECONDS = 0.05


class DisconnectWatch:
    """Cancels a forwarded request when its client disconnects, watching it from 1-2 WATCH_AFTER_SECONDS on.

    One sweep every WATCH_AFTER_SECONDS, while requests are in flight, starts the watches that are due. A timer per
    request cost a libuv timer set up and torn down on every miss (~3 % of one, py-spy)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.in_flight: dict[asyncio.Task, list] = {}  # task -> [started at, receive, watch task or None]
        self.sweeping = False

    def begin(self, receive) -> asyncio.Task:
        task = asyncio.current_task(self.loop)
        self.in_flight[task] = [self.loop.time(), receive, None]
        if not self.sweeping:
            self.sweeping = True
            self.loop.call_later(WATCH_AFTER_SECONDS, self.sweep)
        return task

    def end(self, task: asyncio.Task) -> None:
        watcher = self.in_flight.pop(task)[2]
        if watcher is not None:
            watcher.cancel()

    def sweep(self) -> None:
        due = self.loop.time() - WATCH_AFTER_SECONDS
        for task, watched in self.in_flight.items():
            started, receive, watcher = watched
            if watcher is None and started <= due:
                watched[2] = self.loop.create_task(cancel_on_disconnect(receive, task))
        self.sweeping = bool(self.in_flight)
        if self.sweeping:
            self.loop.call_later(WATCH_AFTER_SECONDS, self.sweep)
