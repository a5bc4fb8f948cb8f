"""OpenAI Realtime through a proxy: the openai SDK's realtime client (and a bare websockets client, for what the SDK
never sends) -> a real proxy -> a fake Realtime socket. A two-way tunnel: messages in order, text as text and bytes
as bytes, close codes both ways, one log entry per session; the failure rules act at the handshake, the stream rule
on the upstream's messages."""

import json

import openai
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.conftest import flushed_logs, run_async, set_failures, wait_until
from tests.fakes import websocket as fake
from tests.fakes.websocket import FakeSocketUpstream

MODEL = "gpt-realtime"
TEXT = "".join(fake.WORDS)


@pytest.fixture
def upstream():
    server = FakeSocketUpstream(fake.openai_realtime).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("openai", upstream_url=upstream.url + "/v1")


def client_for(proxy):
    return openai.OpenAI(base_url=proxy["base_url"], api_key="sk-realtime", max_retries=0)


def socket_url(proxy, path="/realtime") -> str:
    return proxy["base_url"].replace("http://", "ws://") + path + f"?model={MODEL}"


def logs(runner, proxy, count):
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def converse(connection) -> tuple[list[str], str]:
    """One text turn: the event types seen and the text they carried."""
    connection.session.update(session={"type": "realtime", "output_modalities": ["text"]})
    connection.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello"}]}
    )
    connection.response.create()
    kinds, text = [], ""
    for event in connection:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.done":
            break
    return kinds, text


def test_a_realtime_session_tunnels_through_the_proxy_and_is_logged_once(proxy, upstream, runner):
    with client_for(proxy).realtime.connect(model=MODEL) as connection:
        kinds, text = converse(connection)

    assert text == TEXT
    assert kinds == ["session.created", "session.updated", "response.created", *["response.output_text.delta"] * 6,
                     "response.done"]  # fmt: skip
    [handshake] = upstream.handshakes
    assert handshake.path == f"/v1/realtime?model={MODEL}"
    assert handshake.headers["authorization"] == "Bearer sk-realtime"
    assert [json.loads(m)["type"] for m in upstream.received] == [
        "session.update",
        "conversation.item.create",
        "response.create",
    ]
    [entry] = logs(runner, proxy, 1)
    assert (entry.method, entry.path, entry.status_code, entry.cache, entry.model) == (
        "GET",
        "/v1/realtime",
        101,
        "bypass",
        MODEL,
    )
    assert (entry.client_messages, entry.upstream_messages) == (3, 10) and entry.latency_ms > 0
    assert wait_until(lambda: upstream.closed_with) == [(1000, "")]  # the SDK's close reached the upstream


def test_the_async_realtime_client_tunnels_too(proxy, upstream):
    async def run():
        async with openai.AsyncOpenAI(base_url=proxy["base_url"], api_key="sk-realtime") as client:
            async with client.realtime.connect(model=MODEL) as connection:
                await connection.response.create()
                return [event.type async for event in until_done(connection)]

    async def until_done(connection):
        async for event in connection:
            yield event
            if event.type == "response.done":
                return

    assert run_async(run())[-1] == "response.done"


def test_bytes_pass_as_bytes_in_order_and_close_codes_pass_both_ways(proxy, upstream, runner):
    with connect(socket_url(proxy)) as socket:
        assert json.loads(socket.recv())["type"] == "session.created"
        for i in range(20):
            socket.send(bytes([i]) * (i + 1))
        assert [socket.recv() for _ in range(20)] == [bytes([i]) * (i + 1) for i in range(20)]
        socket.send(json.dumps({"type": "test.close", "code": 4001, "reason": "the upstream's own"}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv()
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "the upstream's own")

    with connect(socket_url(proxy)) as socket:
        socket.recv()
        socket.close(4002, "the client's own")
    assert wait_until(lambda: len(upstream.closed_with) == 2 and upstream.closed_with)[1] == (4002, "the client's own")
    entries = logs(runner, proxy, 2)
    assert [(e.client_messages, e.upstream_messages) for e in entries] == [(21, 21), (0, 1)]


def test_a_refused_upstream_handshake_comes_back_as_the_upstream_said_it(proxy, upstream, runner):
    upstream.refuse(401, {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}})
    with pytest.raises(InvalidStatus) as refused:
        client_for(proxy).realtime.connect(model=MODEL).enter()
    response = refused.value.response
    assert response.status_code == 401 and response.headers["x-request-id"] == "req_refused"
    assert json.loads(response.body)["error"]["code"] == "invalid_api_key"
    [entry] = logs(runner, proxy, 1)
    assert (entry.status_code, entry.client_messages) == (401, None)


