"""A proxy's port under hostile and broken clients (raw sockets): every answer the proxy makes itself is its
provider's error shape, never a 500; its limits answer clearly (413, 431, 408, an idle connection closed); it keeps
answering healthy requests; and every request that reached its app has exactly one log entry."""

from __future__ import annotations

import asyncio
import json
import logging

import openai
import pytest

from tests.conftest import flushed_logs, run_async, wait_until
from tests.fakes import openai as fake_openai
from tests.fakes.server import FakeUpstream
from tests.proxies.port_client import exchange, healthy, provider_shaped, split, statuses

PROVIDERS = ["openai", "azure_openai", "anthropic", "bedrock", "vertex", "gemini"]
MAX_BODY = 256 * 1024
MAX_HEAD = 16 * 1024
SECONDS = 1.0  # the keep-alive and client timeouts here: cut within a second of the sweep after them


@pytest.fixture
def limits(settings):
    settings.RUBBERDUCK_MAX_REQUEST_BYTES = MAX_BODY
    settings.RUBBERDUCK_MAX_HEADER_BYTES = MAX_HEAD
    settings.RUBBERDUCK_KEEP_ALIVE_SECONDS = SECONDS
    settings.RUBBERDUCK_CLIENT_TIMEOUT_SECONDS = SECONDS


@pytest.fixture
def upstream():
    upstream = FakeUpstream(fake_openai.respond).start()
    yield upstream
    upstream.stop()


@pytest.fixture
def serve(limits, make_proxy, upstream):
    """A running proxy of the provider, its upstream the fake; returns (proxy, port)."""

    def serve(provider: str = "openai"):
        proxy = make_proxy(provider, upstream_url=upstream.url)
        assert proxy["status"] == "running", proxy
        return proxy, proxy["port"]

    return serve


@pytest.fixture
def tracebacks(caplog):
    """Log records with a traceback, from any thread, for the test to find none."""
    caplog.set_level(logging.WARNING)
    return lambda: [r for r in caplog.records if r.exc_info]


def served(runner, proxy) -> int:
    """How many requests reached the proxy's app and ended, once none is in flight."""
    app = runner.running[proxy["id"]].server.app
    wait_until(lambda: app.counters.in_flight == 0)
    return app.counters.requests


def assert_healthy(provider: str, port: int) -> None:
    raw = run_async(exchange(port, healthy(port)))
    assert provider_shaped(provider, raw, 404), raw


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET /rubberduck-healthy HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n",
    b"GET\x00 / HTTP/1.1\r\n\r\n",
    b"GET /rubberduck-healthy HTTP/7.3\r\nHost: a\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n{}",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n{}",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"GET /caf\xc3\xa9/\xff\xfe HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /v1/realtime HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",  # no key
]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_answers_what_it_cannot_parse_with_its_providers_400(serve, runner, tracebacks, provider):
    proxy, port = serve(provider)
    for raw in MALFORMED:
        answer = run_async(exchange(port, raw))
        assert provider_shaped(provider, answer, 400), (raw, answer)
    # Bytes that are not UTF-8 in a header value are the client's business: the request is answered.
    answer = run_async(exchange(port, healthy(port).replace(b"\r\n\r\n", b"\r\nX-Odd: caf\xe9\xff\r\n\r\n")))
    assert provider_shaped(provider, answer, 404), answer
    assert_healthy(provider, port)
    assert tracebacks() == []
    # The app got three: the chunked body that broke off (its 400 logged), the odd header, the healthy one.
    assert len(flushed_logs(runner, proxy["id"])) == served(runner, proxy) == 3


def test_it_cuts_a_chunked_body_that_breaks_off_with_a_400_and_logs_it(serve, runner, tracebacks):
    proxy, port = serve("openai")
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = run_async(exchange(port, head.encode() + b"2\r\n{}\r\n", b"zz\r\nnot a chunk\r\n", pause=0.2))
    assert provider_shaped("openai", answer, 400), answer
    wait_until(lambda: flushed_logs(runner, proxy["id"]))
    assert [e.status_code for e in flushed_logs(runner, proxy["id"])] == [400]
    assert tracebacks() == []


def test_it_answers_431_to_a_head_over_the_limit_and_closes(serve, runner, tracebacks):
    proxy, port = serve("anthropic")
    big = healthy(port).replace(b"\r\n\r\n", b"\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")  # 1 MB
    answer = run_async(exchange(port, big[:MAX_HEAD], big[MAX_HEAD:], pause=0.1))
    # The 431 is sent once the limit is passed and the connection closed; a client still sending then may see
    # the connection reset instead (D51), so the head here arrives in two parts.
    assert provider_shaped("anthropic", answer, 431), answer[:300]
    assert split(answer)[1]["connection"] == "close"
    over = healthy(port).replace(b"\r\n\r\n", b"\r\nX-Big: " + b"a" * (MAX_HEAD + 100) + b"\r\n\r\n")
    assert provider_shaped("anthropic", run_async(exchange(port, over)), 431)  # whole in one read too
    just_under = healthy(port).replace(b"\r\n\r\n", b"\r\nX-Big: " + b"a" * (MAX_HEAD - 200) + b"\r\n\r\n")
    assert provider_shaped("anthropic", run_async(exchange(port, just_under)), 404)
    assert tracebacks() == []
    # A head whole in one read had reached the app when it was measured: its log says 431.
    assert len(flushed_logs(runner, proxy["id"])) == served(runner, proxy) == 2
    assert sorted(e.status_code for e in flushed_logs(runner, proxy["id"])) == [404, 431]


