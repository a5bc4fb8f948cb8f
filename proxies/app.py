"""The data plane: the plain ASGI app every proxy port serves, the same for all providers.

A request is one Flow (proxies/flow.py) through: read -> resolve (route and cache key, proxies/request_memo.py)
-> failure rules -> cache (hit: replay) -> forward (proxies/relay.py: tee to client and recorder, store when
complete) -> one log record appended to the writer's queue. A request no endpoint models is known by its method
and path, before its body is read: it passes through (proxies/passthrough.py), both bodies streamed. A WebSocket
handshake is routed and meets the failure rules the same way, then becomes a tunnel (proxies/tunnel.py). No ORM call and no per-request client creation
happens here; the provider decides everything wire-specific.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from providers.base import CACHE_DIRECTIVE_HEADER, NOT_RECORDED_STATUS, Fault, Refusal, Request, Route, RouteError
from proxies.cache import ProxyCache
from proxies.counters import Counters
from proxies.disconnect import DisconnectWatch, disconnected_within, wait_for_disconnect
from proxies.failures import PASS, Verdict
from proxies.flow import ClientGone, Flow, ProxySettings
from proxies.interpreter import TakeTurns
from proxies.passthrough import StreamedBody, announced_body
from proxies.protocol import hold
from proxies.records import LogRecord
from proxies.relay import forward, replay, send_answer
from proxies.request_memo import RequestMemo
from proxies.tunnel import tunnel
from proxies.upstream import UpstreamPool

log = logging.getLogger("rubberduck.proxy")


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
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            return
        s = self.settings
        record = LogRecord(
            proxy_id=s.proxy_id,
            owner_id=s.owner_id,
            timestamp=time.time(),
            ip=(scope.get("client") or ("", 0))[0],
            method=scope.get("method", "GET"),  # a WebSocket's handshake is a GET
            path=scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"],
            pricing_provider=s.provider.pricing_provider_id,
        )
        started = time.perf_counter()
        self.counters.begin()
        try:
            flow = Flow(s, scope, receive, send, record)
            await (self.handle(flow) if kind == "http" else self.tunnel(flow))
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

    async def handle(self, flow: Flow) -> None:
        s, record = flow.settings, flow.record
        flow.query = flow.scope.get("query_string", b"").decode("latin-1")
        passthrough = self.memo.passthrough(record.method, record.path)
        if passthrough is not None:
            return await self.pass_through(flow, passthrough)
        flow.body = await read_body(flow.receive)
        self.memo.resolve(flow)

        verdict = s.chaos.decide(record.ip)
        if verdict is not PASS and await apply_failure(flow, verdict):
            return
        if flow.refused is not None:
            refused = flow.refused
            return await send_answer(flow, s.provider.error(refused.status, refused.fault, message=refused.message))
        route = flow.route
        record.model = route.model

        if route.cacheable:
            record.prompt_hash = flow.key
            mode = s.cache_mode if flow.directive is None else DIRECTIVES.get(flow.directive.strip().lower())
            if mode is None:
                message = f"{CACHE_DIRECTIVE_HEADER} must be `skip` or `refresh`, not {flow.directive!r}."
                return await send_answer(flow, s.provider.error(400, Fault.BAD_REQUEST, message=message))
            if mode == "record" or mode == "replay":
                cached = await self.cache.get(flow.key)
                if cached is not None:
                    if flow.fingerprint is not None:  # not known yet: requests seen once never push out repeats
                        self.memo.remember(flow)
                    record.cache = "hit"
                    record.usage = cached.usage
                    return await replay(flow, cached, self.cache)
                record.cache = "miss"
                if mode == "replay":
                    return await not_recorded(flow)
            elif mode == "refresh":
                record.cache = "miss"  # forwarded, and its answer stored over the one recorded
            else:  # off: neither read nor written
                flow.key = None

        await self.send_upstream(flow, flow.request)

    async def send_upstream(self, flow: Flow, request: Request, body: StreamedBody | None = None) -> None:
        """Forwards the flow; a client disconnect cancels the upstream call (once a streamed body is whole)."""
        s = flow.settings
        try:
            outgoing = s.provider.upstream_request(s.upstream_url, request, flow.route)
        except Refusal as refusal:
            return await send_answer(flow, refusal.answer)
        if body is not None:
            outgoing = body.sent_with(outgoing)
        task = self.watch.begin(flow.receive) if body is None else body.task
        try:
            await forward(flow, outgoing, self.upstream, self.cache)
        finally:
            self.watch.end(task)

    async def pass_through(self, flow: Flow, route: Route) -> None:
        """A request no endpoint models, under an API root: the failure rules, then forwarded as it is, its body
        streamed to the upstream as it arrives (read whole first only where the provider signs it)."""
        s, provider = flow.settings, flow.settings.provider
        flow.route = route
        request = flow.request
        flow.body_pending, length = announced_body(flow.scope["headers"])
        if flow.body_pending and provider.signs_body(request):
            request.body = flow.body = await read_body(flow.receive)
            flow.body_pending = False
        verdict = s.chaos.decide(flow.record.ip)
        if verdict is not PASS and await apply_failure(flow, verdict):
            return
        body = StreamedBody(flow.receive, self.watch, length) if flow.body_pending else None
        await self.send_upstream(flow, request, body)
        if body is not None and body.gone:
            flow.record.status_code = 499

    async def tunnel(self, flow: Flow) -> None:
        """A WebSocket handshake: routed and the failure rules as for any request, then the tunnel (proxies/tunnel.py)."""
        s, record = flow.settings, flow.record
        if (await flow.receive())["type"] != "websocket.connect":
            raise ClientGone("client left before its handshake")
        flow.query = flow.scope.get("query_string", b"").decode("latin-1")
        try:
            flow.route = s.provider.route(flow.request)
        except RouteError as e:
            flow.refused = e
        verdict = s.chaos.decide(record.ip)
        if verdict is not PASS and await apply_failure(flow, verdict):
            return
        if flow.refused is not None:
            refused = flow.refused
            return await send_answer(flow, s.provider.error(refused.status, refused.fault, message=refused.message))
        record.model = dict(parse_qsl(flow.query)).get("model")  # OpenAI Realtime names it in the URL
        try:
            outgoing = s.provider.upstream_request(s.upstream_url, flow.request, flow.route)
        except Refusal as refusal:
            return await send_answer(flow, refusal.answer)
        await tunnel(flow, outgoing, self.upstream)


async def apply_failure(flow: Flow, verdict: Verdict) -> bool:
    """Carries out what the failure rules decided; True when that answered the request (or its client left)."""
    s, record = flow.settings, flow.record
    if verdict.check_rpm:
        verdict = await s.chaos.after_shared_rpm()
    if verdict.failure:
        record.failure = verdict.failure
    if verdict.hang:
        hold(flow.scope, cut=True)  # a graceful stop closes it rather than wait for it
        await wait_for_disconnect(flow.receive)
        record.status_code = 499
        return True
    if verdict.delay and flow.body_pending:  # watching the client would take its body: waits without
        await asyncio.sleep(verdict.delay)
    elif verdict.delay and await disconnected_within(flow.receive, verdict.delay, hold(flow.scope, cut=False)):
        record.status_code = 499
        return True
    if verdict.status:
        answer = s.provider.error(
            verdict.status,
            fault_of(verdict.failure),
            retry_after=verdict.retry_after,
            limit=verdict.limit,
            route=flow.route,
        )
        await send_answer(flow, answer, failure=verdict.failure)
        return True
    return False


# The per-request cache directive, as the cache mode it makes this one request (docs/recordings.md).
DIRECTIVES = {"skip": "off", "refresh": "refresh"}


async def not_recorded(flow: Flow) -> None:
    """A replaying proxy's answer to a call it has no recording of: never forwarded, an error no SDK retries."""
    flow.record.failure = "not_recorded"
    message = (
        f"Rubberduck: this call was not recorded (cache key {flow.key}). The proxy replays recordings only "
        "(cache_mode replay), so it was not forwarded: record it first, or send `x-rubberduck-cache: skip`."
    )
    answer = flow.settings.provider.error(NOT_RECORDED_STATUS, Fault.NOT_RECORDED, message=message, route=flow.route)
    await send_answer(flow, answer, failure="not_recorded")


def fault_of(failure: str | None) -> Fault:
    return {"ip_blocked": Fault.IP_BLOCKED, "rate_limit": Fault.RATE_LIMITED}.get(failure or "", Fault.INJECTED)


async def read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone("client left while sending its request")
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]
