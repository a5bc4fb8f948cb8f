"""Big bodies through a proxy: a 20 MB request and a 50 MB answer arrive intact; an answer over the cache's entry
limit (RUBBERDUCK_CACHE_MAX_ENTRY_BYTES) is sent on as it arrives, never held whole, and not cached."""

import json
import threading

import httpx
import openai
import pytest

from tests.conftest import flushed_logs, wait_until
from tests.fakes import openai as fake_openai
from tests.fakes.server import Reply, chunked

MB = 1_000_000


@pytest.fixture
def proxy(make_proxy, openai_upstream):
    return make_proxy("openai", upstream_url=openai_upstream.url + "/v1")


def client_for(proxy):
    return openai.OpenAI(base_url=proxy["base_url"], api_key="sk-test-key", max_retries=0, timeout=120)


def logged(runner, proxy, count):
    return wait_until(lambda: len(e := flushed_logs(runner, proxy["id"])) >= count and e)


def big_chat_answer(size: int) -> tuple[bytes, str]:
    """A chat completion of about `size` bytes, and its text."""
    text = "".join(chr(97 + i % 26) for i in range(size))
    answer = json.loads(fake_openai.chat({"model": "gpt-4o-mini"}).body)
    answer["choices"][0]["message"]["content"] = text
    return json.dumps(answer).encode(), text


def test_it_forwards_a_20_mb_request_intact(proxy, openai_upstream, runner):
    content = "".join(chr(65 + i % 26) for i in range(20 * MB))
    answer = client_for(proxy).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": content}]
    )
    assert answer.parse().choices[0].message.content == "Hello from the fake upstream!"
    [received] = openai_upstream.requests
    assert json.loads(received.body)["messages"][0]["content"] == content
    assert int(received.headers["content-length"]) == len(received.body) > 20 * MB
    [entry] = logged(runner, proxy, 1)
    assert (entry.status_code, entry.cache, entry.failure) == (200, "miss", None)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_50_mb_answer_arrives_intact_and_is_not_cached(proxy, openai_upstream, runner, framing):
    body, text = big_chat_answer(50 * MB)
    headers = [("content-type", "application/json")]
    reply = Reply(200, headers, body) if framing == "content-length" else Reply(200, headers, chunks=chunked(body))
    openai_upstream.queue(reply, reply)
    client = client_for(proxy)
    messages = [{"role": "user", "content": "a long one"}]
    first = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
    assert first.headers["x-rubberduck-cache"] == "miss"
    assert first.parse().choices[0].message.content == text
    second = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
    assert second.headers["x-rubberduck-cache"] == "miss" and second.parse().choices[0].message.content == text
    assert len(openai_upstream.requests) == 2
    entries = logged(runner, proxy, 2)
    assert [(e.status_code, e.cache, e.failure) for e in entries] == [(200, "miss", "too_large")] * 2
    assert not [k for k in runner.lru._entries if k[0] == proxy["id"]]


def test_an_answer_over_the_limit_reaches_the_client_before_the_upstream_finished(
    make_proxy, openai_upstream, runner, settings
):
    settings.RUBBERDUCK_CACHE_MAX_ENTRY_BYTES = 10_000
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    body, text = big_chat_answer(100_000)
    gate = threading.Event()
    reply = Reply(200, [("content-type", "application/json")], chunks=chunked(body, 30_000), gate=gate)
    openai_upstream.queue(reply)
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "gated"}]}
    received = b""
    with httpx.stream("POST", proxy["base_url"] + "/chat/completions", json=payload, timeout=30) as answer:
        assert answer.headers["x-rubberduck-cache"] == "miss"
        parts = answer.iter_raw()
        while len(received) < 30_000:  # the first chunk, while the upstream waits at its gate
            received += next(parts)
        assert not gate.is_set()
        gate.set()
        for part in parts:
            received += part
    assert received == body and reply.gate_opened
    [entry] = logged(runner, proxy, 1)
    assert (entry.status_code, entry.failure) == (200, "too_large")


def test_a_stream_over_the_limit_is_forwarded_whole_and_not_cached(make_proxy, openai_upstream, runner, settings):
    settings.RUBBERDUCK_CACHE_MAX_ENTRY_BYTES = 500  # the fake's chat stream is about 1.5 KB
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    client = client_for(proxy)
    kwargs = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "stream"}], stream=True)
    for _ in range(2):
        chunks = list(client.chat.completions.create(**kwargs))
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello from the fake upstream!"
    assert len(openai_upstream.requests) == 2
    entries = logged(runner, proxy, 2)
    assert [(e.status_code, e.cache, e.failure) for e in entries] == [(200, "miss", "too_large")] * 2


def test_an_answer_within_the_limit_is_still_cached(make_proxy, openai_upstream, runner, settings):
    settings.RUBBERDUCK_CACHE_MAX_ENTRY_BYTES = 200_000
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    body, text = big_chat_answer(150_000)
    openai_upstream.queue(Reply(200, [("content-type", "application/json")], chunks=chunked(body, 40_000)))
    client = client_for(proxy)
    messages = [{"role": "user", "content": "fits"}]
    for expected in ("miss", "hit"):
        answer = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
        assert answer.headers["x-rubberduck-cache"] == expected
        assert answer.parse().choices[0].message.content == text
    assert len(openai_upstream.requests) == 1
