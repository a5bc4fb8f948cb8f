"""Upstreams that break, through the official SDKs against a fake upstream on loopback that misbehaves on purpose
(tests/fakes/broken.py): each gives the client the provider's own 502/504 or the cut the provider gave, is never
cached, and is logged once with its reason."""

import json
import threading
import time

import anthropic
import botocore.exceptions
import httpx
import httpx2
import openai
import pytest
import urllib3

from tests.conftest import flushed_logs, wait_until
from tests.fakes import broken
from tests.fakes.broken import BrokenUpstream
from tests.fakes.server import Reply
from tests.proxies.sdk_adapters import ADAPTERS, SDK

STREAMING = ["openai", "anthropic", "bedrock"]  # two SSE providers and one that is not (AWS event stream)
# How each SDK says a connection broke in the middle of an answer.
BROKE_OFF = (httpx.TransportError, httpx2.TransportError, openai.APIError, anthropic.APIError, botocore.exceptions.BotoCoreError,
             urllib3.exceptions.HTTPError)  # fmt: skip


@pytest.fixture
def made(monkeypatch, tmp_path, api, runner, make_proxy):
    """Makes a proxy of a provider in front of a BrokenUpstream playing it."""
    upstreams = []

    def make(provider="openai", tls=False, respond=None, upstream_url=None):
        adapter = ADAPTERS[provider]
        adapter.prepare(monkeypatch, tmp_path)
        upstream = BrokenUpstream(respond or adapter.respond(), tls=tls).start()
        upstreams.append(upstream)
        proxy = make_proxy(provider, upstream_url=upstream_url or adapter.upstream_url(upstream))
        return SDK(adapter, upstream, proxy, api, runner)

    yield make
    for upstream in upstreams:
        upstream.stop()


def entries(sdk, count):
    """The proxy's log entries once there are `count`, and no more came meanwhile (one entry per request)."""
    wait_until(lambda: len(flushed_logs(sdk.runner, sdk.proxy["id"])) >= count)
    time.sleep(0.1)
    found = flushed_logs(sdk.runner, sdk.proxy["id"])
    assert len(found) == count, [(e.status_code, e.failure) for e in found]
    return found


def assert_provider_error(sdk, caught, status):
    assert isinstance(caught.value, sdk.error_class(500)), caught.value  # the SDK's own class for a 5xx
    assert sdk.status_and_code(caught.value)[0] == status


def assert_served_uncached_afterwards(sdk, stream=False):
    """The next identical request is a miss that reaches the upstream (nothing was cached), and once answered
    whole, the one after that is a hit."""
    sdk.upstream.how = broken.whole
    asked = len(sdk.upstream.requests)
    call = sdk.stream if stream else sdk.call
    assert call(sdk.proxy, "break please")
    assert len(sdk.upstream.requests) == asked + 1
    call(sdk.proxy, "break please")
    assert len(sdk.upstream.requests) == asked + 1
    assert [e.cache for e in flushed_logs(sdk.runner, sdk.proxy["id"])][-2:] == ["miss", "hit"]


@pytest.mark.parametrize("provider", STREAMING)
def test_it_answers_a_reset_before_the_headers_with_the_providers_502(made, provider):
    sdk = made(provider)
    sdk.upstream.how = broken.reset_before_headers
    with pytest.raises(Exception) as caught:
        sdk.call(sdk.proxy, "break please")
    assert_provider_error(sdk, caught, 502)
    [entry] = entries(sdk, 1)
    assert (entry.status_code, entry.failure, entry.cache) == (502, "upstream_reset", "miss")
    assert_served_uncached_afterwards(sdk)


@pytest.mark.parametrize("provider", STREAMING)
def test_it_answers_a_reset_mid_body_with_the_providers_502(made, provider):
    sdk = made(provider)
    sdk.upstream.how = broken.reset_mid_body
    with pytest.raises(Exception) as caught:
        sdk.call(sdk.proxy, "break please")
    assert_provider_error(sdk, caught, 502)
    [entry] = entries(sdk, 1)
    assert (entry.status_code, entry.failure) == (502, "upstream_cut")
    assert_served_uncached_afterwards(sdk)


@pytest.mark.parametrize("provider", STREAMING)
def test_a_stream_reset_midway_is_cut_for_the_client_too_and_never_cached(made, provider):
    sdk = made(provider)
    sdk.upstream.how = broken.reset_mid_stream
    with pytest.raises(BROKE_OFF):
        sdk.stream(sdk.proxy, "break please")
    [entry] = entries(sdk, 1)
    assert (entry.status_code, entry.failure) == (200, "upstream_cut")  # 200 as sent, then the cut
    assert_served_uncached_afterwards(sdk, stream=True)


@pytest.mark.parametrize("stream", [False, True], ids=["body", "stream"])
def test_a_chunked_answer_without_its_last_chunk_is_never_cached(made, stream):
    sdk = made("openai")
    sdk.upstream.how = broken.truncated
    if stream:  # every event arrived, the SDK may not notice the missing end: the proxy does
        try:
            sdk.stream(sdk.proxy, "break please")
        except BROKE_OFF:
            pass
    else:
        with pytest.raises(Exception) as caught:
            sdk.call(sdk.proxy, "break please")
        assert_provider_error(sdk, caught, 502)
    [entry] = entries(sdk, 1)
    assert (entry.status_code, entry.failure) == (200 if stream else 502, "upstream_cut")
    assert_served_uncached_afterwards(sdk, stream=stream)