@pytest.mark.parametrize(
    ("failures", "status", "failure"),
    [
        ({"errors": [{"status": 429, "rate": 1.0}]}, 429, "error"),
        ({"errors": [{"status": 503, "rate": 1.0}]}, 503, "error"),
        ({"ip_block": ["127.0.0.1"]}, 403, "ip_blocked"),
    ],
)
def test_the_failure_rules_answer_the_handshake_with_openais_error(
    api, runner, proxy, upstream, failures, status, failure
):
    set_failures(api, runner, proxy, failures)
    with pytest.raises(InvalidStatus) as refused:
        client_for(proxy).realtime.connect(model=MODEL).enter()
    response = refused.value.response
    assert response.status_code == status and response.headers["x-rubberduck-failure"] == failure
    assert "message" in json.loads(response.body)["error"]  # OpenAI's shape
    assert upstream.handshakes == []
    [entry] = logs(runner, proxy, 1)
    assert (entry.status_code, entry.failure) == (status, failure)


def test_the_rpm_limit_counts_sessions(api, runner, proxy, upstream):
    set_failures(api, runner, proxy, {"rpm_limit": 1})
    with client_for(proxy).realtime.connect(model=MODEL) as connection:
        connection.recv()
    with pytest.raises(InvalidStatus) as refused:
        client_for(proxy).realtime.connect(model=MODEL).enter()
    assert refused.value.response.status_code == 429 and refused.value.response.headers["retry-after"]
    assert len(upstream.handshakes) == 1


def test_a_delay_holds_the_handshake_then_the_session_works(api, runner, proxy, upstream):
    set_failures(api, runner, proxy, {"timeout": {"mode": "delay", "seconds": 0.3, "rate": 1.0}})
    with client_for(proxy).realtime.connect(model=MODEL) as connection:
        assert converse(connection)[1] == TEXT
    [entry] = logs(runner, proxy, 1)
    assert (entry.status_code, entry.failure) == (101, "timeout")


def test_a_hang_never_answers_the_handshake(api, runner, proxy, upstream):
    set_failures(api, runner, proxy, {"timeout": {"mode": "hang", "rate": 1.0}})
    with pytest.raises(TimeoutError):
        connect(socket_url(proxy), open_timeout=0.5)
    [entry] = logs(runner, proxy, 1)
    assert (entry.status_code, entry.failure) == (499, "hang")
    assert upstream.handshakes == []


def test_a_cut_rule_drops_the_tunnel_after_n_messages(api, runner, proxy, upstream):
    set_failures(api, runner, proxy, {"stream": {"cut_after_events": 3, "rate": 1.0}})
    received = []
    with client_for(proxy).realtime.connect(model=MODEL) as connection:
        connection.response.create()
        with pytest.raises(ConnectionClosed) as cut:
            while True:
                received.append(connection.recv().type)
    assert received == ["session.created", "response.created", "response.output_text.delta"]
    assert cut.value.rcvd is None  # dropped as a network drops it: no close frame
    [entry] = logs(runner, proxy, 1)
    assert (entry.status_code, entry.failure, entry.upstream_messages) == (101, "stream_cut", 3)


def test_a_path_outside_the_api_is_openais_404_and_an_unreachable_upstream_its_502(make_proxy, upstream):
    proxy = make_proxy("openai", upstream_url=upstream.url + "/v1")
    with pytest.raises(InvalidStatus) as refused:
        connect(proxy["base_url"].replace("http://", "ws://").removesuffix("/v1") + "/realtime")
    assert refused.value.response.status_code == 404
    assert json.loads(refused.value.response.body)["error"]["type"] == "invalid_request_error"
    assert upstream.handshakes == []

    gone = make_proxy("openai", upstream_url="http://127.0.0.1:9/v1")
    with pytest.raises(InvalidStatus) as unreachable:
        connect(socket_url(gone))
    assert unreachable.value.response.status_code == 502


def test_a_graceful_stop_closes_open_sessions_and_logs_them(api, runner, proxy, upstream):
    with connect(socket_url(proxy)) as socket:
        socket.recv()
        assert api.post(f"/api/v1/proxies/{proxy['id']}/stop", {"mode": "graceful"}, format="json").status_code == 200
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd.code == 1012  # service restart: the client may come back
    [entry] = logs(runner, proxy, 1)
    assert entry.status_code == 101
    assert wait_until(lambda: upstream.closed_with) == [(1012, "")]
