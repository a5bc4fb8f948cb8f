"""Bedrock end to end: real boto3 `bedrock-runtime` clients, a real runner, and a fake upstream that speaks
Bedrock's wire format and checks SigV4 signatures with botocore."""

from __future__ import annotations

import base64
import json

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EventStreamError
from urllib3.exceptions import ProtocolError

import providers
from accounts.models import SiteSettings
from providers.base import Request, Route
from providers.bedrock_redirect import redirect_to_proxy
from tests.conftest import flushed_logs, set_failures, wait_until
from tests.fakes import bedrock as fake
from tests.fakes.server import FakeUpstream

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ENCODED_MODEL = "anthropic.claude-3-haiku-20240307-v1%3A0"
SERVER_CREDS = Credentials("AKIASERVER0000000001", "server-secret-key")
CLIENT_CREDS = Credentials("AKIACLIENT0000000001", "client-secret-key")
MESSAGES = [{"role": "user", "content": [{"text": "Say hello"}]}]
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch, tmp_path):
    """No AWS configuration of this machine leaks in; the server starts without credentials of its own."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    providers.get("bedrock").credentials.forget()
    yield
    providers.get("bedrock").credentials.forget()


@pytest.fixture
def server_credentials(monkeypatch, db):
    """The Rubberduck server's own AWS credentials, from its environment as botocore reads them, which the site
    settings let every user's proxies use (the test users are not staff)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SERVER_CREDS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SERVER_CREDS.secret_key)
    credentials_for("everyone")


def credentials_for(whom: str) -> None:
    SiteSettings.objects.update_or_create(pk=1, defaults={"server_aws_credentials": whom})


@pytest.fixture
def bedrock():
    return fake.FakeBedrock(credentials=SERVER_CREDS)


@pytest.fixture
def upstream(bedrock):
    server = FakeUpstream(bedrock.respond).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("bedrock", upstream_url=upstream.url)


def client_for(proxy, region="us-east-1", creds=CLIENT_CREDS, **kw):
    return boto3.client(
        "bedrock-runtime",
        region_name=region,
        endpoint_url=proxy["base_url"],
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        config=NO_RETRIES,
        **kw,
    )


def cache_header(response) -> str:
    return response["ResponseMetadata"]["HTTPHeaders"]["x-rubberduck-cache"]


def logs(runner, proxy, count):
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def raw_client() -> httpx.Client:
    """A plain HTTP client that, like boto3, sends no Accept header (Accept is part of Bedrock's cache key)."""
    client = httpx.Client()
    client.headers.pop("accept")
    return client


def sigv4_headers(region="us-east-1") -> dict:
    """A SigV4-looking Authorization from a raw client (the proxy re-signs; it does not verify the client)."""
    credential = f"{CLIENT_CREDS.access_key}/20260101/{region}/bedrock/aws4_request"
    return {
        "authorization": f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=00",
        "content-type": "application/json",
    }


# 1. operations, cache, usage


def test_it_converses_then_serves_the_second_identical_call_from_cache(
    server_credentials, proxy, upstream, bedrock, runner
):
    client = client_for(proxy)
    first = client.converse(modelId=MODEL, messages=MESSAGES)
    second = client.converse(modelId=MODEL, messages=MESSAGES)

    assert (cache_header(first), cache_header(second)) == ("miss", "hit")
    for answer in (first, second):
        assert answer["output"]["message"]["content"] == [{"text": "Hello from the fake Bedrock!"}]
        assert answer["usage"] == fake.CONVERSE_USAGE and answer["stopReason"] == "end_turn"
    assert second["ResponseMetadata"]["RequestId"] != first["ResponseMetadata"]["RequestId"]
    assert len(upstream.requests) == 1 and bedrock.verified == ["sigv4"]
    sent = upstream.requests[0]
    assert sent.path == f"/model/{ENCODED_MODEL}/converse"  # byte-identical path, re-signed for the fake's host
    assert SERVER_CREDS.access_key in sent.headers["authorization"]

    entries = logs(runner, proxy, 2)
    assert [e.cache for e in entries] == ["miss", "hit"]
    assert entries[0].prompt_hash == entries[1].prompt_hash
    assert entries[0].model == MODEL
    assert (entries[0].prompt_tokens, entries[0].completion_tokens) == (12, 6)
    assert entries[0].cost_usd is not None and entries[0].cost_usd > 0
    assert entries[1].prompt_tokens == 12


