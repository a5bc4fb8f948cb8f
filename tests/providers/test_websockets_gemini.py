"""Gemini Live through a proxy: google-genai's `client.aio.live.connect()` -> a real proxy -> a fake Live socket.
google-genai opens the Live socket as wss:// whatever its base URL says, so the proxy is a TLS one (`tls: true`)
and the client trusts the server's CA; the proxy's own upstream here is a plain ws:// fake."""

import asyncio
import json
import ssl

import pytest
from google import genai
from google.genai import types
from websockets.exceptions import InvalidStatus

from tests.conftest import flushed_logs, run_async, set_failures, wait_until
from tests.fakes import websocket as fake
from tests.fakes.websocket import FakeSocketUpstream

MODEL = "gemini-live-2.5-flash-preview"
LIVE_PATH = "/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path  # the server's CA, made for this test


@pytest.fixture
def trust(api) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=api.get("/api/v1/tls/ca.pem").content.decode())


@pytest.fixture
def upstream():
    server = FakeSocketUpstream(fake.gemini_live).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(make_proxy, upstream):
    proxy = make_proxy("gemini", upstream_url=upstream.url, tls=True)
    assert proxy["status"] == "running", proxy["last_error"]
    return proxy


def client_for(proxy, trust):
    options = types.HttpOptions(base_url=proxy["base_url"], async_client_args={"ssl": trust})
    return genai.Client(api_key="AIza-live", http_options=options)


def one_turn(client) -> list[str]:
    async def run():
        config = {"response_modalities": ["TEXT"]}
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hello"}]}, turn_complete=True)
            return [message.text async for message in session.receive() if message.text]

    return run_async(asyncio.wait_for(run(), 30))


def logs(runner, proxy, count):
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def test_a_live_session_tunnels_through_a_tls_proxy_and_is_logged_once(proxy, upstream, runner, trust):
    assert "".join(one_turn(client_for(proxy, trust))) == "".join(fake.WORDS)

    [handshake] = upstream.handshakes
    assert handshake.path == LIVE_PATH
    assert handshake.headers["x-goog-api-key"] == "AIza-live"
    setup, turn = (json.loads(message) for message in upstream.received)
    assert setup["setup"]["model"] == f"models/{MODEL}"
    assert turn["client_content"]["turnComplete"] is True  # as the SDK spells it
    [entry] = logs(runner, proxy, 1)
    assert (entry.path, entry.status_code, entry.client_messages, entry.upstream_messages) == (LIVE_PATH, 101, 2, 8)


def test_an_injected_429_answers_the_handshake_with_googles_error(api, runner, proxy, upstream, trust):
    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 1.0}]})
    with pytest.raises(InvalidStatus) as refused:
        one_turn(client_for(proxy, trust))
    response = refused.value.response
    assert response.status_code == 429
    assert json.loads(response.body)["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert upstream.handshakes == []
    [entry] = logs(runner, proxy, 1)
    assert (entry.status_code, entry.failure) == (429, "error")
