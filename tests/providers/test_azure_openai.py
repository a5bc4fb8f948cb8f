"""The Azure OpenAI provider end to end: the official openai SDK's AzureOpenAI / AsyncAzureOpenAI (classic
deployment paths) and plain OpenAI (v1 GA paths) -> a real proxy -> a fake Azure OpenAI resource."""

import time

import httpx
import openai
import pytest

from logs.pricing import cost_usd
from tests.conftest import flushed_logs, run_async, set_failures, wait_until
from tests.fakes import azure_openai as fake
from tests.fakes.server import FakeUpstream

API_VERSION = "2024-10-21"
MESSAGES = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hello"}]


@pytest.fixture
def upstream():
    server = FakeUpstream(fake.respond).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("azure_openai", upstream_url=upstream.url)


def azure_client(proxy, api_version=API_VERSION, **kw):
    kw.setdefault("max_retries", 0)
    if "azure_ad_token" not in kw:
        kw.setdefault("api_key", "azure-key-123")
    return openai.AzureOpenAI(azure_endpoint=proxy["base_url"], api_version=api_version, **kw)


def logs(runner, proxy, count):
    """The proxy's log entries once `count` are written (the writer thread may hold a batch mid-commit)."""
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def test_it_needs_an_upstream_url(api, runner):
    body = {"name": "az", "provider": "azure_openai", "model_name": "gpt-4o-mini"}
    response = api.post("/api/v1/proxies/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["upstream_url"]
    assert api.post("/api/v1/proxies/", {**body, "upstream_url": ""}, format="json").status_code == 400


def test_it_caches_a_deployment_chat_completion(proxy, upstream, runner):
    client = azure_client(proxy)
    first = client.chat.completions.with_raw_response.create(model="my-gpt", messages=MESSAGES)
    second = client.chat.completions.with_raw_response.create(model="my-gpt", messages=MESSAGES)

    assert (first.headers["x-rubberduck-cache"], second.headers["x-rubberduck-cache"]) == ("miss", "hit")
    assert first.parse().model_dump() == second.parse().model_dump()
    assert second.parse().choices[0].message.content == "Hello from the fake upstream!"
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert second.headers["x-ms-region"] == "Sweden Central"

    assert len(upstream.requests) == 1
    sent = upstream.requests[0]
    assert sent.path == f"/openai/deployments/my-gpt/chat/completions?api-version={API_VERSION}"
    assert sent.headers["api-key"] == "azure-key-123"
    assert "authorization" not in sent.headers

    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.model, e.prompt_tokens, e.completion_tokens) for e in entries] == [
        ("miss", fake.MODEL, 11, 7),
        ("hit", fake.MODEL, 11, 7),
    ]
    expected = cost_usd("azure", fake.MODEL, input_tokens=11, output_tokens=7, cache_read=0, cache_write=None)
    assert entries[0].cost_usd == entries[1].cost_usd == expected > 0


def test_it_streams_and_replays_a_cached_stream(proxy, upstream, runner):
    client = azure_client(proxy)
    kwargs = dict(model="my-gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    live = list(client.chat.completions.create(**kwargs))
    replay_raw = client.chat.completions.with_raw_response.create(**kwargs)
    assert replay_raw.headers["x-rubberduck-cache"] == "hit"
    replayed = list(replay_raw.parse())

    def text(chunks):
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    assert text(live) == text(replayed) == "Hello from the fake upstream!"
    assert live[0].prompt_filter_results == replayed[0].prompt_filter_results  # Azure's extra first chunk
    assert len(upstream.requests) == 1
    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.prompt_tokens, e.completion_tokens) for e in entries] == [("miss", 11, 7), ("hit", 11, 7)]
    assert entries[1].cost_usd > 0


def test_it_keys_the_cache_on_deployment_and_api_version(proxy, upstream):
    def call(deployment, api_version=API_VERSION):
        raw = azure_client(proxy, api_version).chat.completions.with_raw_response.create(
            model=deployment, messages=MESSAGES
        )
        return raw.headers["x-rubberduck-cache"]

    assert call("dep-a") == "miss"
    assert call("dep-a") == "hit"
    assert call("dep-b") == "miss"
    assert call("dep-a", "2025-04-01-preview") == "miss"
    assert call("dep-a", "2025-04-01-preview") == "hit"
    assert (
        azure_client(proxy, api_key="another-key")
        .chat.completions.with_raw_response.create(model="dep-a", messages=MESSAGES)
        .headers["x-rubberduck-cache"]
        == "hit"
    )
    assert [r.path for r in upstream.requests] == [
        f"/openai/deployments/dep-a/chat/completions?api-version={API_VERSION}",
        f"/openai/deployments/dep-b/chat/completions?api-version={API_VERSION}",
        "/openai/deployments/dep-a/chat/completions?api-version=2025-04-01-preview",
    ]


