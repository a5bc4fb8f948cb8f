"""The Anthropic provider end to end: the official anthropic SDK (sync and async) -> a real proxy -> a fake
api.anthropic.com speaking the real wire format."""

import time
from decimal import Decimal

import anthropic
import genai_prices
import httpx
import httpx2
import pytest

from tests.conftest import flushed_logs, run_async, set_failures, wait_until
from tests.fakes import anthropic as fake
from tests.fakes.server import FakeUpstream

TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
ASK = dict(
    model="claude-sonnet-4-5",
    max_tokens=256,
    system="You are terse.",
    messages=[{"role": "user", "content": "Weather in Paris?"}],
)


@pytest.fixture
def upstream():
    server = FakeUpstream(fake.respond).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("anthropic", upstream_url=upstream.url)


def client_for(proxy, **kw):
    kw.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=proxy["base_url"], api_key="sk-ant-test-key", **kw)


def logs(runner, proxy, count):
    """The proxy's log entries once `count` are written (the writer thread may hold a batch mid-commit)."""
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def expected_cost() -> Decimal:
    """What genai-prices itself makes of the fake's raw usage block."""
    extracted = genai_prices.extract_usage({"model": fake.MODEL, "usage": fake.USAGE}, provider_id="anthropic")
    return Decimal(extracted.calc_price().total_price).quantize(Decimal("1e-8"))


def test_it_caches_a_message_with_tools_and_a_system_prompt(proxy, upstream, runner):
    client = client_for(proxy)
    first = client.messages.with_raw_response.create(**ASK, tools=TOOLS)
    second = client.messages.with_raw_response.create(**ASK, tools=TOOLS)

    assert first.headers["x-rubberduck-cache"] == "miss"
    assert second.headers["x-rubberduck-cache"] == "hit"
    a, b = first.parse(), second.parse()
    assert a.model_dump() == b.model_dump()
    assert a.content[0].text == "Hello from the fake Claude!"
    assert (a.content[1].type, a.content[1].name, a.stop_reason) == ("tool_use", "get_weather", "tool_use")
    assert (
        second.headers["request-id"].startswith("req_") and second.headers["request-id"] != first.headers["request-id"]
    )
    assert second.headers["anthropic-organization-id"] == first.headers["anthropic-organization-id"]

    assert len(upstream.requests) == 1
    sent = upstream.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["authorization"] == "Bearer sk-ant-test-key"
    assert sent.headers["anthropic-version"] == anthropic._constants.ANTHROPIC_API_VERSION

    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.model, e.prompt_tokens, e.completion_tokens) for e in entries] == [
        ("miss", fake.MODEL, 132, 9),
        ("hit", fake.MODEL, 132, 9),
    ]
    assert entries[0].cost_usd == entries[1].cost_usd == expected_cost() > 0


def stream_twice(client, ask):
    """Streams the same message twice; per run: the cache header, the event types, the final message."""

    def run():
        with client.messages.stream(**ask) as stream:
            events = [e.type for e in stream]
            return stream.response.headers["x-rubberduck-cache"], events, stream.get_final_message()

    return run(), run()


def test_it_streams_the_real_event_sequence_and_replays_it_as_a_stream(proxy, upstream, runner):
    (live_cache, live_events, live), (replay_cache, replay_events, replayed) = stream_twice(client_for(proxy), ASK)

    assert (live_cache, replay_cache) == ("miss", "hit")
    assert live_events == replay_events
    assert live_events[0] == "message_start" and live_events[-1] == "message_stop"
    assert "ping" not in live_events  # the SDK skips pings, so they reached it as real events
    assert live.content[0].text == replayed.content[0].text == "Hello from the fake Claude!"
    assert (replayed.usage.input_tokens, replayed.usage.output_tokens) == (12, 9)
    assert len(upstream.requests) == 1

    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.prompt_tokens, e.completion_tokens) for e in entries] == [("miss", 132, 9), ("hit", 132, 9)]
    assert entries[0].cost_usd == expected_cost()


def test_it_supports_the_async_client_for_messages_count_tokens_and_models(proxy, upstream, runner):
    async def run():
        client = anthropic.AsyncAnthropic(base_url=proxy["base_url"], api_key="sk-ant-async", max_retries=0)
        message = await client.messages.create(**ASK)
        async with client.messages.stream(**ASK) as stream:
            text = await stream.get_final_text()
        counted = await client.messages.count_tokens(model=ASK["model"], messages=ASK["messages"])
        counted_again = await client.messages.with_raw_response.count_tokens(
            model=ASK["model"], messages=ASK["messages"]
        )
        models = await client.models.list()
        await client.close()
        return message, text, counted, counted_again, models

    message, text, counted, counted_again, models = run_async(run())
    assert message.content[0].text == text == "Hello from the fake Claude!"
    assert counted.input_tokens == 14
    assert counted_again.headers["x-rubberduck-cache"] == "hit"
    assert [m.id for m in models.data] == [fake.MODEL]
    assert [r.path.split("?")[0] for r in upstream.requests] == [
        "/v1/messages",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/models",
    ]
    assert {r.headers["authorization"] for r in upstream.requests} == {"Bearer sk-ant-async"}
    by_path = {e.path: e for e in logs(runner, proxy, 5)}
    assert by_path["/v1/messages/count_tokens"].prompt_tokens is None  # counting is free: no cost logged


