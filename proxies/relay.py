"""Answering a flow: forwarding it upstream and relaying the answer (teed into the cache), replaying a cached
answer, or sending one the proxy makes itself."""

from __future__ import annotations

import asyncio

from providers.base import HOP_BY_HOP, Answer, Fault, UpstreamRequest
from proxies.cache import Cached, ProxyCache
from proxies.failures import StreamRule
from proxies.flow import ClientGone, Flow
from proxies.passthrough import relay_through
from proxies.upstream import UPSTREAM_ERRORS, UpstreamPool, unreachable

# Response headers never copied from upstream or a cache entry: hop-by-hop, framing, and per-answer ones.
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}


def encode_headers(headers) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


# An answer's two messages: to a request, and to a WebSocket handshake in its place (ASGI's denial response).
ANSWER_MESSAGES = {
    "http": ("http.response.start", "http.response.body"),
    "websocket": ("websocket.http.response.start", "websocket.http.response.body"),
}


async def send_answer(flow: Flow, answer: Answer, failure: str | None = None) -> None:
    """Sends an answer the proxy made itself (an error in the provider's wire shape)."""
    flow.record.status_code = answer.status
    headers = [*answer.headers, ("content-length", str(len(answer.body)))]
    if failure:
        headers.append(("x-rubberduck-failure", failure))
    start, body = ANSWER_MESSAGES[flow.scope["type"]]
    await flow.send({"type": start, "status": answer.status, "headers": encode_headers(headers)})
    await flow.send({"type": body, "body": answer.body})


async def forward(flow: Flow, outgoing: UpstreamRequest, upstream: UpstreamPool, cache: ProxyCache) -> None:
    """Sends the request upstream and relays the answer; a complete successful one is cached under the flow's key."""
    provider = flow.settings.provider
    try:
        response = await upstream.send(flow.record.method, outgoing.url, outgoing.headers, outgoing.body)
    except UPSTREAM_ERRORS as e:
        if not isinstance(e, TimeoutError):
            message = unreachable(e)
            return await send_answer(flow, provider.error(502, Fault.UPSTREAM_UNREACHABLE, message=message))
        message = "Rubberduck timed out waiting for the upstream."
        return await send_answer(flow, provider.error(504, Fault.UPSTREAM_TIMEOUT, message=message))
    try:
        headers = [
            (name, v.decode("latin-1"))
            for k, v in response.raw_headers
            if (name := k.decode("latin-1").lower()) not in DROPPED_RESPONSE_HEADERS
        ]
        if flow.route.passthrough:
            await relay_through(flow, response)
        elif flow.route.stream and response.status < 300:
            await relay_stream(flow, response, headers, cache)
        else:
            await relay_body(flow, response, headers, cache)
    finally:
        response.release()  # back to the pool when read to the end, else the connection is closed


async def relay_body(flow: Flow, response, headers: list[tuple[str, str]], cache: ProxyCache) -> None:
    record = flow.record
    try:
        body = await response.read()
    except UPSTREAM_ERRORS:
        message = "The upstream closed the connection before its answer was complete."
        return await send_answer(flow, flow.settings.provider.error(502, Fault.UPSTREAM_UNREACHABLE, message=message))
    status = response.status
    record.status_code = status
    if 200 <= status < 300:
        record.usage = flow.settings.provider.answer_usage(flow.route, body, headers)
        if flow.key is not None:
            details = (record.method, record.path, flow.query, record.model, False)
            cache.put(flow.key, Cached(status, tuple(headers), body, None, record.usage, details=details))
        else:
            body = for_client(flow, body)
    out = [*headers, ("content-length", str(len(body)))]
    if record.cache != "bypass":
        out.append(("x-rubberduck-cache", record.cache))
    await flow.send({"type": "http.response.start", "status": status, "headers": encode_headers(out)})
    await flow.send({"type": "http.response.body", "body": body})


