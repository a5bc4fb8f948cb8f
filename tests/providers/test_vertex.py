"""Vertex AI end to end through google-genai (vertexai=True), a real runner and a fake Vertex upstream."""

import asyncio

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials

from providers.base import Request
from providers.vertex import VertexProvider
from tests.conftest import flushed_logs, set_failures, wait_until
from tests.fakes import google as fake_google
from tests.fakes.server import FakeUpstream

MODEL = "gemini-2.5-flash"
PREFIX = f"/v1beta1/projects/p/locations/us-central1/publishers/google/models/{MODEL}"
TEXT = "Hello from the fake Gemini!"


@pytest.fixture
def upstream():
    upstream = FakeUpstream(fake_google.respond).start()
    yield upstream
    upstream.stop()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("vertex", upstream_url=upstream.url)


def client_for(proxy, token="ya29.test-token"):
    # A plain access token without expiry: google-auth never tries to refresh it, the SDK just sends it.
    return genai.Client(
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=Credentials(token=token),
        http_options=types.HttpOptions(base_url=proxy["base_url"]),
    )


def logs(runner, proxy, count):
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def test_it_forwards_generate_content_then_serves_the_repeat_from_cache(proxy, upstream, runner):
    client = client_for(proxy)
    first = client.models.generate_content(model=MODEL, contents="Say hello")
    second = client.models.generate_content(model=MODEL, contents="Say hello")

    assert first.sdk_http_response.headers["x-rubberduck-cache"] == "miss"
    assert second.sdk_http_response.headers["x-rubberduck-cache"] == "hit"
    assert first.text == second.text == TEXT
    assert second.response_id == first.response_id == "fake-response-id-1"
    assert second.usage_metadata.thoughts_token_count == 4
    assert len(upstream.requests) == 1
    sent = upstream.requests[0]
    assert sent.path == f"{PREFIX}:generateContent"
    assert sent.headers["authorization"] == "Bearer ya29.test-token"

    entries = logs(runner, proxy, 2)
    assert [e.cache for e in entries] == ["miss", "hit"]
    assert entries[0].prompt_hash == entries[1].prompt_hash
    assert [(e.prompt_tokens, e.completion_tokens) for e in entries] == [(9, 10), (9, 10)]  # thinking billed as output
    assert entries[0].model == MODEL
    assert entries[0].cost_usd is not None and entries[0].cost_usd > 0
    assert entries[0].path == f"{PREFIX}:generateContent"
    assert proxy["base_url"].rsplit(":", 1)[1].isdigit()  # no suffix: the SDK appends the API version itself


def test_it_keys_on_project_location_and_model_but_not_on_the_token(proxy, upstream):
    # (Each client is held in a name: a google-genai client closes its connection pool when collected.)
    client, other_token = client_for(proxy), client_for(proxy, token="ya29.another-token")
    client.models.generate_content(model=MODEL, contents="a")
    other_token.models.generate_content(model=MODEL, contents="a")
    assert len(upstream.requests) == 1
    assert upstream.requests[0].headers["authorization"] == "Bearer ya29.test-token"

    client.models.generate_content(model="gemini-2.5-pro", contents="a")
    other_place = genai.Client(
        vertexai=True,
        project="q",
        location="europe-west4",
        credentials=Credentials(token="ya29.test-token"),
        http_options=types.HttpOptions(base_url=proxy["base_url"]),
    )
    other_place.models.generate_content(model=MODEL, contents="a")
    assert [r.path.split("/models/")[0] for r in upstream.requests[1:]] == [
        "/v1beta1/projects/p/locations/us-central1/publishers/google",
        "/v1beta1/projects/q/locations/europe-west4/publishers/google",
    ]

    express = genai.Client(vertexai=True, api_key="vx-key", http_options=types.HttpOptions(base_url=proxy["base_url"]))
    assert express.models.generate_content(model=MODEL, contents="a").text == TEXT
    assert upstream.requests[-1].path == f"/v1beta1/publishers/google/models/{MODEL}:generateContent"
    assert upstream.requests[-1].headers["x-goog-api-key"] == "vx-key"


def test_it_streams_with_alt_sse_and_replays_the_cached_stream(proxy, upstream, runner):
    client = client_for(proxy)
    live = list(client.models.generate_content_stream(model=MODEL, contents="stream"))
    replayed = list(client.models.generate_content_stream(model=MODEL, contents="stream"))

    assert live[0].sdk_http_response.headers["x-rubberduck-cache"] == "miss"
    assert replayed[0].sdk_http_response.headers["x-rubberduck-cache"] == "hit"
    assert replayed[0].sdk_http_response.headers["content-type"] == "text/event-stream"
    assert "".join(c.text for c in live) == "".join(c.text for c in replayed) == TEXT
    assert len(live) == len(replayed) == 6
    assert replayed[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert len(upstream.requests) == 1
    assert upstream.requests[0].path == f"{PREFIX}:streamGenerateContent?alt=sse"

    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.prompt_tokens, e.completion_tokens) for e in entries] == [("miss", 9, 10), ("hit", 9, 10)]
    # The stream and the plain call differ by method name, so they never share an entry.
    client.models.generate_content(model=MODEL, contents="stream")
    assert len(upstream.requests) == 2