def test_it_refuses_a_body_over_the_limit_with_a_413_the_sdk_raises(serve, runner, upstream):
    proxy, port = serve("openai")
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", max_retries=0)
    messages = [{"role": "user", "content": "a" * (MAX_BODY + 1)}]
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert raised.value.status_code == 413
    assert "limit" in raised.value.message
    # Just under the limit, and in many pieces: forwarded.
    messages = [{"role": "user", "content": "a" * (MAX_BODY - 1000)}]
    assert client.chat.completions.create(model="gpt-4o-mini", messages=messages).choices
    assert len(upstream.requests) == 1
    assert [e.status_code for e in flushed_logs(runner, proxy["id"])] == [413, 200]


def test_it_refuses_an_announced_body_over_the_limit_at_once(serve, runner):
    proxy, port = serve("gemini")
    head = (
        f"POST /v1beta/models/gemini-2.0-flash:generateContent HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {10**12}\r\n\r\n"
    )
    answer = run_async(exchange(port, head.encode() + b'{"contents": ['))
    assert provider_shaped("gemini", answer, 413), answer
    assert [e.status_code for e in flushed_logs(runner, proxy["id"])] == [413]


def test_it_answers_408_to_a_head_that_comes_a_byte_a_second_and_does_not_log_it(serve, runner, tracebacks):
    proxy, port = serve("bedrock")
    head = f"POST /model/m/invoke HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
    answer = run_async(exchange(port, *(head[i : i + 1] for i in range(len(head))), pause=0.1, wait=4))
    assert provider_shaped("bedrock", answer, 408), answer
    assert_healthy("bedrock", port)
    assert tracebacks() == []
    assert len(flushed_logs(runner, proxy["id"])) == served(runner, proxy) == 1  # the healthy one


def test_it_answers_408_to_a_body_that_never_ends_and_logs_it(serve, runner, tracebacks):
    proxy, port = serve("vertex")
    path = "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent"
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 100\r\n\r\n"
    answer = run_async(exchange(port, head.encode() + b'{"contents"', wait=4))
    assert provider_shaped("vertex", answer, 408), answer
    wait_until(lambda: flushed_logs(runner, proxy["id"]))
    assert [e.status_code for e in flushed_logs(runner, proxy["id"])] == [408]
    assert tracebacks() == []


def test_it_closes_a_connection_idle_since_it_opened(serve):
    _, port = serve("openai")

    async def idle() -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(reader.read(), 4) == b""  # closed by the proxy, saying nothing
        finally:
            writer.close()

    assert run_async(idle())


def test_it_holds_many_idle_connections_and_answers_meanwhile(serve, runner):
    proxy, port = serve("openai")
    server = runner.running[proxy["id"]].server

    async def hold_and_ask() -> tuple[int, bytes, int]:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(200)]
        try:
            answer = await exchange(port, healthy(port))
            await asyncio.sleep(0.05)
            return len(server.server.server_state.connections), answer, len(held)
        finally:
            for _, writer in held:
                writer.close()

    connections, answer, held = run_async(hold_and_ask())
    assert provider_shaped("openai", answer, 404)
    assert connections >= held == 200


def test_it_answers_pipelined_requests_http_1_0_and_expect_100_continue(serve, runner, tracebacks):
    proxy, port = serve("azure_openai")
    host = f"Host: 127.0.0.1:{port}\r\n"
    answer = run_async(exchange(port, healthy(port) * 3))
    assert statuses(answer) == [404, 404, 404]

    answer = run_async(exchange(port, b"GET /rubberduck-healthy HTTP/1.0\r\n\r\n", wait=2))
    assert provider_shaped("azure_openai", answer, 404)  # and closed, as HTTP/1.0 asks (else wait ran out)

    expect = f"POST /rubberduck-healthy HTTP/1.1\r\n{host}Content-Length: 2\r\nExpect: 100-continue\r\n\r\n"
    answer = run_async(exchange(port, expect.encode(), b"{}", pause=0.2))
    assert statuses(answer) == [100, 404]
    assert tracebacks() == []
    assert len(flushed_logs(runner, proxy["id"])) == served(runner, proxy) == 5


def test_the_protocol_answers_in_the_providers_shape_with_a_length(serve):
    _, port = serve("openai")
    status, headers, body = split(run_async(exchange(port, b"GARBAGE\r\n\r\n")))
    assert (status, headers["content-length"], headers["connection"]) == (400, str(len(body)), "close")
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