def for_client(flow: Flow, body: bytes) -> bytes:
    """An uncached answer's body with the upstream URLs it hands the client made the proxy's (Provider.client_body)."""
    return flow.settings.provider.client_body(flow.route, body, *flow.bases())


async def relay_stream(flow: Flow, response, headers: list[tuple[str, str]], cache: ProxyCache) -> None:
    """Tees the upstream stream: each chunk goes to the client as it arrives and into the recording."""
    record, send = flow.record, flow.send
    inspector = flow.settings.provider.stream_inspector(flow.route)
    rule = flow.settings.chaos.stream_rule()
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
    complete = False
    try:
        async for chunk in response.content.iter_any():
            events = inspector.feed(chunk)
            if rule is not None:
                events_sent = await send_disturbed(flow, events, rule, events_sent)
            else:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            recording.append((round((loop.time() - t0) * 1000.0, 1), len(chunk)))
            parts.append(chunk)
    except UPSTREAM_ERRORS:
        raise ClientGone("the upstream stream broke off") from None
    except asyncio.CancelledError:
        # SDKs hang up as soon as they read the terminal event; the stream is complete all the same.
        complete = inspector.done
        raise
    else:
        await send({"type": "http.response.body", "body": b""})
        complete = True
    finally:
        if complete:  # usage recorded; cached unless cut short or carrying an error event
            record.usage = inspector.usage
            if flow.key is not None and not inspector.error and record.failure != "stream_cut":
                details = (record.method, record.path, flow.query, record.model, True)
                entry = Cached(response.status, tuple(headers), b"".join(parts), tuple(recording), inspector.usage,
                               details=details)  # fmt: skip
                cache.put(flow.key, entry)


async def replay(flow: Flow, cached: Cached, cache: ProxyCache) -> None:
    """Answers from the cache; a stream is replayed as a stream (instantly, or at its recorded pace)."""
    record, send, provider = flow.record, flow.send, flow.settings.provider
    record.status_code = cached.status
    if cached.wire_headers is None:  # encoded once per entry, not per hit (D10)
        kept = [(k, v) for k, v in cached.headers if k != provider.request_id_header]
        cached.wire_headers = tuple(encode_headers([*kept, ("x-rubberduck-cache", "hit")]))
        cache.remember(flow.key, cached)
    headers = [*cached.wire_headers, (provider.request_id_header.encode(), provider.new_request_id().encode())]
    if cached.chunks is None:
        headers.append((b"content-length", str(len(cached.body)).encode()))
        await send({"type": "http.response.start", "status": cached.status, "headers": headers})
        await send({"type": "http.response.body", "body": cached.body})
        return
    await send({"type": "http.response.start", "status": cached.status, "headers": headers})
    rule = flow.settings.chaos.stream_rule()
    paced = flow.settings.replay == "recorded"
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    offset = 0
    events_sent = 0
    splitter = provider.stream_inspector(flow.route) if rule is not None else None
    for at_ms, length in cached.chunks:
        chunk = cached.body[offset : offset + length]
        offset += length
        if paced:
            wait = t0 + at_ms / 1000.0 - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        if splitter is not None:
            events_sent = await send_disturbed(flow, splitter.feed(chunk), rule, events_sent)
        else:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def send_disturbed(flow: Flow, events: list[bytes], rule: StreamRule, events_sent: int) -> int:
    """Sends whole events under a stream-chaos rule: slowed by chunk_delay_ms, cut after N events."""
    for event in events:
        if rule.cut_after_events is not None and events_sent >= rule.cut_after_events:
            flow.record.failure = "stream_cut"
            raise ClientGone("stream cut by chaos rule")
        if rule.chunk_delay_ms:
            await asyncio.sleep(rule.chunk_delay_ms / 1000.0)
        await flow.send({"type": "http.response.body", "body": event, "more_body": True})
        events_sent += 1
    return events_sent
