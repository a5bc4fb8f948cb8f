"""/ws/logs/ and /ws/stats/: with channels' communicator, with Redis between processes, and with a real client."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import httpx
import openai
import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from rubberduck_site.asgi import application
from tests.conftest import require_service, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://127.0.0.1")
MESSAGES = [{"role": "user", "content": "live"}]


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def communicator(path, user=None):
    headers = [ORIGIN]
    if user is not None:
        headers.append((b"cookie", (await sync_to_async(session_cookie)(user)).encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def chat(proxy, content="live"):
    client = openai.AsyncOpenAI(base_url=proxy["base_url"], api_key="sk-test", max_retries=0)
    await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])


@pytest.fixture
def proxies(make_proxy, openai_upstream, other_api):
    url = openai_upstream.url + "/v1"
    return make_proxy("openai", upstream_url=url), make_proxy("openai", upstream_url=url, client=other_api)


async def test_an_anonymous_socket_is_closed():
    for path in ("/ws/logs/", "/ws/stats/"):
        ws = await communicator(path)
        connected, code = await ws.connect()
        assert not connected and code == 4401


async def test_each_new_entry_reaches_its_owner_within_a_second_and_never_another_user(proxies, user, other_user):
    mine, theirs = proxies
    ws = await communicator("/ws/logs/", user)
    only_hits = await communicator(f"/ws/logs/?cache=hit&proxy={mine['id']}", user)
    assert (await ws.connect())[0] and (await only_hits.connect())[0]

    await chat(theirs)
    await chat(mine, "first")
    finished = time.monotonic()
    message = await ws.receive_json_from(timeout=1)
    assert time.monotonic() - finished < 1.0
    assert message["type"] == "log"
    entry = message["entry"]
    assert (entry["proxy"], entry["cache"], entry["path"]) == (mine["id"], "miss", "/v1/chat/completions")
    assert set(entry) >= {"id", "timestamp", "status_code", "latency_ms", "prompt_tokens", "cost_usd"}
    assert await ws.receive_nothing(timeout=0.5), "another user's entry arrived"
    assert await only_hits.receive_nothing(timeout=0.1)

    await chat(mine, "first")  # a cache hit
    assert (await only_hits.receive_json_from(timeout=1))["entry"]["cache"] == "hit"
    await ws.disconnect()
    await only_hits.disconnect()


async def test_stats_come_about_once_a_second_with_the_dashboard_numbers(proxies, user, settings):
    mine, _ = proxies
    await chat(mine)
    ws = await communicator("/ws/stats/", user)
    assert (await ws.connect())[0]
    first = await ws.receive_json_from(timeout=2)
    second = await ws.receive_json_from(timeout=2)
    assert first["type"] == second["type"] == "stats"
    stats = second["stats"]
    assert set(stats) == {"rpm", "requests", "cache_hit_rate", "error_rate", "cost_usd_today", "running_proxies",
                          "stopped_proxies", "in_flight"}  # fmt: skip
    assert stats["requests"] == 1 and stats["rpm"] > 0 and stats["running_proxies"] == 1
    assert stats["cost_usd_today"] > 0 and stats["in_flight"] == 0
    await ws.disconnect()


def redis_layers(prefix: str) -> dict:
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"], "prefix": prefix}}}  # fmt: skip


async def test_a_runner_publishing_through_redis_feeds_a_consumer_on_the_same_redis(proxies, user, settings):
    require_service("Redis", "127.0.0.1", 6379)
    settings.CHANNEL_LAYERS = redis_layers(f"rdtest{os.getpid()}")
    mine, theirs = proxies
    ws = await communicator("/ws/logs/", user)
    assert (await ws.connect())[0]
    await chat(theirs)
    await chat(mine)
    message = await ws.receive_json_from(timeout=1)
    assert message["entry"]["proxy"] == mine["id"]
    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web(args: list[str], port: int, output=None, **env) -> subprocess.Popen:
    """Its output goes to ours, or into the file `output`."""
    db = django_settings.DATABASES["default"]["NAME"]
    full_env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "LOG_LEVEL": "WARNING", **env}
    process = subprocess.Popen(
        [sys.executable, *args], cwd=django_settings.BASE_DIR, env=full_env, stdout=output, stderr=output
    )

    def up():
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=20)
    return process


def stop_web(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


async def real_client_sees(port, cookie, proxy):
    headers = {"Cookie": cookie, "Origin": "http://127.0.0.1"}
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/logs/", additional_headers=headers) as logs:
        await chat(proxy, "over daphne")
        finished = time.monotonic()
        message = json.loads(await asyncio.wait_for(logs.recv(), 1))
        delay = time.monotonic() - finished
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/stats/", additional_headers=headers) as stats:
        numbers = json.loads(await asyncio.wait_for(stats.recv(), 2))
    with pytest.raises((websockets.InvalidStatus, websockets.ConnectionClosed)):  # anonymous: refused
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/logs/", additional_headers={"Origin": "http://127.0.0.1"}) as anon:  # fmt: skip
            await asyncio.wait_for(anon.recv(), 2)
    return message, delay, numbers


async def test_a_real_client_gets_entries_and_stats_from_manage_py_serve(api, user, openai_upstream):
    """One process, as `make run`: daphne with the runner embedded, in-memory channel layer."""
    proxy = (await sync_to_async(api.post)("/api/v1/proxies/", {"name": "live", "provider": "openai",
             "model_name": "gpt-4o-mini", "upstream_url": openai_upstream.url + "/v1"}, format="json")).json()  # fmt: skip
    port = free_port()
    web = await sync_to_async(start_web)(["manage.py", "serve", "--port", str(port)], port, REDIS_URL="")
    try:
        await sync_to_async(wait_until)(
            lambda: api.get(f"/api/v1/proxies/{proxy['id']}/").json()["status"] == "running"
        )
        message, delay, stats = await real_client_sees(port, await sync_to_async(session_cookie)(user), proxy)
    finally:
        await sync_to_async(stop_web)(web)
    assert message["type"] == "log" and message["entry"]["proxy"] == proxy["id"] and delay < 1.0
    assert stats["type"] == "stats" and stats["stats"]["running_proxies"] == 1


async def test_a_real_client_on_daphne_gets_entries_a_separate_runner_publishes_through_redis(proxies, user, settings):
    """Two processes, as when scaled out: daphne (web) and a runner, joined only by Redis."""
    require_service("Redis", "127.0.0.1", 6379)
    settings.CHANNEL_LAYERS = redis_layers("asgi")  # the prefix daphne's settings use with REDIS_URL
    mine, _ = proxies
    port = free_port()
    web = await sync_to_async(start_web)(
        ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "rubberduck_site.asgi:application"], port,
        REDIS_URL="redis://127.0.0.1:6379/0",
    )  # fmt: skip
    try:
        message, delay, stats = await real_client_sees(port, await sync_to_async(session_cookie)(user), mine)
    finally:
        await sync_to_async(stop_web)(web)
    assert message["entry"]["proxy"] == mine["id"] and delay < 1.0
    assert stats["stats"]["running_proxies"] == 1


KERNEL_HOLDS = 32 * 1024  # at most, for a stalled_client(): about 26 KiB on Linux (loopback, its socket options)


def stalled_client(port: int, path: str, cookie: str) -> tuple[socket.socket, bytes]:
    """A WebSocket client on a bare socket that never reads past the handshake. Its small receive buffer and
    segments keep what the kernel holds for it small, so what the server sends beyond that waits in daphne (as for
    a slow client), and the connection outlives the client's close frame until the client drops it. Returns the
    socket and the close frame a browser sends when its tab closes."""
    protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}{path}"))
    request = protocol.connect()
    request.headers.update({"Cookie": cookie, "Origin": "http://127.0.0.1"})
    protocol.send_request(request)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel's minimum
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 256)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"".join(protocol.data_to_send()))
    while protocol.state is State.CONNECTING:
        protocol.receive_data(sock.recv(1))  # not a byte past the handshake's answer
    assert protocol.state is State.OPEN, protocol.handshake_exc
    protocol.send_close(1001)  # "going away"
    return sock, b"".join(protocol.data_to_send())


async def received(ws, messages: int) -> int:
    """Reads `messages` messages from `ws`; returns their size in bytes."""
    return sum([len(await asyncio.wait_for(ws.recv(), 5)) for _ in range(messages)])


async def test_a_client_leaving_mid_stream_leaves_no_traceback_and_the_server_serves_on(api, user, openai_upstream, tmp_path):  # fmt: skip
    """Under daphne a send between the client's close frame and the connection's end raises autobahn's
    Disconnected: a /ws/logs/ consumer that gets entries then stops quietly and other clients are served."""
    proxy = (await sync_to_async(api.post)("/api/v1/proxies/", {"name": "burst", "provider": "openai",
             "model_name": "gpt-4o-mini", "upstream_url": openai_upstream.url + "/v1"}, format="json")).json()  # fmt: skip
    port = free_port()
    cookie = await sync_to_async(session_cookie)(user)
    output = tmp_path / "serve.log"
    with output.open("wb") as sink:
        web = await sync_to_async(start_web)(["manage.py", "serve", "--port", str(port)], port, sink, REDIS_URL="")
    try:
        await sync_to_async(wait_until)(
            lambda: api.get(f"/api/v1/proxies/{proxy['id']}/").json()["status"] == "running"
        )
        leaver, close_frame = await asyncio.to_thread(stalled_client, port, "/ws/logs/", cookie)
        headers = {"Cookie": cookie, "Origin": "http://127.0.0.1"}
        async with (
            websockets.connect(f"ws://127.0.0.1:{port}/ws/logs/", additional_headers=headers) as watcher,
            httpx.AsyncClient(base_url=proxy["base_url"], headers={"Authorization": "Bearer sk-test"}) as http,
        ):
            gate = asyncio.Semaphore(16)

            async def chat_once(i):
                async with gate:
                    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"burst {i}"}]}
                    assert (await http.post("/chat/completions", json=body)).status_code == 200

            async def burst(first, last):
                await asyncio.gather(*(chat_once(i) for i in range(first, last)))

            _, size = await asyncio.gather(burst(0, 200), received(watcher, 200))
            assert size > 2 * KERNEL_HOLDS  # sent to the leaver too: daphne holds the rest
            leaver.sendall(close_frame)
            await asyncio.gather(burst(200, 250), received(watcher, 50))  # the watcher gets every entry
        leaver.close()
        message, delay, stats = await real_client_sees(port, cookie, proxy)  # new clients too
        assert (await sync_to_async(httpx.get)(f"http://127.0.0.1:{port}/healthz")).status_code == 200
    finally:
        await sync_to_async(stop_web)(web)
    assert message["type"] == "log" and delay < 1.0 and stats["type"] == "stats"
    log = output.read_text()
    assert "Traceback" not in log and "Disconnected" not in log, log
