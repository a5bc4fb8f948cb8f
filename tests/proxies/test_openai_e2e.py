"""The engine end to end through the official openai SDK, a real runner and a fake upstream."""

import asyncio
import gc
import sqlite3
import subprocess
import time
import uuid
from contextlib import closing

import httpx
import openai
import pytest
from django.conf import settings

from proxies import disconnect
from tests.conftest import flushed_logs, wait_until
from tests.fakes.server import Reply


@pytest.fixture
def proxy(make_proxy, openai_upstream):
    return make_proxy("openai", upstream_url=openai_upstream.url + "/v1")


def client_for(proxy, **kw):
    return openai.OpenAI(base_url=proxy["base_url"], api_key="sk-test-key", max_retries=0, **kw)


def test_it_forwards_then_serves_the_second_identical_call_from_cache(proxy, openai_upstream, runner):
    client = client_for(proxy)
    messages = [{"role": "user", "content": "Say hello"}]
    first = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
    second = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)

    assert first.headers["x-rubberduck-cache"] == "miss"
    assert second.headers["x-rubberduck-cache"] == "hit"
    assert (
        first.parse().choices[0].message.content
        == second.parse().choices[0].message.content
        == "Hello from the fake upstream!"
    )
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert second.headers["cache-control"] == "no-cache, must-revalidate"  # upstream caching headers untouched
    assert len(openai_upstream.requests) == 1
    sent = openai_upstream.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-key"

    entries = flushed_logs(runner, proxy["id"])
    assert [e.cache for e in entries] == ["miss", "hit"]
    assert entries[0].prompt_hash == entries[1].prompt_hash and len(entries[0].prompt_hash) == 64
    assert (entries[0].prompt_tokens, entries[0].completion_tokens) == (11, 7)
    assert entries[0].cost_usd is not None and entries[0].cost_usd > 0
    assert entries[1].prompt_tokens == 11


def test_a_request_is_remembered_only_once_the_cache_answers_it(proxy, openai_upstream, runner):
    client = client_for(proxy)
    memo = runner.running[proxy["id"]].server.app.memo
    ask = lambda content: client.chat.completions.with_raw_response.create(  # noqa: E731
        model="gpt-4o-mini", messages=[{"role": "user", "content": content}]
    )
    for content in ("one", "two", "three"):
        assert ask(content).headers["x-rubberduck-cache"] == "miss"
    assert len(memo) == 0  # requests seen once: routed and keyed, not remembered
    assert [ask("two").headers["x-rubberduck-cache"] for _ in range(3)] == ["hit", "hit", "hit"]
    assert len(memo) == 1 and len(openai_upstream.requests) == 3


def test_it_keys_on_the_body_not_on_volatile_headers(proxy, openai_upstream):
    client = client_for(proxy)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "a"}])
    client_for(proxy, default_headers={"x-stainless-retry-count": "3", "user-agent": "other"}).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "a"}]
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "b"}])
    assert len(openai_upstream.requests) == 2


