"""WebSockets through a proxy (OpenAI Realtime, Gemini Live): a two-way tunnel to the provider's own socket.

The handshake is a flow like any request (proxies/app.py): routed, then the failure rules. Here the upstream socket
opens with the client's headers and subprotocols; a refusal there comes back as the upstream sent it. Once the
client is accepted (with the upstream's subprotocol), each side's messages go to the other in order, one at a time
(websockets and uvicorn hold a few frames at most before they stop reading), text as text and bytes as bytes, and
either side's close code reaches the other. The stream rule slows the upstream's messages, or cuts the tunnel after
N of them as a network would (no close frame). The session's log record: status 101, its duration, and how many
messages each side sent.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from providers.base import HOP_BY_HOP, Answer, Fault, UpstreamRequest
from proxies.failures import StreamRule
from proxies.flow import ClientGone, Flow
from proxies.relay import encode_headers, send_answer
from proxies.upstream import UpstreamPool

# What each of the tunnel's two sockets negotiates for itself, never copied from one to the other.
HANDSHAKE_HEADERS = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"}
)
NOT_COPIED = HOP_BY_HOP | HANDSHAKE_HEADERS | {"sec-websocket-accept", "host", "accept-encoding", "date", "server"}
# Codes no peer sends (RFC 6455 7.4.1): a close without a code, and a connection that dropped without a close.
NO_CODE, DROPPED = 1005, 1006
# The client's close when its upstream dropped: 1014, a gateway that got no valid answer from its upstream.
BAD_GATEWAY = 1014


async def tunnel(flow: Flow, outgoing: UpstreamRequest, pool: UpstreamPool) -> None:
    """Opens the upstream socket, accepts the client and relays both ways until either side closes."""
    upstream = await open_upstream(flow, outgoing, pool)
    if upstream is None:
        return
    record = flow.record
    headers = [(k, v) for k, v in upstream.response.headers.raw_items() if k.lower() not in NOT_COPIED]
    await flow.send(
        {"type": "websocket.accept", "subprotocol": upstream.subprotocol, "headers": encode_headers(headers)}
    )
    record.status_code = 101
    record.client_messages = record.upstream_messages = 0
    to_upstream = asyncio.ensure_future(client_to_upstream(flow, upstream))
    try:
        await upstream_to_client(flow, upstream, flow.settings.chaos.stream_rule())
    finally:
        to_upstream.cancel()
        await upstream.close()


async def open_upstream(flow: Flow, outgoing: UpstreamRequest, pool: UpstreamPool) -> ClientConnection | None:
    """The upstream socket, or None once the client got why not (the upstream's refusal, or a 502/504)."""
    url = "ws" + outgoing.url.removeprefix("http")  # http: -> ws:, https: -> wss:
    provider = flow.settings.provider
    try:
        return await connect(
            url,
            additional_headers=[(k, v) for k, v in outgoing.headers if k.lower() not in NOT_COPIED],
            subprotocols=flow.scope.get("subprotocols") or None,
            ssl=pool.ssl_context if url.startswith("wss:") else None,
            open_timeout=pool.timeout,
            compression=None,  # messages pass as they are, and the client's socket negotiates its own
            max_size=None,  # the provider's limits hold, not another one here
            user_agent_header=None,  # the client's own goes up
            proxy=None,
        )
    except InvalidStatus as refused:
        answer = refused.response
        headers = [(k, v) for k, v in answer.headers.raw_items() if k.lower() not in NOT_COPIED | {"content-length"}]
        await send_answer(flow, Answer(answer.status_code, headers, answer.body or b""))
    except TimeoutError:
        message = "Rubberduck timed out opening the upstream WebSocket."
        await send_answer(flow, provider.error(504, Fault.UPSTREAM_TIMEOUT, message=message))
    except (OSError, InvalidHandshake, InvalidURI) as e:
        message = f"Rubberduck could not open the upstream WebSocket: {e.__class__.__name__}."
        await send_answer(flow, provider.error(502, Fault.UPSTREAM_UNREACHABLE, message=message))
    return None


async def client_to_upstream(flow: Flow, upstream: ClientConnection) -> None:
    receive, record = flow.receive, flow.record
    while True:
        message = await receive()
        if message["type"] == "websocket.receive":
            text = message.get("text")
            try:
                await upstream.send(text if text is not None else message["bytes"])
            except ConnectionClosed:
                return  # the upstream closed: the other way tells the client
            record.client_messages += 1
        elif message["type"] == "websocket.disconnect":
            code = message.get("code", 1000)
            await upstream.close(1000 if code in (NO_CODE, DROPPED) else code, message.get("reason") or "")
            return


async def upstream_to_client(flow: Flow, upstream: ClientConnection, rule: StreamRule | None) -> None:
    send, record = flow.send, flow.record
    try:
        async for message in upstream:
            if rule is not None:
                if rule.cut_after_events is not None and record.upstream_messages >= rule.cut_after_events:
                    record.failure = "stream_cut"
                    raise ClientGone("tunnel cut by chaos rule")  # uvicorn drops the connection, no close frame
                if rule.chunk_delay_ms:
                    await asyncio.sleep(rule.chunk_delay_ms / 1000.0)
            if isinstance(message, str):
                await send({"type": "websocket.send", "text": message})
            else:
                await send({"type": "websocket.send", "bytes": message})
            record.upstream_messages += 1
    except ConnectionClosed:
        pass  # dropped: said below
    except OSError:
        return  # the client left (uvicorn's ClientDisconnected)
    closed = upstream.protocol.close_rcvd
    if closed is None:
        code, reason = BAD_GATEWAY, "The upstream connection dropped."
    else:
        code, reason = (1000, "") if closed.code == NO_CODE else (closed.code, closed.reason)
    try:
        await send({"type": "websocket.close", "code": code, "reason": reason})
    except OSError:
        pass
