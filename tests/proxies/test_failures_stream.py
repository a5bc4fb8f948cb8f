"""Stream chaos: a stream cut after N events or slowed per chunk, live and replayed alike. The SDK sees what it
sees when the real provider's stream breaks; a cut stream is never cached and is logged as "stream_cut"."""

import time

import pytest

from tests.conftest import flushed_logs, wait_until
from tests.proxies.sdk_adapters import PROVIDERS, load, sdk_fixture

# What each SDK raises while iterating a stream whose connection closes mid-body (observed with these SDKs):
# openai wraps the transport error (httpx2.RemoteProtocolError, "incomplete chunked read") in APIConnectionError;
# anthropic and google-genai let it through as is; boto3's event stream raises urllib3's ProtocolError.
CUT_ERRORS = {
    "openai": "openai.APIConnectionError",
    "azure_openai": "openai.APIConnectionError",
    "anthropic": "httpx2.RemoteProtocolError",
    "bedrock": "urllib3.exceptions.ProtocolError",
    "vertex": "httpx2.RemoteProtocolError",
    "gemini": "httpx2.RemoteProtocolError",
}


@pytest.fixture(params=PROVIDERS)
def sdk(request, monkeypatch, tmp_path, api, runner, make_proxy):
    yield from sdk_fixture(request, monkeypatch, tmp_path, api, runner, make_proxy)


def logs(sdk, count):
    return wait_until(lambda: len(e := flushed_logs(sdk.runner, sdk.proxy["id"])) >= count and e)


def cut_error(sdk):
    return load(CUT_ERRORS[sdk.provider])


def test_a_cut_live_stream_raises_the_sdks_own_error_and_is_never_cached(sdk):
    full = sdk.stream(sdk.proxy, "reference")  # what the whole stream says
    sdk.set_failures({"stream": {"cut_after_events": 2, "rate": 1.0}})
    with pytest.raises(cut_error(sdk)) as caught:
        sdk.stream(sdk.proxy, "cut me")
    if sdk.provider in ("openai", "azure_openai"):
        assert "incomplete chunked read" in str(caught.value.__cause__)
    sdk.set_failures({})
    assert sdk.stream(sdk.proxy, "cut me") == full  # a miss: the cut stream was not stored
    assert len(sdk.upstream.requests) == 3
    entries = logs(sdk, 3)
    assert [(e.cache, e.failure, e.status_code) for e in entries] == [
        ("miss", None, 200),
        ("miss", "stream_cut", 200),
        ("miss", None, 200),
    ]


def test_a_replayed_stream_is_cut_the_same_way(sdk):
    full = sdk.stream(sdk.proxy, "cached")
    sdk.set_failures({"stream": {"cut_after_events": 1, "rate": 1.0}})
    with pytest.raises(cut_error(sdk)):
        sdk.stream(sdk.proxy, "cached")
    sdk.set_failures({"stream": {"cut_after_events": 1, "rate": 0.0}})
    assert sdk.stream(sdk.proxy, "cached") == full  # rate 0 never cuts; the cache entry is intact
    assert len(sdk.upstream.requests) == 1
    entries = logs(sdk, 3)
    assert [(e.cache, e.failure) for e in entries] == [("miss", None), ("hit", "stream_cut"), ("hit", None)]


def test_chunk_delay_slows_a_replay_by_the_delay_per_event(api, runner, make_proxy, openai_upstream):
    import openai

    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    client = openai.OpenAI(base_url=proxy["base_url"], api_key="sk-test", max_retries=0)

    def timed():
        started = time.monotonic()
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "pace"}], stream=True
            )
        )
        return time.monotonic() - started, len(chunks)

    timed()  # recorded
    quick, n = timed()
    api.put(f"/api/v1/proxies/{proxy['id']}/failures", {"stream": {"chunk_delay_ms": 60}}, format="json")
    runner.reconcile()
    slowed, slowed_n = timed()
    events = n + 1  # the chunks the SDK yields, plus the closing `data: [DONE]`
    assert slowed_n == n == 7
    assert events * 0.06 <= slowed < quick + events * 0.06 + 0.5, (quick, slowed)
    assert len(openai_upstream.requests) == 1
    entries = wait_until(lambda: len(e := flushed_logs(runner, proxy["id"])) >= 3 and e)
    assert [(e.cache, e.failure) for e in entries] == [("miss", None), ("hit", None), ("hit", None)]