def test_a_200_whose_json_breaks_off_reaches_the_client_as_it_is_and_is_never_cached(made):
    sdk = made("openai")
    sdk.upstream.how = broken.invalid_json
    url = sdk.proxy["base_url"] + "/chat/completions"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "break please"}]}
    answer = httpx.post(url, json=body)
    assert answer.status_code == 200 and answer.headers["x-rubberduck-cache"] == "miss"
    with pytest.raises(json.JSONDecodeError):
        answer.json()
    [entry] = entries(sdk, 1)
    assert (entry.status_code, entry.failure) == (200, "upstream_invalid")
    assert_served_uncached_afterwards(sdk)


def test_an_upstream_silent_past_the_timeout_gets_the_providers_504(made, settings):
    settings.RUBBERDUCK_UPSTREAM_TIMEOUT = 0.5
    sdk = made("openai")
    sdk.upstream.how = broken.stall(2.0)
    with pytest.raises(Exception) as caught:
        sdk.call(sdk.proxy, "break please")
    assert_provider_error(sdk, caught, 504)
    [entry] = entries(sdk, 1)
    assert (entry.status_code, entry.failure) == (504, "upstream_timeout")


def test_a_stream_that_drips_reaches_the_client_as_it_comes_and_is_cached_once_complete(made, settings):
    """A byte at a time, each within the upstream timeout, the whole far beyond it: a live stream is not cut."""
    settings.RUBBERDUCK_UPSTREAM_TIMEOUT = 1.0
    frame = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    frames = [
        {**frame, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}]},
        {**frame, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    sse = [f"data: {json.dumps(f)}\n\n".encode() for f in frames] + [b"data: [DONE]\n\n"]
    sdk = made("openai", respond=lambda req: Reply(200, [("content-type", "text/event-stream")], chunks=sse))
    started, done = threading.Event(), threading.Event()
    sdk.upstream.how = broken.drip(0.01, started, done)
    lru = sdk.runner.lru

    client = sdk.client(sdk.proxy, 0, 30)
    began = time.monotonic()
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "drip"}], stream=True
    )
    pieces = iter(stream)
    first = next(pieces)
    assert first.choices[0].delta.content == "Hi" and not done.is_set()  # before the upstream finished
    assert not [k for k in lru._entries if k[0] == sdk.proxy["id"]]  # nothing cached yet
    rest = list(pieces)
    assert done.wait(5) and time.monotonic() - began > 2.0  # twice the timeout, never cut
    assert rest[-1].choices[0].finish_reason == "stop"
    [entry] = entries(sdk, 1)
    assert (entry.status_code, entry.failure) == (200, None)
    again = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "drip"}], stream=True
    )
    assert again.headers["x-rubberduck-cache"] == "hit" and len(sdk.upstream.requests) == 1


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_an_encoded_answer_reaches_the_client_readable_and_replays_identically(made, encoding):
    sdk = made("openai")
    sdk.upstream.how = broken.encoded(encoding)
    url = sdk.proxy["base_url"] + "/chat/completions"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "encoded"}]}
    miss = httpx.post(url, json=body, headers={"accept-encoding": "identity"})
    hit = httpx.post(url, json=body, headers={"accept-encoding": "identity"})
    assert [miss.headers["x-rubberduck-cache"], hit.headers["x-rubberduck-cache"]] == ["miss", "hit"]
    assert miss.content == hit.content and miss.json()["choices"][0]["message"]["content"]
    for answer in (miss, hit):
        assert "content-encoding" not in answer.headers
        assert int(answer.headers["content-length"]) == len(answer.content)
    assert sdk.upstream.requests[0].headers["accept-encoding"] == "identity"
    assert sdk.call(sdk.proxy, "encoded") == miss.json()["choices"][0]["message"]["content"]  # the SDK reads it
    assert [(e.cache, e.prompt_tokens) for e in entries(sdk, 3)] == [("miss", 11), ("hit", 11), ("hit", 11)]


@pytest.mark.parametrize("provider", STREAMING)
@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_an_encoded_stream_reaches_the_client_readable_and_replays_identically(made, provider, encoding):
    sdk = made(provider)
    sdk.upstream.how = broken.encoded(encoding)
    live = sdk.stream(sdk.proxy, "encoded stream")
    replayed = sdk.stream(sdk.proxy, "encoded stream")
    assert live == replayed and "".join(live)
    assert len(sdk.upstream.requests) == 1
    assert [e.cache for e in entries(sdk, 2)] == ["miss", "hit"]


def test_a_self_signed_upstream_certificate_gets_the_providers_502(made):
    sdk = made("openai", tls=True)
    assert sdk.upstream.url.startswith("https://")
    with pytest.raises(Exception) as caught:
        sdk.call(sdk.proxy, "tls please")
    assert_provider_error(sdk, caught, 502)
    assert "TLS" in caught.value.message
    [entry] = entries(sdk, 1)
    assert (entry.status_code, entry.failure) == (502, "upstream_tls")
    assert sdk.upstream.requests == []


def test_an_unresolvable_upstream_host_gets_the_providers_502(made):
    sdk = made("openai", upstream_url="http://nonexistent.invalid/v1")
    with pytest.raises(Exception) as caught:
        sdk.call(sdk.proxy, "dns please")
    assert_provider_error(sdk, caught, 502)
    assert "nonexistent.invalid" in caught.value.message
    [entry] = entries(sdk, 1)
    assert (entry.status_code, entry.failure) == (502, "upstream_dns")
    assert caught.value.response.headers["x-rubberduck-failure"] == "upstream_dns"
