"""The proxies part of the REST API, as the contract fixes it."""

import openai
from django.test import Client

from proxies.models import CacheEntry, Proxy
from rubberduck_site.dataplane import build_runner
from tests.conftest import wait_until

FIELDS = {
    "id",
    "name",
    "provider",
    "model_name",
    "port",
    "upstream_url",
    "tls",
    "replay",
    "cache_mode",
    "description",
    "tags",
    "status",
    "last_error",
    "base_url",
    "revision",
    "applied",
    "created_at",
    "updated_at",
}


def create(api, **fields):
    body = {"name": "p", "provider": "openai", "model_name": "gpt-4o-mini", **fields}
    return api.post("/api/v1/proxies/", body, format="json")


def test_it_lists_the_providers(api):
    providers = {p["id"]: p for p in api.get("/api/v1/providers/").json()}
    assert set(providers) == {"openai", "azure_openai", "anthropic", "bedrock", "vertex", "gemini"}
    openai_entry = providers["openai"]
    assert {k: openai_entry[k] for k in ("id", "name", "default_upstream_url")} == {
        "id": "openai",
        "name": "OpenAI",
        "default_upstream_url": "https://api.openai.com/v1",
    }
    assert set(openai_entry) == {"id", "name", "default_upstream_url", "coverage"}


def test_it_lists_what_each_provider_caches_forwards_passes_through_and_refuses(api):
    providers = {p["id"]: p for p in api.get("/api/v1/providers/").json()}
    anthropic = providers["anthropic"]["coverage"]
    assert set(anthropic) == {"cached", "forwarded", "passthrough", "websockets", "refused"}
    assert {"operation": "messages", "method": "POST", "stream": "body", "paths": ["/v1/messages"]} in anthropic[
        "cached"
    ]
    assert "complete" in [c["operation"] for c in anthropic["cached"]]
    assert "batches.create" in [c["operation"] for c in anthropic["forwarded"]]
    assert "batches.create" not in [c["operation"] for c in anthropic["cached"]]
    assert anthropic["passthrough"] == ["/v1/"]
    assert "404" in anthropic["refused"] and "/v1/" in anthropic["refused"]

    vertex = {c["operation"]: c for c in providers["vertex"]["coverage"]["cached"]}
    assert vertex["anthropic.messages.stream"]["paths"] == [
        "/{version}/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:streamRawPredict"
    ]
    assert len(vertex["generateContent"]["paths"]) == 3  # publisher model, deployed endpoint, express mode
    bedrock = {c["operation"] for c in providers["bedrock"]["coverage"]["cached"]}
    assert {"converse", "apply_guardrail"} <= bedrock
    assert providers["gemini"]["coverage"]["passthrough"] == ["/v1beta/", "/v1/", "/v1alpha/", "/upload/", "/ws/"]
    assert providers["openai"]["coverage"]["websockets"] == [{"api": "Realtime", "path": "/v1/realtime"}]
    assert anthropic["websockets"] == []


def test_the_provider_list_needs_a_signed_in_user(db):
    assert Client().get("/api/v1/providers/").status_code in (401, 403)


def test_it_creates_a_proxy_with_the_contracts_fields(api):
    response = create(api, description="dev box", tags=["team-a", "ci"], replay="recorded")
    assert response.status_code == 201
    proxy = response.json()
    assert set(proxy) == FIELDS
    assert proxy["status"] == "starting" and proxy["last_error"] is None
    assert proxy["tags"] == ["team-a", "ci"] and proxy["replay"] == "recorded" and proxy["tls"] is False
    assert proxy["base_url"] == f"http://127.0.0.1:{proxy['port']}/v1"
    assert Proxy.objects.get().desired_state == "running"