def converse_stream_events(client, **kw):
    response = client.converse_stream(modelId=MODEL, messages=MESSAGES, **kw)
    return response, list(response["stream"])


def test_it_streams_converse_and_replays_the_cached_stream_byte_identical(server_credentials, proxy, upstream, runner):
    client = client_for(proxy)
    live_response, live = converse_stream_events(client)
    replay_response, replayed = converse_stream_events(client)

    assert (cache_header(live_response), cache_header(replay_response)) == ("miss", "hit")
    assert replay_response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in live if "contentBlockDelta" in e)
    assert text == "Hello from the fake Bedrock!"
    assert replayed == live and live[-1]["metadata"]["usage"] == fake.CONVERSE_USAGE
    assert len(upstream.requests) == 1

    # A cache hit needs no usable credentials, and its bytes are the upstream's, frame for frame.
    raw = raw_client().post(
        f"{proxy['base_url']}/model/{ENCODED_MODEL}/converse-stream",
        content=upstream.requests[0].body,
        headers={"content-type": "application/json"},
    )
    assert raw.headers["x-rubberduck-cache"] == "hit"
    assert raw.content == b"".join(fake.converse_stream_frames())

    entries = logs(runner, proxy, 3)
    assert (entries[0].prompt_tokens, entries[0].completion_tokens) == (12, 6)
    assert entries[0].cost_usd > 0 and entries[1].prompt_tokens == 12


def test_it_invokes_a_model_with_usage_from_bedrocks_token_headers(server_credentials, proxy, upstream, runner):
    client = client_for(proxy)
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [MESSAGES[0]]})
    first = client.invoke_model(modelId=MODEL, body=body)
    second = client.invoke_model(modelId=MODEL, body=body)

    assert (cache_header(first), cache_header(second)) == ("miss", "hit")
    first_body, second_body = first["body"].read(), second["body"].read()
    assert first_body == second_body and json.loads(first_body)["content"][0]["text"] == "Hello from the fake Bedrock!"
    assert second["contentType"] == "application/json"
    assert second["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"] == "14"
    assert len(upstream.requests) == 1
    assert "content-type" not in upstream.requests[0].headers  # boto3 sent none, so none was added on the way

    entries = logs(runner, proxy, 2)
    assert (entries[0].prompt_tokens, entries[0].completion_tokens) == fake.INVOKE_TOKENS
    assert entries[0].cost_usd > 0 and entries[1].completion_tokens == fake.INVOKE_TOKENS[1]


def invoke_stream_texts(response) -> tuple[str, list[dict]]:
    decoded = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]
    text = "".join(d["delta"].get("text", "") for d in decoded if d["type"] == "content_block_delta")
    return text, decoded


def test_it_streams_invoke_model_and_replays_it(server_credentials, proxy, upstream, runner):
    client = client_for(proxy)
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [MESSAGES[0]]})
    live = client.invoke_model_with_response_stream(modelId=MODEL, body=body)
    live_text, live_events = invoke_stream_texts(live)
    replay = client.invoke_model_with_response_stream(modelId=MODEL, body=body)
    replay_text, replay_events = invoke_stream_texts(replay)

    assert (cache_header(live), cache_header(replay)) == ("miss", "hit")
    assert live_text == replay_text == "Hello from the fake Bedrock!" and live_events == replay_events
    assert replay["contentType"] == "application/json"
    assert live_events[-1]["amazon-bedrock-invocationMetrics"]["inputTokenCount"] == 14
    assert len(upstream.requests) == 1

    entries = logs(runner, proxy, 2)
    assert (entries[0].prompt_tokens, entries[0].completion_tokens) == fake.INVOKE_TOKENS
    assert entries[0].cost_usd > 0 and entries[1].prompt_tokens == 14


def test_it_counts_tokens_and_caches_the_count(server_credentials, proxy, upstream):
    client = client_for(proxy)
    ask = {"modelId": MODEL, "input": {"converse": {"messages": MESSAGES}}}
    first, second = client.count_tokens(**ask), client.count_tokens(**ask)
    assert first["inputTokens"] == second["inputTokens"] == 42
    assert (cache_header(first), cache_header(second)) == ("miss", "hit")
    assert upstream.requests[0].path == f"/model/{ENCODED_MODEL}/count-tokens"
    assert len(upstream.requests) == 1


