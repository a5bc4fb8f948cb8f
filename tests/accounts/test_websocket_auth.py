"""/ws/logs/ and /ws/stats/ take an API token (`Authorization: Token <key>`) as the REST API does."""

import openai
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import ApiToken
from rubberduck_site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def token_header(user) -> tuple[bytes, bytes]:
    _, key = ApiToken.issue(user, "ws")
    return (b"authorization", f"Token {key}".encode())


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def socket(path, *headers):
    return WebsocketCommunicator(application, path, headers=list(headers))


async def chat(proxy):
    client = openai.AsyncOpenAI(base_url=proxy["base_url"], api_key="sk-test", max_retries=0)
    await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ws"}])


@pytest.fixture
def proxies(make_proxy, openai_upstream, other_api):
    url = openai_upstream.url + "/v1"
    return make_proxy("openai", upstream_url=url), make_proxy("openai", upstream_url=url, client=other_api)


async def test_it_streams_the_token_owners_entries_and_never_another_users(proxies, user):
    mine, theirs = proxies
    ws = await socket("/ws/logs/", await sync_to_async(token_header)(user))  # no Origin, no cookie: a CLI
    assert (await ws.connect())[0]

    await chat(theirs)
    await chat(mine)

    message = await ws.receive_json_from(timeout=5)
    assert message["type"] == "log" and message["entry"]["proxy"] == mine["id"]
    assert await ws.receive_nothing(timeout=0.5), "another user's entry arrived"
    await ws.disconnect()


async def test_it_sends_stats_to_a_token(proxies, user):
    ws = await socket("/ws/stats/", await sync_to_async(token_header)(user))
    assert (await ws.connect())[0]
    message = await ws.receive_json_from(timeout=5)
    assert message["type"] == "stats" and message["stats"]["running_proxies"] == 1  # only the user's own proxy
    await ws.disconnect()


@pytest.mark.parametrize("path", ["/ws/logs/", "/ws/stats/"])
@pytest.mark.parametrize("value", [b"Token rd_not-a-token", b"Token ", b"Bearer rd_x", b"garbage"])
async def test_it_refuses_a_bad_authorization_even_with_a_good_session(user, path, value):
    cookie = await sync_to_async(session_cookie)(user)
    ws = await socket(path, (b"authorization", value), cookie, (b"origin", b"http://127.0.0.1"))
    connected, code = await ws.connect()
    assert not connected and code == 4401


async def test_it_refuses_a_revoked_token(user):
    header = await sync_to_async(token_header)(user)
    await sync_to_async(ApiToken.objects.all().delete)()
    ws = await socket("/ws/logs/", header)
    connected, code = await ws.connect()
    assert not connected and code == 4401


async def test_a_session_still_needs_this_sites_origin(user):
    cookie = await sync_to_async(session_cookie)(user)
    from_elsewhere = await socket("/ws/logs/", cookie, (b"origin", b"http://evil.example"))
    assert not (await from_elsewhere.connect())[0]
    from_here = await socket("/ws/logs/", cookie, (b"origin", b"http://127.0.0.1"))
    assert (await from_here.connect())[0]
    await from_here.disconnect()


async def test_it_closes_with_4429_past_the_limit_of_wrong_tokens_from_one_address(user):
    codes = []
    for _ in range(31):
        ws = await socket("/ws/logs/", (b"authorization", b"Token rd_not-a-token"))
        codes.append((await ws.connect())[1])
    assert codes == [4401] * 30 + [4429]
    ws = await socket("/ws/logs/", await sync_to_async(token_header)(user))  # a right token still opens
    assert (await ws.connect())[0]
    await ws.disconnect()