def test_it_validates_required_fields_and_the_provider(api):
    response = api.post("/api/v1/proxies/", {"provider": "nope"}, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert {"name", "model_name", "provider"} <= set(errors)
    assert "Unknown provider" in errors["provider"][0]


def test_it_filters_the_list_by_status_provider_and_tag(api, user):
    create(api, name="a", tags=["x"])
    create(api, name="b", tags=["y"])
    Proxy.objects.filter(name="b").update(status="stopped")
    names = lambda query: [p["name"] for p in api.get("/api/v1/proxies/" + query).json()]  # noqa: E731
    assert names("") == ["a", "b"]
    assert names("?tag=x") == ["a"]
    assert names("?status=stopped") == ["b"]
    assert names("?provider=anthropic") == []


def test_it_finds_a_proxy_by_name(api):
    create(api, name="dev")
    create(api, name="dev-2")
    assert [p["name"] for p in api.get("/api/v1/proxies/?name=dev").json()] == ["dev"]
    assert api.get("/api/v1/proxies/?name=nope").json() == []


def test_a_name_is_unique_among_one_owners_proxies(api, other_api):
    first = create(api, name="dev").json()
    second = create(api, name="other").json()

    response = create(api, name="dev")
    assert response.status_code == 400
    assert response.json() == {"name": ["You already have a proxy with this name."]}

    response = api.patch(f"/api/v1/proxies/{second['id']}/", {"name": "dev"}, format="json")
    assert response.status_code == 400 and "name" in response.json()
    assert api.patch(f"/api/v1/proxies/{first['id']}/", {"name": "dev"}, format="json").status_code == 200
    assert create(other_api, name="dev").status_code == 201  # another owner's names do not count


def test_it_updates_and_deletes_a_proxy(api):
    proxy = create(api).json()
    patched = api.patch(f"/api/v1/proxies/{proxy['id']}/", {"description": "new", "tags": ["z"]}, format="json")
    assert patched.status_code == 200 and patched.json()["description"] == "new" and patched.json()["tags"] == ["z"]
    assert api.delete(f"/api/v1/proxies/{proxy['id']}/").status_code == 204
    assert api.get(f"/api/v1/proxies/{proxy['id']}/").status_code == 404


def test_another_users_proxy_answers_404(api, other_api):
    proxy = create(api).json()
    for method, path in [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "start"),
        ("post", "stop"),
        ("delete", "cache"),
        ("get", "failures"),
        ("put", "failures"),
    ]:
        url = f"/api/v1/proxies/{proxy['id']}/{path}"
        assert getattr(other_api, method)(url, {}, format="json").status_code == 404, (method, url)
    assert other_api.get("/api/v1/proxies/").json() == []


def test_it_needs_authentication(db):
    assert Client().get("/api/v1/proxies/").status_code in (401, 403)


def test_clearing_the_cache_deletes_one_proxys_entries_and_the_next_call_misses(api, make_proxy, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    other = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    client = openai.OpenAI(base_url=proxy["base_url"], api_key="sk-x", max_retries=0)
    ask = lambda: client.chat.completions.with_raw_response.create(  # noqa: E731
        model="gpt-4o-mini", messages=[{"role": "user", "content": "cache me"}]
    ).headers["x-rubberduck-cache"]
    openai.OpenAI(base_url=other["base_url"], api_key="sk-x", max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "keep me"}]
    )
    assert [ask(), ask()] == ["miss", "hit"]
    wait_until(lambda: CacheEntry.objects.count() == 2)

    assert api.delete(f"/api/v1/proxies/{proxy['id']}/cache").json() == {"deleted": 1}
    assert ask() == "miss"
    assert CacheEntry.objects.filter(proxy_id=other["id"]).count() == 1


def test_healthz_reports_version_database_and_running_proxies(make_proxy, openai_upstream):
    make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    body = Client().get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["running_proxies"] == 1
    assert body["version"]


def test_a_cached_entry_survives_a_restart_of_the_runner(api, make_proxy, openai_upstream, runner):
    """The database is the durable copy: a new runner (empty memory) still serves the hit."""
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    client = openai.OpenAI(base_url=proxy["base_url"], api_key="sk-x", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "durable"}])
    runner.shutdown("graceful")
    again = build_runner()
    again.start(embedded=True)
    try:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "durable"}]
        )
        assert raw.headers["x-rubberduck-cache"] == "hit"
        assert raw.parse().choices[0].message.content == "Hello from the fake upstream!"
        again.reconcile()  # flushes the hit count to the answer's row
        wait_until(lambda: CacheEntry.objects.get(proxy_id=proxy["id"]).hits == 1)
    finally:
        again.shutdown("force")
    assert len(openai_upstream.requests) == 1
