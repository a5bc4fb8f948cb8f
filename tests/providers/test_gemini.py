"""The Gemini Developer API end to end through google-genai (api_key), a real runner and a fake upstream."""

import httpx
import pytest
from google import genai
from google.genai import errors, types

from providers.base import Fault, Request
from providers.gemini import GeminiProvider
from tests.conftest import flushed_logs, set_failures, wait_until
from tests.fakes import google as fake_google
from tests.fakes.server import FakeUpstream

MODEL = "gemini-2.5-flash"
TEXT = "Hello from the fake Gemini!"
BODY = b'{"contents": [{"parts": [{"text": "hi"}], "role": "user"}]}'


@pytest.fixture
def upstream():
    upstream = FakeUpstream(fake_google.respond).start()
    yield upstream
    upstream.stop()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("gemini", upstream_url=upstream.url)


def client_for(proxy, api_key="AIza-test-key", **options):
    return genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=proxy["base_url"], **options))


def logs(runner, proxy, count):
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def test_it_forwards_generate_content_then_serves_the_repeat_from_cache(proxy, upstream, runner):
    client = client_for(proxy)
    first = client.models.generate_content(model=MODEL, contents="Say hello")
    second = client.models.generate_content(model=MODEL, contents="Say hello")

    assert first.sdk_http_response.headers["x-rubberduck-cache"] == "miss"
    assert second.sdk_http_response.headers["x-rubberduck-cache"] == "hit"
    assert first.text == second.text == TEXT
    assert len(upstream.requests) == 1
    sent = upstream.requests[0]
    assert sent.path == f"/v1/models/{MODEL}:generateContent"
    assert sent.headers["x-goog-api-key"] == "AIza-test-key"

    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.prompt_tokens, e.completion_tokens) for e in entries] == [("miss", 9, 10), ("hit", 9, 10)]
    assert entries[0].cost_usd is not None and entries[0].cost_usd > 0
    assert entries[0].model == MODEL


def test_it_streams_with_alt_sse_and_replays_the_cached_stream(proxy, upstream, runner):
    client = client_for(proxy, api_version="v1beta")
    live = list(client.models.generate_content_stream(model=MODEL, contents="stream"))
    replayed = list(client.models.generate_content_stream(model=MODEL, contents="stream"))

    assert [c.sdk_http_response.headers["x-rubberduck-cache"] for c in (live[0], replayed[0])] == ["miss", "hit"]
    assert "".join(c.text for c in live) == "".join(c.text for c in replayed) == TEXT
    assert len(live) == len(replayed) == 6
    assert replayed[-1].usage_metadata.candidates_token_count == 6
    assert [r.path for r in upstream.requests] == [f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"]
    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.prompt_tokens, e.completion_tokens) for e in entries] == [("miss", 9, 10), ("hit", 9, 10)]
    assert entries[0].cost_usd == entries[1].cost_usd and entries[0].cost_usd > 0


def test_it_serves_count_tokens_and_batch_embeddings_from_cache(proxy, upstream):
    client = client_for(proxy)
    for _ in range(2):
        assert client.models.count_tokens(model=MODEL, contents="hi").total_tokens == 9
        embedded = client.models.embed_content(model="gemini-embedding-001", contents=["hi", "yo"])
        assert [e.values for e in embedded.embeddings] == [fake_google.VECTOR] * 2
    assert [r.path for r in upstream.requests] == [
        f"/v1/models/{MODEL}:countTokens",
        "/v1/models/gemini-embedding-001:batchEmbedContents",
    ]


def test_a_key_in_the_query_is_forwarded_but_never_keys_the_cache(proxy, upstream, runner):
    url = f"{proxy['base_url']}/v1beta/models/{MODEL}:generateContent"
    headers = {"content-type": "application/json"}
    first = httpx.post(url, params={"key": "AIza-first"}, content=BODY, headers=headers)
    second = httpx.post(url, params={"key": "AIza-second"}, content=BODY, headers=headers)
    assert first.status_code == second.status_code == 200
    assert [first.headers["x-rubberduck-cache"], second.headers["x-rubberduck-cache"]] == ["miss", "hit"]
    assert second.content == first.content
    assert [r.path for r in upstream.requests] == [f"/v1beta/models/{MODEL}:generateContent?key=AIza-first"]
    entries = logs(runner, proxy, 2)
    assert all("AIza" not in e.path for e in entries)


def test_it_passes_an_upstream_error_through_and_does_not_cache_it(proxy, upstream, runner):
    upstream.queue(fake_google.error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."))
    client = client_for(proxy, api_key="AIza-wrong")
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=MODEL, contents="fail once")
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.message == "API key not valid. Please pass a valid API key."
    assert client.models.generate_content(model=MODEL, contents="fail once").text == TEXT
    assert [(e.status_code, e.cache) for e in logs(runner, proxy, 2)] == [(400, "miss"), (200, "miss")]