def test_it_forwards_an_x_api_key_unchanged(proxy, upstream):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": "sk-ant-raw-key", "anthropic-version": "2023-06-01"}
    response = httpx.post(proxy["base_url"] + "/v1/messages", json=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["x-rubberduck-cache"] == "miss"
    sent = upstream.requests[0]
    assert sent.headers["x-api-key"] == "sk-ant-raw-key"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers


def test_it_keys_the_cache_on_anthropic_version_and_beta_headers(proxy, upstream):
    def call(**headers):
        client = client_for(proxy, default_headers=headers)
        return client.messages.with_raw_response.create(**ASK).headers["x-rubberduck-cache"]

    assert call() == "miss"
    assert call() == "hit"
    assert call(**{"anthropic-beta": "prompt-caching-2024-07-31"}) == "miss"
    assert call(**{"anthropic-beta": "prompt-caching-2024-07-31"}) == "hit"
    assert call(**{"anthropic-beta": "token-efficient-tools-2025-02-19"}) == "miss"
    assert call(**{"anthropic-version": "2023-06-01"}) == "miss"
    assert call(**{"anthropic-version": "2023-06-01", "x-stainless-retry-count": "5"}) == "hit"
    assert [r.headers.get("anthropic-beta") for r in upstream.requests] == [
        None,
        "prompt-caching-2024-07-31",
        "token-efficient-tools-2025-02-19",
        None,
    ]


def test_it_passes_an_upstream_error_through_and_does_not_cache_it(proxy, upstream, runner):
    upstream.queue(fake.error(529, "overloaded_error", "Overloaded upstream"))
    client = client_for(proxy)
    with pytest.raises(anthropic.OverloadedError) as caught:
        client.messages.create(**ASK)
    assert caught.value.status_code == 529
    assert caught.value.request_id == "req_011CUpstreamErr"
    assert caught.value.api_message == "Overloaded upstream"
    ok = client.messages.with_raw_response.create(**ASK)
    assert ok.headers["x-rubberduck-cache"] == "miss"
    assert [e.status_code for e in logs(runner, proxy, 2)] == [529, 200]


def test_a_stream_with_an_error_event_reaches_the_client_and_is_not_cached(proxy, upstream):
    upstream.queue(fake.message_stream({}, error_after=2))
    client = client_for(proxy)
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(**ASK) as stream:
            stream.until_done()
    assert caught.value.status_code == 200 and caught.value.type == "overloaded_error"
    with client.messages.stream(**ASK) as stream:
        assert stream.response.headers["x-rubberduck-cache"] == "miss"
        assert stream.get_final_text() == "Hello from the fake Claude!"
    assert len(upstream.requests) == 2


ERROR_CLASSES = [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (401, anthropic.AuthenticationError, "authentication_error"),
    (403, anthropic.PermissionDeniedError, "permission_error"),
    (404, anthropic.NotFoundError, "not_found_error"),
    (408, anthropic.RequestTimeoutError, "timeout_error"),
    (413, anthropic.ContentTooLargeError, "request_too_large"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (502, anthropic.InternalServerError, "api_error"),
    (503, anthropic.ServiceUnavailableError, "api_error"),
    (504, anthropic.GatewayTimeoutError, "timeout_error"),
    (529, anthropic.OverloadedError, "overloaded_error"),
]


@pytest.mark.parametrize(("status", "error_class", "error_type"), ERROR_CLASSES)
def test_an_injected_error_raises_the_sdks_native_exception(
    status, error_class, error_type, api, runner, proxy, upstream
):
    set_failures(api, runner, proxy, {"errors": [{"status": status, "rate": 1.0}]})
    with pytest.raises(error_class) as caught:
        client_for(proxy).messages.create(**ASK)
    error = caught.value
    assert type(error) is error_class
    assert (error.status_code, error.type) == (status, error_type)
    assert error.request_id.startswith("req_") and error.body["request_id"] == error.request_id
    assert error.body["type"] == "error" and error.api_message
    retryable = status in (408, 429, 500, 502, 503, 504, 529)
    assert error.response.headers["x-should-retry"] == ("true" if retryable else "false")
    assert error.response.headers["x-rubberduck-failure"] == "error"
    if status in (429, 529):
        assert error.response.headers["retry-after"] == "1"
    if status == 429:
        assert error.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
        reset = error.response.headers["anthropic-ratelimit-requests-reset"]
        assert reset.endswith("Z") and time.strptime(reset, "%Y-%m-%dT%H:%M:%SZ")
    assert upstream.requests == []


def test_the_async_client_raises_native_exceptions_too(api, runner, proxy):
    set_failures(api, runner, proxy, {"errors": [{"status": 529, "rate": 1.0}]})

    async def run():
        client = anthropic.AsyncAnthropic(base_url=proxy["base_url"], api_key="k", max_retries=0)
        try:
            await client.messages.create(**ASK)
        finally:
            await client.close()

    with pytest.raises(anthropic.OverloadedError):
        run_async(run())


def test_the_sdk_honours_retry_after_on_an_injected_429(api, runner, proxy, upstream):
    # seed 1: the first draw (0.13) fires the 50 % rule, the second (0.85) does not.
    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 0.5}], "seed": 1})
    started = time.monotonic()
    message = client_for(proxy, max_retries=1).messages.create(**ASK)
    elapsed = time.monotonic() - started
    assert message.content[0].text == "Hello from the fake Claude!"
    assert 0.9 <= elapsed < 3.0
    assert [e.status_code for e in logs(runner, proxy, 2)] == [429, 200]