def test_it_passes_an_upstream_error_through_and_does_not_cache_it(server_credentials, proxy, upstream, runner):
    client = client_for(proxy)
    upstream.queue(fake.error_reply(429, "ThrottlingException", "Too many tokens, please wait before trying again."))
    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        client.converse(modelId=MODEL, messages=MESSAGES)
    assert caught.value.response["Error"]["Message"] == "Too many tokens, please wait before trying again."
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429

    answer = client.converse(modelId=MODEL, messages=MESSAGES)
    assert cache_header(answer) == "miss" and len(upstream.requests) == 2


@pytest.mark.parametrize(
    ("operation", "error_code"),
    [("converse_stream", "throttlingException"), ("invoke_model_with_response_stream", "modelStreamErrorException")],
)
def test_it_never_caches_a_stream_that_carried_an_exception_event(
    operation, error_code, server_credentials, proxy, upstream, runner
):
    client = client_for(proxy)
    if operation == "converse_stream":
        call = lambda: client.converse_stream(  # noqa: E731
            modelId=MODEL, messages=[{"role": "user", "content": [{"text": fake.FAIL_MIDSTREAM}]}]
        )["stream"]
    else:
        body = json.dumps({"messages": [{"role": "user", "content": fake.FAIL_MIDSTREAM}]})
        call = lambda: client.invoke_model_with_response_stream(modelId=MODEL, body=body)["body"]  # noqa: E731

    for _ in range(2):
        events = []
        with pytest.raises(EventStreamError) as caught:
            for e in call():
                events.append(e)
        assert caught.value.response["Error"]["Code"] == error_code
        assert events  # the good events before the exception reached the client
    assert len(upstream.requests) == 2
    assert [e.cache for e in logs(runner, proxy, 2)] == ["miss", "miss"]


def guard(client, text, identifier="gr1abc2def3", version="1"):
    content = [{"text": {"text": text}}]
    return client.apply_guardrail(
        guardrailIdentifier=identifier, guardrailVersion=version, source="INPUT", content=content
    )


def test_it_applies_a_guardrail_and_caches_its_assessment(server_credentials, proxy, upstream, runner):
    client = client_for(proxy)
    first, second = guard(client, "Give me stock tips"), guard(client, "Give me stock tips")

    assert (cache_header(first), cache_header(second)) == ("miss", "hit")
    for answer in (first, second):
        assert answer["action"] == "GUARDRAIL_INTERVENED"
        assert answer["outputs"] == [{"text": "Sorry, I cannot help with that."}]
        assert answer["assessments"][0]["topicPolicy"]["topics"][0]["action"] == "BLOCKED"
    assert guard(client, "Say hello")["action"] == "NONE"
    guard(client, "Give me stock tips", version="DRAFT")
    assert [r.path for r in upstream.requests] == [
        "/guardrail/gr1abc2def3/version/1/apply",
        "/guardrail/gr1abc2def3/version/1/apply",
        "/guardrail/gr1abc2def3/version/DRAFT/apply",
    ]
    entries = logs(runner, proxy, 4)
    assert [(e.cache, e.prompt_tokens, e.cost_usd) for e in entries[:2]] == [("miss", None, None), ("hit", None, None)]


def test_it_applies_a_guardrail_named_by_its_arn(server_credentials, proxy, upstream):
    arn = "arn:aws:bedrock:us-east-1:123456789012:guardrail/gr1abc2def3"
    client = client_for(proxy)
    assert [guard(client, "Say hello", identifier=arn)["action"] for _ in range(2)] == ["NONE", "NONE"]
    assert upstream.requests[0].path == (
        "/guardrail/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aguardrail%2Fgr1abc2def3/version/1/apply"
    )
    assert len(upstream.requests) == 1


def test_guardrail_errors_raise_boto3s_own_exceptions(server_credentials, api, runner, proxy, upstream):
    client = client_for(proxy)
    upstream.queue(fake.error_reply(404, "ResourceNotFoundException", "The guardrail was not found."))
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        guard(client, "Say hello")
    assert cache_header(guard(client, "Say hello")) == "miss"  # the error was not cached

    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 1.0}]})
    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        guard(client, "Say hello")
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["x-rubberduck-failure"] == "error"
    assert len(upstream.requests) == 2