def test_the_async_client_with_an_entra_token_covers_every_classic_path(proxy, upstream):
    async def run():
        client = openai.AsyncAzureOpenAI(
            azure_endpoint=proxy["base_url"], api_version=API_VERSION, azure_ad_token="eyJ.entra.jwt", max_retries=0
        )
        chat = await client.chat.completions.create(model="my-gpt", messages=MESSAGES)
        streamed = [
            c async for c in await client.chat.completions.create(model="my-gpt", messages=MESSAGES, stream=True)
        ]
        embedding = await client.embeddings.create(model="my-embed", input="hi")
        completion = await client.completions.create(model="my-instruct", prompt="hi")
        response = await client.responses.create(model="my-gpt", input="hi")
        events = [e async for e in await client.responses.create(model="my-gpt", input="hi", stream=True)]
        models = await client.models.list()
        await client.close()
        return chat, streamed, embedding, completion, response, events, models

    chat, streamed, embedding, completion, response, events, models = run_async(run())
    assert chat.choices[0].message.content == "Hello from the fake upstream!"
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Hello from the fake upstream!"
    assert embedding.data[0].embedding == [0.25, -0.5, 0.125]
    assert completion.choices[0].text == "Hello from the fake upstream!"
    assert response.output_text == "Hello from the fake upstream!"
    assert events[-1].type == "response.completed"
    assert [m.id for m in models.data] == ["gpt-4o-mini"]
    query = f"?api-version={API_VERSION}"
    assert [r.path for r in upstream.requests] == [
        "/openai/deployments/my-gpt/chat/completions" + query,
        "/openai/deployments/my-gpt/chat/completions" + query,
        "/openai/deployments/my-embed/embeddings" + query,
        "/openai/deployments/my-instruct/completions" + query,
        "/openai/responses" + query,
        "/openai/responses" + query,
        "/openai/models" + query,
    ]
    assert {r.headers["authorization"] for r in upstream.requests} == {"Bearer eyJ.entra.jwt"}
    assert not any("api-key" in r.headers for r in upstream.requests)


def test_the_v1_ga_paths_work_with_the_plain_openai_client(proxy, upstream, runner):
    client = openai.OpenAI(base_url=proxy["base_url"] + "/openai/v1/", api_key="azure-v1-key", max_retries=0)
    chat = client.chat.completions.with_raw_response.create(model="my-gpt", messages=MESSAGES)
    again = client.chat.completions.with_raw_response.create(model="my-gpt", messages=MESSAGES)
    chunks = list(client.chat.completions.create(model="my-gpt", messages=MESSAGES, stream=True))
    response = client.responses.create(model="my-gpt", input="hi")

    assert (chat.headers["x-rubberduck-cache"], again.headers["x-rubberduck-cache"]) == ("miss", "hit")
    assert chat.parse().choices[0].message.content == "Hello from the fake upstream!"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from the fake upstream!"
    assert response.output_text == "Hello from the fake upstream!"
    assert [r.path for r in upstream.requests] == [
        "/openai/v1/chat/completions",
        "/openai/v1/chat/completions",
        "/openai/v1/responses",
    ]
    assert {r.headers["authorization"] for r in upstream.requests} == {"Bearer azure-v1-key"}
    entries = logs(runner, proxy, 4)
    assert (entries[-1].prompt_tokens, entries[-1].completion_tokens) == (9, 6)  # responses usage


def test_a_resource_url_given_with_its_openai_suffix_still_works(make_proxy, upstream):
    proxy = make_proxy("azure_openai", upstream_url=upstream.url + "/openai/")
    azure_client(proxy).chat.completions.create(model="my-gpt", messages=MESSAGES)
    assert upstream.requests[0].path.startswith("/openai/deployments/my-gpt/chat/completions?")