def test_it_serves_count_tokens_and_both_embedding_apis_from_cache(proxy, upstream, runner):
    client = client_for(proxy)
    for _ in range(2):
        assert client.models.count_tokens(model=MODEL, contents="hi").total_tokens == 9
        predicted = client.models.embed_content(model="text-embedding-005", contents=["hi", "yo"])
        embedded = client.models.embed_content(model="gemini-embedding-001", contents="hi")
        assert [e.values for e in predicted.embeddings] == [fake_google.VECTOR] * 2
        assert predicted.embeddings[0].statistics.token_count == 3
        assert embedded.embeddings[0].values == fake_google.VECTOR

    models_path = "/v1beta1/projects/p/locations/us-central1/publishers/google/models/"
    assert [r.path for r in upstream.requests] == [
        f"{models_path}{MODEL}:countTokens",
        f"{models_path}text-embedding-005:predict",
        f"{models_path}gemini-embedding-001:embedContent",
    ]
    assert orjson.loads(upstream.requests[1].body) == {"instances": [{"content": "hi"}, {"content": "yo"}]}
    entries = logs(runner, proxy, 6)
    assert [e.cache for e in entries] == ["miss"] * 3 + ["hit"] * 3
    assert [e.prompt_tokens for e in entries[:3]] == [None, 6, 2]  # countTokens is free; predict sums instances


def test_it_passes_an_upstream_error_through_and_does_not_cache_it(proxy, upstream, runner):
    upstream.queue(fake_google.error(429, "RESOURCE_EXHAUSTED", "Quota exceeded upstream."))
    client = client_for(proxy)
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=MODEL, contents="fail once")
    assert (caught.value.code, caught.value.status, caught.value.message) == (
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded upstream.",
    )
    again = client.models.generate_content(model=MODEL, contents="fail once")
    assert again.sdk_http_response.headers["x-rubberduck-cache"] == "miss"
    assert [e.status_code for e in logs(runner, proxy, 2)] == [429, 200]


def test_it_never_caches_a_stream_that_carries_an_error_event(proxy, upstream):
    upstream.queue(fake_google.stream(MODEL, error_after=2))
    client = client_for(proxy)
    seen = []
    with pytest.raises(errors.ServerError) as caught:
        for chunk in client.models.generate_content_stream(model=MODEL, contents="breaks"):
            seen.append(chunk.text)
    assert seen == ["Hello", " from"]
    assert (caught.value.code, caught.value.status) == (500, "INTERNAL")
    assert "".join(c.text for c in client.models.generate_content_stream(model=MODEL, contents="breaks")) == TEXT
    assert len(upstream.requests) == 2


STATUSES = [
    (400, errors.ClientError, "INVALID_ARGUMENT"),
    (401, errors.ClientError, "UNAUTHENTICATED"),
    (403, errors.ClientError, "PERMISSION_DENIED"),
    (404, errors.ClientError, "NOT_FOUND"),
    (408, errors.ClientError, "DEADLINE_EXCEEDED"),
    (409, errors.ClientError, "ABORTED"),
    (413, errors.ClientError, "INVALID_ARGUMENT"),
    (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
    (499, errors.ClientError, "CANCELLED"),
    (500, errors.ServerError, "INTERNAL"),
    (501, errors.ServerError, "UNIMPLEMENTED"),
    (502, errors.ServerError, "UNAVAILABLE"),
    (503, errors.ServerError, "UNAVAILABLE"),
    (504, errors.ServerError, "DEADLINE_EXCEEDED"),
]


def test_injected_errors_raise_the_sdks_own_exceptions(proxy, upstream, api, runner):
    client = client_for(proxy)
    for status, exception, name in STATUSES:
        set_failures(api, runner, proxy, {"errors": [{"status": status, "rate": 1.0}]})
        with pytest.raises(exception) as caught:
            client.models.generate_content(model=MODEL, contents="chaos")
        assert (caught.value.code, caught.value.status) == (status, name)
        assert caught.value.message
        with pytest.raises(exception):
            list(client.models.generate_content_stream(model=MODEL, contents="chaos"))
    assert upstream.requests == []


def test_an_injected_429_says_when_to_retry(proxy, api, runner):
    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 1.0}]})
    response = httpx.post(f"{proxy['base_url']}{PREFIX}:generateContent", json={"contents": []})
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.headers["x-rubberduck-failure"] == "error"
    assert response.json() == {
        "error": {
            "code": 429,
            "message": "Resource exhausted. Please try again later.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}],
        }
    }