# 3. the model in the path


def test_it_keys_on_the_model_in_the_path(server_credentials, proxy, upstream, runner):
    client = client_for(proxy)
    client.converse(modelId=MODEL, messages=MESSAGES)
    other = client.converse(modelId="amazon.nova-lite-v1:0", messages=MESSAGES)
    assert cache_header(other) == "miss" and len(upstream.requests) == 2
    assert upstream.requests[1].path == "/model/amazon.nova-lite-v1%3A0/converse"
    assert [e.model for e in logs(runner, proxy, 2)] == [MODEL, "amazon.nova-lite-v1:0"]


def test_it_treats_a_percent_encoded_model_id_and_a_plain_one_as_the_same(server_credentials, proxy, upstream):
    body = json.dumps({"messages": MESSAGES}).encode()
    encoded = raw_client().post(
        f"{proxy['base_url']}/model/{ENCODED_MODEL}/converse", content=body, headers=sigv4_headers()
    )
    plain = raw_client().post(f"{proxy['base_url']}/model/{MODEL}/converse", content=body, headers=sigv4_headers())
    assert encoded.status_code == plain.status_code == 200, encoded.text
    assert (encoded.headers["x-rubberduck-cache"], plain.headers["x-rubberduck-cache"]) == ("miss", "hit")
    assert plain.json() == encoded.json()
    assert len(upstream.requests) == 1


def test_it_routes_an_inference_profile_arn_and_prices_its_model(server_credentials, proxy, upstream, runner):
    arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{MODEL}"
    answer = client_for(proxy).converse(modelId=arn, messages=MESSAGES)
    assert answer["usage"] == fake.CONVERSE_USAGE
    assert upstream.requests[0].path.startswith("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A")
    entry = logs(runner, proxy, 1)[0]
    assert entry.model == f"us.{MODEL}" and entry.cost_usd > 0


# 4a. SigV4 for the proxy's host: re-signed with the server's own credentials


def test_it_resigns_for_the_upstream_in_the_clients_region(server_credentials, make_proxy):
    bedrock = fake.FakeBedrock(credentials=SERVER_CREDS, region="eu-west-1")
    server = FakeUpstream(bedrock.respond).start()
    try:
        proxy = make_proxy("bedrock", upstream_url=server.url)
        answer = client_for(proxy, region="eu-west-1").converse(modelId=MODEL, messages=MESSAGES)
        assert answer["stopReason"] == "end_turn" and bedrock.verified == ["sigv4"]
        assert "/eu-west-1/bedrock/aws4_request" in server.requests[0].headers["authorization"]
    finally:
        server.stop()


def test_the_fake_rejects_a_wrong_signature(server_credentials, make_proxy):
    """Guards the test above: signed with other credentials, the fake upstream says no, as AWS would."""
    bedrock = fake.FakeBedrock(credentials=Credentials(SERVER_CREDS.access_key, "another-secret"))
    server = FakeUpstream(bedrock.respond).start()
    try:
        proxy = make_proxy("bedrock", upstream_url=server.url)
        with pytest.raises(ClientError) as caught:
            client_for(proxy).converse(modelId=MODEL, messages=MESSAGES)
        assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    finally:
        server.stop()


def test_without_server_credentials_it_refuses_and_says_what_to_do(proxy, upstream, runner):
    credentials_for("everyone")
    runner.reconcile()  # running proxies follow the site settings from the runner's next tick on
    client = client_for(proxy)
    with pytest.raises(client.exceptions.AccessDeniedException) as caught:
        client.converse(modelId=MODEL, messages=MESSAGES)
    message = caught.value.response["Error"]["Message"]
    assert "no AWS credentials" in message and "redirect_to_proxy" in message and "tls: true" in message
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert upstream.requests == []
    assert logs(runner, proxy, 1)[0].status_code == 403


def test_a_cache_hit_needs_no_server_credentials(server_credentials, monkeypatch, proxy, upstream):
    client = client_for(proxy)
    client.converse(modelId=MODEL, messages=MESSAGES)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    answer = client_for(proxy, creds=Credentials("AKIAWHOEVER000000001", "x")).converse(
        modelId=MODEL, messages=MESSAGES
    )
    assert cache_header(answer) == "hit" and len(upstream.requests) == 1