def test_it_passes_an_upstream_429_through_and_does_not_cache_it(proxy, upstream, runner):
    message = "Requests to the ChatCompletions_Create Operation ... Please retry after 7 seconds."
    upstream.queue(fake.error(429, "429", message, [("retry-after", "7")]))
    client = azure_client(proxy)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="my-gpt", messages=MESSAGES)
    assert (caught.value.code, caught.value.message) == ("429", "Error code: 429 - " + message)
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.response.headers["apim-request-id"] == fake.HEADERS[0][1]
    ok = client.chat.completions.with_raw_response.create(model="my-gpt", messages=MESSAGES)
    assert ok.headers["x-rubberduck-cache"] == "miss"
    assert [e.status_code for e in logs(runner, proxy, 2)] == [429, 200]


ERROR_CLASSES = [
    (400, openai.BadRequestError, "content_filter"),
    (401, openai.AuthenticationError, "401"),
    (403, openai.PermissionDeniedError, "403"),
    (404, openai.NotFoundError, "404"),
    (408, openai.APIStatusError, "Timeout"),
    (413, openai.APIStatusError, "413"),
    (429, openai.RateLimitError, "429"),
    (500, openai.InternalServerError, None),
    (502, openai.InternalServerError, "BadGateway"),
    (503, openai.InternalServerError, "ServiceUnavailable"),
    (504, openai.InternalServerError, "Timeout"),
]


@pytest.mark.parametrize(("status", "error_class", "code"), ERROR_CLASSES)
def test_an_injected_error_raises_the_sdks_native_exception(status, error_class, code, api, runner, proxy, upstream):
    set_failures(api, runner, proxy, {"errors": [{"status": status, "rate": 1.0}]})
    with pytest.raises(error_class) as caught:
        azure_client(proxy).chat.completions.create(model="my-gpt", messages=MESSAGES)
    error = caught.value
    assert type(error) is error_class
    assert (error.status_code, error.code) == (status, code)
    headers = error.response.headers
    assert headers["apim-request-id"] == headers["x-request-id"] == error.request_id
    assert headers["x-rubberduck-failure"] == "error"
    if status == 400:
        assert error.body["innererror"]["code"] == "ResponsibleAIPolicyViolation" and error.param == "prompt"
    if status == 403:
        assert error.body == {"code": "403", "message": "Access denied due to Virtual Network/Firewall rules."}
    if status == 429:
        assert "Please retry after 1 seconds" in error.body["message"]
        assert (headers["retry-after"], headers["retry-after-ms"]) == ("1", "1000")
        assert headers["x-ratelimit-remaining-requests"] == headers["x-ratelimit-remaining-tokens"] == "0"
    assert upstream.requests == []


def test_the_async_client_raises_native_exceptions_too(api, runner, proxy):
    set_failures(api, runner, proxy, {"errors": [{"status": 403, "rate": 1.0}]})

    async def run():
        client = openai.AsyncAzureOpenAI(
            azure_endpoint=proxy["base_url"], api_version=API_VERSION, api_key="k", max_retries=0
        )
        try:
            await client.chat.completions.create(model="my-gpt", messages=MESSAGES)
        finally:
            await client.close()

    with pytest.raises(openai.PermissionDeniedError):
        run_async(run())


def test_the_sdk_honours_retry_after_on_an_injected_429(api, runner, proxy, upstream):
    # seed 1: the first draw (0.13) fires the 50 % rule, the second (0.85) does not.
    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 0.5}], "seed": 1})
    started = time.monotonic()
    chat = azure_client(proxy, max_retries=1).chat.completions.create(model="my-gpt", messages=MESSAGES)
    elapsed = time.monotonic() - started
    assert chat.choices[0].message.content == "Hello from the fake upstream!"
    assert 0.9 <= elapsed < 3.0
    assert [e.status_code for e in logs(runner, proxy, 2)] == [429, 200]


def test_paths_outside_the_api_get_azures_404_and_unmodelled_ones_pass_through(proxy, upstream):
    missing = httpx.post(proxy["base_url"] + "/deployments/d/chat/completions?api-version=2024-10-21", json={})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "404"
    assert missing.headers["apim-request-id"]
    assert upstream.requests == []
    unmodelled = httpx.post(proxy["base_url"] + "/openai/deployments/d/nope?api-version=2024-10-21", json={})
    assert unmodelled.status_code == 404  # the upstream's own answer
    assert unmodelled.headers["apim-request-id"] == fake.HEADERS[0][1]
    assert [r.path for r in upstream.requests] == ["/openai/deployments/d/nope?api-version=2024-10-21"]