def test_paths_outside_the_api_get_googles_error_shape_and_unmodelled_ones_pass_through(proxy, upstream):
    missing = httpx.post(f"{proxy['base_url']}/v2/nope", json={})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json; charset=UTF-8"
    assert missing.json()["error"] == {
        "code": 404,
        "message": "The requested URL /v2/nope was not found on this server.",
        "status": "NOT_FOUND",
    }
    bad = httpx.post(
        f"{proxy['base_url']}{PREFIX}:generateContent", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert (bad.status_code, bad.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
    # A location is a host-name label: anything else could steer the token to another host, so it is unknown.
    hijack = httpx.post(f"{proxy['base_url']}/v1/projects/p/locations/evil.com%23/publishers/google/models/m:predict")
    assert hijack.status_code == 404
    assert upstream.requests == []
    unmodelled = httpx.post(f"{proxy['base_url']}/v1beta1/nope", json={})
    assert (unmodelled.status_code, unmodelled.json()["error"]["status"]) == (404, "NOT_FOUND")  # the upstream's
    assert [r.path for r in upstream.requests] == ["/v1beta1/nope"]


def upstream_url_for(path: str, upstream_url: str = "", query: str = "") -> str:
    provider = VertexProvider()
    request = Request("POST", path, query, {"authorization": "Bearer ya29.t"}, b"{}")
    return provider.upstream_request(upstream_url, request, provider.route(request)).url


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("us-central1", "https://us-central1-aiplatform.googleapis.com"),
        ("europe-west4", "https://europe-west4-aiplatform.googleapis.com"),
        ("global", "https://aiplatform.googleapis.com"),
        ("us", "https://aiplatform.us.rep.googleapis.com"),
        ("eu", "https://aiplatform.eu.rep.googleapis.com"),
    ],
)
def test_it_derives_the_upstream_host_from_the_location(location, host):
    path = f"/v1/projects/p/locations/{location}/publishers/google/models/{MODEL}:streamGenerateContent"
    assert upstream_url_for(path, query="alt=sse") == f"{host}{path}?alt=sse"


def test_a_pass_through_goes_to_its_locations_host_too():
    path = "/v1beta1/projects/p/locations/europe-west4/cachedContents"
    assert upstream_url_for(path) == f"https://europe-west4-aiplatform.googleapis.com{path}"
    assert upstream_url_for("/v1/batchPredictionJobs") == "https://aiplatform.googleapis.com/v1/batchPredictionJobs"


def test_it_sends_express_mode_to_the_global_host_and_honours_an_upstream_url():
    express = f"/v1beta1/publishers/google/models/{MODEL}:generateContent"
    assert upstream_url_for(express) == f"https://aiplatform.googleapis.com{express}"
    assert upstream_url_for(f"{PREFIX}:generateContent", "http://fake:9/base/") == (
        f"http://fake:9/base{PREFIX}:generateContent"
    )


def test_a_stream_route_comes_from_the_method_not_the_body():
    provider = VertexProvider()
    streamed = provider.route(Request("POST", f"{PREFIX}:streamGenerateContent", "alt=sse", {}, b'{"stream":false}'))
    plain = provider.route(Request("POST", f"{PREFIX}:generateContent", "", {}, b'{"stream":true}'))
    assert (streamed.stream, streamed.model, streamed.operation) == (True, MODEL, "streamGenerateContent")
    assert (plain.stream, plain.model) == (False, MODEL)


def test_the_async_client_streams_and_hits_the_cache_too(proxy, upstream):
    async def run():
        client = client_for(proxy).aio
        plain = await client.models.generate_content(model=MODEL, contents="async")
        again = await client.models.generate_content(model=MODEL, contents="async")
        streams = [
            [c async for c in await client.models.generate_content_stream(model=MODEL, contents="a")] for _ in "ab"
        ]
        with pytest.raises(errors.ClientError) as caught:
            await client.models.generate_content(
                model="m", contents="x", config={"http_options": {"api_version": "v9"}}
            )
        await client.aclose()
        return plain, again, streams, caught.value

    plain, again, streams, missing = asyncio.run(run())
    assert plain.text == again.text == TEXT
    assert again.sdk_http_response.headers["x-rubberduck-cache"] == "hit"
    assert ["".join(c.text for c in s) for s in streams] == [TEXT, TEXT]
    assert streams[1][0].sdk_http_response.headers["x-rubberduck-cache"] == "hit"
    assert (missing.code, missing.status) == (404, "NOT_FOUND")
    assert len(upstream.requests) == 2
