"""Claude on Vertex AI end to end: anthropic's own AnthropicVertex client (sync and async) -> a real `vertex` proxy
-> a fake Vertex upstream answering `:rawPredict` / `:streamRawPredict` in Anthropic's wire format."""

from decimal import Decimal

import anthropic
import genai_prices
import httpx
import httpx2
import pytest

from tests.conftest import flushed_logs, run_async, set_failures, wait_until
from tests.fakes import anthropic as fake
from tests.fakes.server import FakeUpstream
from tests.providers.test_anthropic import stream_twice

MODEL = "claude-sonnet-4-5@20250929"
PREFIX = "/v1/projects/p/locations/us-east5/publishers/anthropic/models"
ASK = dict(model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "Weather in Paris?"}])
TEXT = "Hello from the fake Claude!"


@pytest.fixture
def upstream():
    server = FakeUpstream(fake.vertex_respond).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("vertex", upstream_url=upstream.url)


def client_for(proxy, token="ya29.vertex-token", region="us-east5", **kw):
    kw.setdefault("max_retries", 0)
    # access_token: the client sends it as it is and never asks google-auth for one.
    return anthropic.AnthropicVertex(
        base_url=proxy["base_url"] + "/v1", region=region, project_id="p", access_token=token, **kw
    )


def logs(runner, proxy, count):
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def expected_cost() -> Decimal:
    """Claude on Vertex is billed by Google: genai-prices' own price for the fake's usage in its Google table."""
    extracted = genai_prices.extract_usage({"model": fake.MODEL, "usage": fake.USAGE}, provider_id="anthropic")
    price = genai_prices.calc_price(extracted.usage, fake.MODEL, provider_id="google")
    return Decimal(price.total_price).quantize(Decimal("1e-8"))


def test_it_forwards_a_message_to_raw_predict_then_serves_the_repeat_from_cache(proxy, upstream, runner):
    client = client_for(proxy)
    first = client.messages.with_raw_response.create(**ASK)
    second = client.messages.with_raw_response.create(**ASK)

    assert (first.headers["x-rubberduck-cache"], second.headers["x-rubberduck-cache"]) == ("miss", "hit")
    assert first.parse().content[0].text == second.parse().content[0].text == TEXT
    assert len(upstream.requests) == 1
    sent = upstream.requests[0]
    assert sent.path == f"{PREFIX}/{MODEL}:rawPredict"
    assert sent.headers["authorization"] == "Bearer ya29.vertex-token"

    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.model, e.prompt_tokens, e.completion_tokens) for e in entries] == [
        ("miss", fake.MODEL, 132, 9),
        ("hit", fake.MODEL, 132, 9),
    ]
    assert entries[0].cost_usd == entries[1].cost_usd == expected_cost() > 0
    assert entries[0].path == f"{PREFIX}/{MODEL}:rawPredict"


def test_it_streams_from_stream_raw_predict_and_replays_the_stream(proxy, upstream, runner):
    (live_cache, live_events, live), (replay_cache, replay_events, replayed) = stream_twice(client_for(proxy), ASK)

    assert (live_cache, replay_cache) == ("miss", "hit")
    assert live_events == replay_events and live_events[0] == "message_start" and live_events[-1] == "message_stop"
    assert live.content[0].text == replayed.content[0].text == TEXT
    assert [r.path for r in upstream.requests] == [f"{PREFIX}/{MODEL}:streamRawPredict"]

    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.prompt_tokens, e.completion_tokens) for e in entries] == [("miss", 132, 9), ("hit", 132, 9)]
    assert entries[0].cost_usd == expected_cost()


def test_it_caches_token_counts_free_of_charge(proxy, upstream, runner):
    client = client_for(proxy)
    counts = [client.messages.count_tokens(model=MODEL, messages=ASK["messages"]).input_tokens for _ in range(2)]
    assert counts == [14, 14]
    assert [r.path for r in upstream.requests] == [f"{PREFIX}/count-tokens:rawPredict"]
    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.prompt_tokens, e.cost_usd) for e in entries] == [("miss", None, None), ("hit", None, None)]


def test_it_keys_on_model_location_and_beta_header_but_not_on_the_token(proxy, upstream):
    # (Each client is held in a name: a collected client closes its connection pool.)
    client, other_token = client_for(proxy), client_for(proxy, token="ya29.another-token")
    client.messages.create(**ASK)
    other_token.messages.create(**ASK)
    assert len(upstream.requests) == 1

    client.messages.create(**{**ASK, "model": "claude-haiku-4-5@20251001"})
    elsewhere = client_for(proxy, region="europe-west1")
    elsewhere.messages.create(**ASK)
    beta = client_for(proxy, default_headers={"anthropic-beta": "context-1m-2025-08-07"})
    beta.messages.create(**ASK)
    beta.messages.create(**ASK)
    assert [r.path.split("/publishers/")[0] + " " + r.path.rsplit("/", 1)[1] for r in upstream.requests] == [
        f"/v1/projects/p/locations/us-east5 {MODEL}:rawPredict",
        "/v1/projects/p/locations/us-east5 claude-haiku-4-5@20251001:rawPredict",
        f"/v1/projects/p/locations/europe-west1 {MODEL}:rawPredict",
        f"/v1/projects/p/locations/us-east5 {MODEL}:rawPredict",
    ]
    assert upstream.requests[-1].headers["anthropic-beta"] == "context-1m-2025-08-07"