def test_without_an_upstream_url_it_targets_the_region_of_the_signature(server_credentials, settings):
    provider = providers.get("bedrock")
    request = Request("POST", f"/model/{ENCODED_MODEL}/converse", "", sigv4_headers("ap-south-1"), b"{}")
    route = provider.route(request)
    sent = provider.upstream_request("", request, route)
    assert sent.url == f"https://bedrock-runtime.ap-south-1.amazonaws.com/model/{ENCODED_MODEL}/converse"
    authorization = dict(sent.headers)["Authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={SERVER_CREDS.access_key}/")
    assert "/ap-south-1/bedrock/aws4_request" in authorization

    pinned = provider.upstream_request("https://bedrock-runtime.eu-west-3.amazonaws.com", request, route)
    assert pinned.url.startswith("https://bedrock-runtime.eu-west-3.amazonaws.com/model/")
    assert "/eu-west-3/bedrock/aws4_request" in dict(pinned.headers)["Authorization"]

    settings.RUBBERDUCK_BEDROCK_DEFAULT_REGION = "eu-central-1"
    bearer = Request("POST", f"/model/{ENCODED_MODEL}/converse", "", {"authorization": "Bearer ABSK-key"}, b"{}")
    sent = provider.upstream_request("", bearer, route)
    assert sent.url.startswith("https://bedrock-runtime.eu-central-1.amazonaws.com/")
    assert dict(sent.headers)["authorization"] == "Bearer ABSK-key"


def test_only_owners_the_site_settings_name_get_the_servers_credentials(
    server_credentials, user, proxy, upstream, runner
):
    credentials_for("staff")  # the default: the test user is not staff
    runner.reconcile()
    client = client_for(proxy)
    with pytest.raises(client.exceptions.AccessDeniedException) as caught:
        client.converse(modelId=MODEL, messages=MESSAGES)
    message = caught.value.response["Error"]["Message"]
    assert "server_aws_credentials" in message and "redirect_to_proxy" in message and "tls: true" in message
    assert upstream.requests == []

    user.is_staff = True
    user.save()
    proxy_api_edit(proxy, runner)  # a running proxy takes its owner's policy when it (re)starts or is edited
    answer = client.converse(modelId=MODEL, messages=MESSAGES)
    assert answer["stopReason"] == "end_turn" and len(upstream.requests) == 1

    credentials_for("nobody")
    runner.reconcile()
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "not even staff"}]}])
    assert len(upstream.requests) == 1


def proxy_api_edit(proxy, runner):
    from proxies.models import Proxy

    Proxy.objects.get(pk=proxy["id"]).save()  # a new version of its settings, as an edit through the API makes
    runner.reconcile()


def test_it_signs_only_for_bedrocks_own_hosts(server_credentials, proxy, upstream, settings, runner):
    settings.RUBBERDUCK_BEDROCK_SIGNING_HOSTS = []  # the fake on loopback is no longer taken for AWS
    client = client_for(proxy)
    with pytest.raises(client.exceptions.AccessDeniedException) as caught:
        client.converse(modelId=MODEL, messages=MESSAGES)
    assert f"not for 127.0.0.1:{upstream.url.rsplit(':', 1)[1]}" in caught.value.response["Error"]["Message"]
    assert upstream.requests == []
    assert logs(runner, proxy, 1)[0].status_code == 403


@pytest.mark.parametrize(
    "url, signs",
    [
        ("https://bedrock-runtime.us-east-1.amazonaws.com", True),
        ("https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com/model/x/converse", True),
        ("https://bedrock-runtime.cn-north-1.amazonaws.com.cn", True),
        ("https://vpce-0a1b2c-d3e4.bedrock-runtime.eu-west-1.vpce.amazonaws.com", True),
        ("https://BEDROCK-RUNTIME.us-east-1.amazonaws.com.", True),
        ("https://bedrock-runtime.us-east-1.amazonaws.com.evil.example", False),
        ("https://evil-bedrock-runtime.us-east-1.amazonaws.com", False),
        ("https://x.bedrock-runtime.us-east-1.amazonaws.com", False),
        ("https://bedrock.us-east-1.amazonaws.com", False),
        ("http://169.254.169.254/latest", False),
        ("http://127.0.0.1:8000", False),
    ],
)
def test_it_knows_bedrocks_own_hosts(url, signs):
    from providers.bedrock_auth import may_sign_for

    assert may_sign_for(url) is signs
    assert may_sign_for(url, ["gateway.internal"]) is signs
    assert may_sign_for("https://gateway.internal:8443/model", ["gateway.internal"])