def test_it_streams_and_replays_a_cached_stream_as_a_stream(proxy, openai_upstream, runner):
    client = client_for(proxy)
    kwargs = dict(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "stream"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    live = list(client.chat.completions.create(**kwargs))
    replayed_raw = client.chat.completions.with_raw_response.create(**kwargs)
    assert replayed_raw.headers["x-rubberduck-cache"] == "hit"
    assert replayed_raw.headers["content-type"].startswith("text/event-stream")
    replayed = list(replayed_raw.parse())

    def text(chunks):
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    assert text(live) == text(replayed) == "Hello from the fake upstream!"
    assert len(replayed) == len(live) == 8
    assert len(openai_upstream.requests) == 1
    entries = flushed_logs(runner, proxy["id"])
    assert [(e.cache, e.prompt_tokens, e.completion_tokens) for e in entries] == [("miss", 11, 7), ("hit", 11, 7)]


def test_cached_answers_are_invisible_to_the_cyclic_gc(proxy, runner):
    """A full collection stops every proxy while it walks the tracked objects: with the 64 MiB cache full of
    entries kept as objects or nested tuples it took 170-240 ms (bench); kept as bytes, they are out of its sight."""
    client = client_for(proxy)
    messages = [{"role": "user", "content": "gc"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True))
    hit = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
    gc.collect()

    assert hit.headers["x-rubberduck-cache"] == "hit"
    kept = list(runner.lru._entries.items())
    assert len(kept) == 2 and [gc.is_tracked(k) or gc.is_tracked(v) for k, v in kept] == [False, False]
    entries = [runner.lru.get(*key) for key, _ in kept]
    assert sum(1 for e in entries if e.chunks) == 1 and sum(1 for e in entries if e.wire_headers) == 1


def test_it_forwards_each_chunk_as_it_arrives(proxy, openai_upstream):
    from tests.fakes.openai import chat_stream

    openai_upstream.queue(chat_stream({"model": "gpt-4o-mini"}, delay=0.3))
    stream = client_for(proxy).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "slow"}], stream=True
    )
    loop = asyncio.new_event_loop()
    started = loop.time()
    first = next(iter(stream))
    assert first.choices[0].delta.content == "Hello"
    assert loop.time() - started < 0.25  # the first chunk did not wait for the rest (7 x 0.3 s)
    stream.close()
    loop.close()


def test_it_supports_the_async_client_for_responses_and_embeddings(proxy, openai_upstream):
    async def run():
        client = openai.AsyncOpenAI(base_url=proxy["base_url"], api_key="sk-async", max_retries=0)
        response = await client.responses.create(model="gpt-4o-mini", input="hi")
        events = [e async for e in await client.responses.create(model="gpt-4o-mini", input="hi", stream=True)]
        embedding = await client.embeddings.create(model="text-embedding-3-small", input="hi")
        again = await client.embeddings.create(model="text-embedding-3-small", input="hi")
        models = await client.models.list()
        await client.close()
        return response, events, embedding, again, models

    response, events, embedding, again, models = asyncio.run(run())
    assert response.output_text == "Hello from the fake upstream!"
    assert events[-1].type == "response.completed"
    assert embedding.data[0].embedding == again.data[0].embedding == [0.25, -0.5, 0.125]
    assert [m.id for m in models.data] == ["gpt-4o-mini"]
    paths = [r.path for r in openai_upstream.requests]
    assert paths.count("/v1/embeddings") == 1


def test_it_supports_legacy_completions(proxy):
    completion = client_for(proxy).completions.create(model="gpt-3.5-turbo-instruct", prompt="hi")
    assert completion.choices[0].text == "Hello from the fake upstream!"


def test_it_passes_an_upstream_error_through_and_does_not_cache_it(proxy, openai_upstream, runner):
    body = b'{"error":{"message":"boom upstream","type":"server_error","param":null,"code":null}}'
    openai_upstream.queue(Reply(500, [("content-type", "application/json"), ("x-request-id", "req_up500")], body))
    client = client_for(proxy)
    messages = [{"role": "user", "content": "fail once"}]
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert caught.value.message == "Error code: 500 - boom upstream" or "boom upstream" in str(caught.value)
    assert caught.value.request_id == "req_up500"
    ok = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
    assert ok.headers["x-rubberduck-cache"] == "miss"
    assert [e.status_code for e in flushed_logs(runner, proxy["id"])] == [500, 200]


def test_upstream_cookies_reach_the_client_and_are_never_replayed_upstream(make_proxy, openai_upstream):
    """One upstream client serves every caller of a proxy: a cookie the provider sets for one caller's session
    (Cloudflare's __cf_bm, say) must not ride along on everybody's later requests. (By a host name: cookie
    jars ignore cookies from IP addresses.)"""
    proxy = make_proxy("openai", upstream_url=openai_upstream.url.replace("127.0.0.1", "localhost") + "/v1")
    openai_upstream.queue(
        Reply(200, [("content-type", "application/json"), ("set-cookie", "__cf_bm=abc123; path=/")], b"{}")
    )
    first = httpx.post(proxy["base_url"] + "/chat/completions", json={"model": "m", "messages": [], "n": 1})
    httpx.post(proxy["base_url"] + "/chat/completions", json={"model": "m", "messages": [], "n": 2})

    assert first.headers["set-cookie"] == "__cf_bm=abc123; path=/"
    assert len(openai_upstream.requests) == 2
    assert "cookie" not in openai_upstream.requests[1].headers