def test_paths_outside_the_api_get_anthropics_404_and_unmodelled_ones_pass_through(proxy, upstream):
    missing = httpx.post(proxy["base_url"] + "/v2/messages", json={})
    assert missing.status_code == 404
    assert missing.json()["type"] == "error" and missing.json()["error"]["type"] == "not_found_error"
    assert missing.headers["request-id"] == missing.json()["request_id"]
    assert upstream.requests == []
    with pytest.raises(anthropic.NotFoundError):
        client_for(proxy).models.retrieve("claude-nope")  # forwarded: the fake has no such model
    unmodelled = httpx.get(proxy["base_url"] + "/v1/messages")  # passed through: the upstream's own answer
    assert unmodelled.status_code == 404 and unmodelled.json()["request_id"] == "req_011CUpstreamErr"
    assert [r.path for r in upstream.requests] == ["/v1/models/claude-nope", "/v1/messages"]


# The legacy Text Completions API: anthropic>=1 has no resource for it any more, so it goes through client.post.
PROMPT = {"model": fake.LEGACY_MODEL, "max_tokens_to_sample": 64, "prompt": "\n\nHuman: Say hello\n\nAssistant:"}


def test_it_caches_a_legacy_text_completion(proxy, upstream, runner):
    client = client_for(proxy)
    first, second = (client.post("/v1/complete", body=PROMPT, cast_to=httpx2.Response) for _ in range(2))

    assert (first.headers["x-rubberduck-cache"], second.headers["x-rubberduck-cache"]) == ("miss", "hit")
    assert first.json() == second.json()
    assert (first.json()["type"], first.json()["completion"]) == ("completion", "Hello from the fake Claude!")
    assert [(r.path, r.headers["authorization"]) for r in upstream.requests] == [
        ("/v1/complete", "Bearer sk-ant-test-key")
    ]
    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.model, e.prompt_tokens, e.cost_usd) for e in entries] == [
        ("miss", fake.LEGACY_MODEL, None, None),  # the legacy API reports no tokens
        ("hit", fake.LEGACY_MODEL, None, None),
    ]


def test_it_streams_legacy_completion_events_and_replays_them(proxy, upstream, runner):
    client = client_for(proxy)

    def run():
        stream = client.post(
            "/v1/complete",
            body={**PROMPT, "stream": True},
            cast_to=object,
            stream=True,
            stream_cls=anthropic.Stream[object],
        )
        with stream:
            return stream.response.headers["x-rubberduck-cache"], list(stream)

    (live_cache, live), (replay_cache, replayed) = run(), run()
    assert (live_cache, replay_cache) == ("miss", "hit")
    assert live == replayed and {e["type"] for e in live} == {
        "completion"
    }  # the SDK drops pings: it got them as events
    assert "".join(e["completion"] for e in live) == "Hello from the fake Claude!"
    assert live[-1]["stop_reason"] == "stop_sequence"
    assert len(upstream.requests) == 1
    assert [e.cache for e in logs(runner, proxy, 2)] == ["miss", "hit"]


def test_a_legacy_completion_gets_anthropics_errors(api, runner, proxy, upstream):
    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 1.0}]})
    with pytest.raises(anthropic.RateLimitError) as caught:
        client_for(proxy).post("/v1/complete", body=PROMPT, cast_to=object)
    assert caught.value.type == "rate_limit_error" and caught.value.request_id.startswith("req_")
    assert upstream.requests == []