# 4b. SigV4 for the real host, the connection redirected to the proxy


def test_the_redirect_helper_forwards_the_clients_own_signature_unchanged(make_proxy, runner):
    bedrock = fake.FakeBedrock(credentials=CLIENT_CREDS)  # checks the *client's* signature, for the real host
    server = FakeUpstream(bedrock.respond).start()
    try:
        proxy = make_proxy("bedrock", upstream_url=server.url)
        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            aws_access_key_id=CLIENT_CREDS.access_key,
            aws_secret_access_key=CLIENT_CREDS.secret_key,
            config=NO_RETRIES,
        )
        redirect_to_proxy(client, proxy["base_url"])
        answer = client.converse(modelId=MODEL, messages=MESSAGES)
        events = list(client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])

        assert answer["usage"] == fake.CONVERSE_USAGE and events[-1]["metadata"]["usage"] == fake.CONVERSE_USAGE
        assert bedrock.verified == ["sigv4", "sigv4"]
        sent = server.requests[0]
        assert sent.headers["host"] == "bedrock-runtime.us-east-1.amazonaws.com"
        assert sent.path == f"/model/{ENCODED_MODEL}/converse"
        assert CLIENT_CREDS.access_key in sent.headers["authorization"]
        assert "x-rubberduck-signed-host" not in sent.headers
        assert cache_header(client.converse(modelId=MODEL, messages=MESSAGES)) == "hit"
    finally:
        server.stop()


def test_it_refuses_a_signed_host_that_is_not_bedrock(proxy, upstream):
    headers = {**sigv4_headers(), "x-rubberduck-signed-host": "internal.example.com"}
    answer = httpx.post(f"{proxy['base_url']}/model/{ENCODED_MODEL}/converse", content=b"{}", headers=headers)
    assert answer.status_code == 400 and "Bedrock Runtime host" in answer.json()["message"]
    assert upstream.requests == []


# 5. errors in Bedrock's own wire format

INJECTED = [
    (400, "ValidationException", True),
    (401, "UnrecognizedClientException", False),
    (403, "AccessDeniedException", True),
    (404, "ResourceNotFoundException", True),
    (408, "ModelTimeoutException", True),
    (413, "ValidationException", True),
    (424, "ModelErrorException", True),
    (429, "ThrottlingException", True),
    (500, "InternalServerException", True),
    (502, "ServiceUnavailableException", True),
    (503, "ServiceUnavailableException", True),
    (504, "ServiceUnavailableException", True),
]


def test_an_injected_error_raises_boto3s_own_exception(api, runner, proxy, upstream):
    """One proxy, every status in turn (a proxy per status would spend its time starting runners)."""
    client = client_for(proxy)
    for status, code, modeled in INJECTED:
        set_failures(api, runner, proxy, {"errors": [{"status": status, "rate": 1.0}]})
        with pytest.raises(ClientError) as caught:
            client.converse(modelId=MODEL, messages=MESSAGES)
        error = caught.value
        if modeled:
            assert type(error) is getattr(client.exceptions, code), status
        assert error.response["Error"]["Code"] == code and error.response["Error"]["Message"], status
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
        headers = error.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-errortype"] == f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        assert error.response["ResponseMetadata"]["RequestId"] == headers["x-amzn-requestid"]
        assert headers["x-rubberduck-failure"] == "error"
    assert upstream.requests == []


def test_a_throttle_advertises_its_retry_after_in_milliseconds():
    answer = providers.get("bedrock").error(429, retry_after=2)
    assert dict(answer.headers)["x-amz-retry-after"] == "2000"
    assert json.loads(answer.body) == {"message": "Too many requests, please wait before trying again."}


def test_an_rpm_limit_throttles_with_boto3s_throttling_exception(api, runner, proxy, server_credentials):
    set_failures(api, runner, proxy, {"rpm_limit": 1})
    client = client_for(proxy)
    client.converse(modelId=MODEL, messages=MESSAGES)
    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        client.converse(modelId="amazon.nova-lite-v1:0", messages=MESSAGES)
    assert "x-amz-retry-after" in caught.value.response["ResponseMetadata"]["HTTPHeaders"]


# 6. unknown paths and methods