def test_the_async_client_works_and_hits_the_cache(proxy, upstream):
    async def run():
        client = anthropic.AsyncAnthropicVertex(
            base_url=proxy["base_url"] + "/v1", region="us-east5", project_id="p", access_token="t", max_retries=0
        )
        plain = await (await client.messages.with_raw_response.create(**ASK)).parse()
        async with client.messages.stream(**ASK) as stream:
            text = await stream.get_final_text()
        again = await client.messages.with_raw_response.create(**ASK)
        await client.close()
        return plain, text, again

    plain, text, again = run_async(run())
    assert plain.content[0].text == text == TEXT
    assert again.headers["x-rubberduck-cache"] == "hit"
    assert len(upstream.requests) == 2


def test_it_passes_an_upstream_error_through_and_does_not_cache_it(proxy, upstream, runner):
    upstream.queue(fake.error(529, "overloaded_error", "Overloaded upstream"))
    client = client_for(proxy)
    with pytest.raises(anthropic.OverloadedError) as caught:
        client.messages.create(**ASK)
    assert caught.value.api_message == "Overloaded upstream"
    assert client.messages.with_raw_response.create(**ASK).headers["x-rubberduck-cache"] == "miss"
    assert [e.status_code for e in logs(runner, proxy, 2)] == [529, 200]


def test_an_injected_429_raises_rate_limit_error_with_vertexs_quota_message(proxy, upstream, api, runner):
    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 1.0}]})
    client = client_for(proxy)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(**ASK)
    error = caught.value
    assert error.body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert error.api_message.startswith("Quota exceeded for aiplatform.googleapis.com/")
    assert "base model: anthropic-claude-sonnet-4-5." in error.api_message
    assert error.response.headers["retry-after"] == "1"
    assert error.response.headers["x-rubberduck-failure"] == "error"

    with pytest.raises(anthropic.RateLimitError) as caught:
        with client.messages.stream(**ASK) as stream:
            stream.until_done()
    assert caught.value.body[0]["error"]["code"] == 429  # a stream's error comes as a list, as Vertex sends it
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("status", "error_class", "anthropic_shape"),
    [
        (400, anthropic.BadRequestError, True),
        (401, anthropic.AuthenticationError, False),
        (403, anthropic.PermissionDeniedError, False),
        (404, anthropic.NotFoundError, False),
        (500, anthropic.InternalServerError, False),
        (503, anthropic.ServiceUnavailableError, False),
        (529, anthropic.OverloadedError, True),
    ],
)
def test_injected_errors_raise_anthropic_vertexs_own_exceptions(
    status, error_class, anthropic_shape, proxy, upstream, api, runner
):
    set_failures(api, runner, proxy, {"errors": [{"status": status, "rate": 1.0}]})
    with pytest.raises(error_class) as caught:
        client_for(proxy).messages.create(**ASK)
    error = caught.value
    assert type(error) is error_class and error.status_code == status and error.api_message
    if anthropic_shape:  # from Anthropic's model server behind Vertex
        assert error.body["type"] == "error" and error.type
    else:  # from Vertex's own front end
        assert error.body["error"]["code"] == status and error.type is None
    assert upstream.requests == []


def test_the_sdk_retries_an_injected_429_and_succeeds(proxy, upstream, api, runner):
    # seed 1: the first draw (0.13) fires the 50 % rule, the second (0.85) does not.
    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 0.5}], "seed": 1})
    message = client_for(proxy, max_retries=1).messages.create(**ASK)
    assert message.content[0].text == TEXT
    assert [e.status_code for e in logs(runner, proxy, 2)] == [429, 200]


def test_gemini_routes_keep_googles_error_shape_beside_claudes(proxy, api, runner):
    set_failures(api, runner, proxy, {"errors": [{"status": 400, "rate": 1.0}]})
    gemini = httpx.post(
        f"{proxy['base_url']}/v1/projects/p/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent",
        json={"contents": []},
    )
    claude = httpx.post(f"{proxy['base_url']}{PREFIX}/{MODEL}:rawPredict", json={"anthropic_version": "x"})
    assert gemini.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert claude.json()["error"]["type"] == "invalid_request_error"


def test_stream_chaos_cuts_claudes_stream_between_whole_events_live_and_replayed(proxy, upstream, api, runner):
    client = client_for(proxy)

    def deltas(text):
        events = client.messages.create(**{**ASK, "messages": [{"role": "user", "content": text}]}, stream=True)
        return [e.delta.text for e in events if e.type == "content_block_delta"]

    full = deltas("cached")
    set_failures(api, runner, proxy, {"stream": {"cut_after_events": 4, "rate": 1.0}})
    for text in ("live", "cached"):
        with pytest.raises(httpx2.RemoteProtocolError):
            deltas(text)
    set_failures(api, runner, proxy, {})
    assert deltas("cached") == full and "".join(full) == TEXT  # the cached stream is intact
    assert len(upstream.requests) == 2
    entries = logs(runner, proxy, 4)
    assert [(e.cache, e.failure) for e in entries] == [
        ("miss", None),
        ("miss", "stream_cut"),
        ("hit", "stream_cut"),
        ("hit", None),
    ]