def test_it_never_caches_a_stream_that_carries_an_error_event(proxy, upstream):
    upstream.queue(fake_google.stream(MODEL, error_after=3))
    client = client_for(proxy)
    with pytest.raises(errors.ServerError):
        list(client.models.generate_content_stream(model=MODEL, contents="breaks"))
    assert "".join(c.text for c in client.models.generate_content_stream(model=MODEL, contents="breaks")) == TEXT
    assert len(upstream.requests) == 2


STATUSES = [
    (400, errors.ClientError, "INVALID_ARGUMENT"),
    (401, errors.ClientError, "UNAUTHENTICATED"),
    (403, errors.ClientError, "PERMISSION_DENIED"),
    (404, errors.ClientError, "NOT_FOUND"),
    (408, errors.ClientError, "DEADLINE_EXCEEDED"),
    (413, errors.ClientError, "INVALID_ARGUMENT"),
    (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
    (500, errors.ServerError, "INTERNAL"),
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
            client.models.embed_content(model="gemini-embedding-001", contents="chaos")
    assert upstream.requests == []


def test_the_rpm_limit_answers_geminis_quota_429(proxy, api, runner):
    set_failures(api, runner, proxy, {"rpm_limit": 1})
    client = client_for(proxy)
    client.models.generate_content(model=MODEL, contents="one")
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=MODEL, contents="two")
    assert (caught.value.code, caught.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert caught.value.message.startswith("You exceeded your current quota")
    details = caught.value.details["error"]["details"]
    assert [d["@type"].rsplit(".", 1)[1] for d in details] == ["QuotaFailure", "Help", "RetryInfo"]
    assert details[-1]["retryDelay"].endswith("s") and int(details[-1]["retryDelay"][:-1]) >= 1


def test_a_path_outside_the_api_gets_googles_404_and_an_unmodelled_one_passes_through(proxy, upstream):
    missing = httpx.post(f"{proxy['base_url']}/v2/models/{MODEL}:generateContent", json={})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json; charset=UTF-8"
    assert missing.json() == {
        "error": {
            "code": 404,
            "message": f"The requested URL /v2/models/{MODEL}:generateContent was not found on this server.",
            "status": "NOT_FOUND",
        }
    }
    assert upstream.requests == []
    wrong = httpx.delete(f"{proxy['base_url']}/v1/models/{MODEL}:generateContent")
    assert (wrong.status_code, wrong.json()["error"]["status"]) == (404, "NOT_FOUND")  # the upstream's own
    assert [(r.method, r.path) for r in upstream.requests] == [("DELETE", f"/v1/models/{MODEL}:generateContent")]


def test_the_sdk_can_read_a_model(proxy, upstream):
    client = client_for(proxy)
    assert client.models.get(model=MODEL).name == f"models/{MODEL}"
    assert client.models.get(model=MODEL).name == f"models/{MODEL}"
    assert [r.path for r in upstream.requests] == [f"/v1/models/{MODEL}"]


def test_it_forwards_to_the_gemini_api_by_default():
    provider = GeminiProvider()
    request = Request("POST", f"/v1beta/models/{MODEL}:streamGenerateContent", "alt=sse&key=k", {}, BODY)
    route = provider.route(request)
    assert route.stream and route.model == MODEL
    sent = provider.upstream_request("", request, route)
    assert (
        sent.url
        == f"https://generativelanguage.googleapis.com/v1beta/models/{MODEL}:streamGenerateContent?alt=sse&key=k"
    )
    _, query, _ = provider.cache_key_parts(request, route)
    assert query == [("alt", "sse")]


def test_its_errors_are_google_rpc_status_json():
    answer = GeminiProvider().error(503, Fault.INJECTED, retry_after=7)
    assert answer.status == 503
    assert ("content-type", "application/json; charset=UTF-8") in answer.headers
    assert answer.body.startswith(b'{\n  "error": {\n    "code": 503,')
    assert b'"retryDelay": "7s"' in answer.body


def test_its_stream_inspector_takes_the_last_usage_and_spots_only_real_error_events():
    frames = b"".join(fake_google.stream(MODEL).chunks)
    inspector = GeminiProvider().stream_inspector(
        GeminiProvider().route(Request("POST", "/v1/models/m:streamGenerateContent", "", {}, b""))
    )
    events = [e for i in range(0, len(frames), 7) for e in inspector.feed(frames[i : i + 7])]
    assert b"".join(events) == frames and len(events) == 6
    assert (inspector.usage.input_tokens, inspector.usage.output_tokens, inspector.error) == (9, 10, False)

    quoted = b'data: {"candidates":[{"content":{"parts":[{"text":"an \\"error\\" word"}]}}]}\r\n\r\n'
    assert inspector.feed(quoted) == [quoted] and not inspector.error
    failed = b'data: {"error":{"code":500,"message":"x","status":"INTERNAL"}}\r\n\r\n'
    assert inspector.feed(failed) == [failed] and inspector.error