def test_a_path_outside_bedrocks_api_answers_its_404(proxy, upstream):
    unknown = httpx.post(f"{proxy['base_url']}/summon/{ENCODED_MODEL}", content=b"{}")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/json"
    assert unknown.headers["x-amzn-errortype"].startswith("UnknownOperationException:")
    assert "message" in unknown.json() and unknown.headers["x-amzn-requestid"]
    assert upstream.requests == []


def test_an_unmodelled_operation_is_signed_again_with_its_body_and_passed_through(
    server_credentials, proxy, upstream, bedrock, runner
):
    body = b'{"the": "whole body, hashed into the signature"}'
    with raw_client() as client:
        unknown = client.post(
            f"{proxy['base_url']}/model/{ENCODED_MODEL}/summon", content=body, headers=sigv4_headers()
        )
        wrong = client.get(f"{proxy['base_url']}/model/{ENCODED_MODEL}/converse", headers=sigv4_headers())
    assert unknown.status_code == wrong.status_code == 404  # the upstream's own answers, relayed
    assert unknown.headers["x-amzn-errortype"].startswith("UnknownOperationException")
    assert bedrock.verified == ["sigv4", "sigv4"]  # the fake checked each signature, the body's hash with it
    assert [(r.method, r.body) for r in upstream.requests] == [("POST", body), ("GET", b"")]
    entries = logs(runner, proxy, 2)
    assert [(e.status_code, e.cache) for e in entries] == [(404, "bypass"), (404, "bypass")]


def test_invalid_json_answers_a_serialization_exception(proxy):
    answer = httpx.post(
        f"{proxy['base_url']}/model/{ENCODED_MODEL}/converse",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400 and answer.headers["x-amzn-errortype"].startswith("SerializationException:")


# 2. the stream inspector


def test_the_inspector_splits_any_chunking_into_whole_messages_and_finds_usage():
    frames = fake.converse_stream_frames()
    data = b"".join(frames)
    provider = providers.get("bedrock")
    for size in (1, 7, 64, len(data)):
        inspector = provider.stream_inspector(Route("converse_stream", stream=True))
        out = [m for i in range(0, len(data), size) for m in inspector.feed(data[i : i + size])]
        assert out == frames
        assert (inspector.usage.input_tokens, inspector.usage.output_tokens) == (12, 6)
        assert not inspector.error


def test_the_inspector_flags_exceptions_and_corrupt_frames():
    provider = providers.get("bedrock")
    inspector = provider.stream_inspector(Route("converse_stream", stream=True))
    inspector.feed(b"".join(fake.converse_stream_frames(failing=True)))
    assert inspector.error

    corrupt = bytearray(b"".join(fake.converse_stream_frames()))
    corrupt[20] ^= 0xFF
    inspector = provider.stream_inspector(Route("converse_stream", stream=True))
    assert b"".join(inspector.feed(bytes(corrupt))) == bytes(corrupt) and inspector.error


def test_invoke_stream_usage_counts_cached_input_inside_input_tokens():
    metrics = {"inputTokenCount": 10, "outputTokenCount": 3, "cacheReadInputTokenCount": 100}
    frame = fake.event(
        "chunk",
        {
            "bytes": base64.b64encode(
                json.dumps({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics}).encode()
            ).decode()
        },
    )
    inspector = providers.get("bedrock").stream_inspector(Route("invoke_model_stream", stream=True))
    inspector.feed(frame)
    assert (inspector.usage.input_tokens, inspector.usage.output_tokens, inspector.usage.cache_read_tokens) == (
        110,
        3,
        100,
    )


def test_stream_chaos_cuts_a_live_and_a_replayed_stream_between_whole_messages(
    server_credentials, api, runner, proxy, upstream
):
    client = client_for(proxy)
    complete = list(client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])  # now cached
    other = [{"role": "user", "content": [{"text": "not cached yet"}]}]
    set_failures(api, runner, proxy, {"stream": {"cut_after_events": 3, "rate": 1.0}})
    for messages in (other, MESSAGES):  # live, then replayed from the cache
        received = []
        with pytest.raises(ProtocolError, match="ended prematurely") as caught:
            for e in client.converse_stream(modelId=MODEL, messages=messages)["stream"]:
                received.append(e)
        assert received == complete[:3], caught.value
    assert len(upstream.requests) == 2