def test_an_unreachable_upstream_gives_a_provider_shaped_502(make_proxy, runner):
    proxy = make_proxy("openai", upstream_url="http://127.0.0.1:9/v1")
    with pytest.raises(openai.InternalServerError) as caught:
        client_for(proxy).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 502
    assert "could not reach the upstream" in caught.value.message
    assert flushed_logs(runner, proxy["id"])[0].status_code == 502


def test_a_path_outside_the_api_gets_openais_404_shape(proxy, openai_upstream):
    for path in ("/nope", "/v2/chat/completions"):
        response = httpx.post(proxy["base_url"].removesuffix("/v1") + path, json={})
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert openai_upstream.requests == []


# 0.01 s: the client leaves before the proxy watches for that (disconnect.WATCH_AFTER_SECONDS), and is seen then.
@pytest.mark.parametrize("client_timeout", [0.01, 0.3])
def test_a_client_that_disconnects_cancels_its_upstream_request(proxy, openai_upstream, runner, client_timeout):
    for n in (1, 2):  # the second after the proxy stopped watching, as nothing was in flight
        openai_upstream.queue(Reply(200, [("content-type", "application/json")], b"{}", delay=2.0))
        with pytest.raises(httpx.ReadTimeout):
            body = {"model": "m", "messages": [], "n": n}
            httpx.post(proxy["base_url"] + "/chat/completions", json=body, timeout=client_timeout)
        entries = wait_until(lambda n=n: flushed_logs(runner, proxy["id"])[n - 1 :], timeout=3)
        assert [e.status_code for e in entries] == [499]
        time.sleep(4 * disconnect.WATCH_AFTER_SECONDS)  # nothing in flight: the proxy stops sweeping


def test_no_prompt_or_key_reaches_the_database(proxy, runner):
    marker, key = f"marker-{uuid.uuid4().hex}", f"sk-secret-{uuid.uuid4().hex}"
    client = openai.OpenAI(base_url=proxy["base_url"], api_key=key, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": marker}])
    list(
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": marker}], stream=True)
    )
    assert len(flushed_logs(runner, proxy["id"])) == 2
    runner.db.submit(lambda: None).result()  # cache stores done
    db_file = settings.DATABASES["default"]["TEST"]["NAME"]
    with closing(sqlite3.connect(db_file)) as db:
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    for path in (db_file, db_file + "-wal"):
        # Read by another process: closing any descriptor of the database file in this one would drop the POSIX
        # locks every SQLite connection of this process holds on it, and another process would then take this
        # process's WAL for unused and delete it ("disk I/O error" in later tests).
        data = subprocess.run(["cat", path], capture_output=True).stdout
        assert data or path.endswith("-wal"), "the database file was not read"
        assert marker.encode() not in data
        assert key.encode() not in data


def test_a_recorded_replay_keeps_the_streams_pace_and_an_instant_one_does_not(make_proxy, openai_upstream):
    from tests.fakes.openai import chat_stream

    def timed_stream(proxy, content):
        client = client_for(proxy)
        started = time.monotonic()
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": content}], stream=True
            )
        )
        return time.monotonic() - started, len(chunks)

    recorded = make_proxy("openai", upstream_url=openai_upstream.url + "/v1", replay="recorded", name="recorded")
    instant = make_proxy("openai", upstream_url=openai_upstream.url + "/v1", name="instant")
    for proxy in (recorded, instant):
        openai_upstream.queue(chat_stream({"model": "gpt-4o-mini"}, delay=0.1))
        live, n = timed_stream(proxy, "paced")
        assert live >= 0.6
    paced, paced_n = timed_stream(recorded, "paced")
    quick, quick_n = timed_stream(instant, "paced")
    assert paced >= 0.5 and quick < 0.3
    assert paced_n == quick_n == n
