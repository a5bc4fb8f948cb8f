"""POST /api/v1/proxies/{id}/clone: a running copy with a new name and a free port."""

import pytest

from proxies.models import Proxy

FAILURES = {"errors": [{"status": 500, "rate": 0.5}], "seed": 7}


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def source(api):
    body = {
        "name": "dev",
        "provider": "azure_openai",
        "model_name": "gpt-4o",
        "upstream_url": "https://x.openai.azure.com",
        "tls": True,
        "replay": "recorded",
        "description": "the dev box",
        "tags": ["team-a"],
    }
    proxy = api.post("/api/v1/proxies/", body, format="json").json()
    assert api.put(f"/api/v1/proxies/{proxy['id']}/failures", FAILURES, format="json").status_code == 200
    assert api.post(f"/api/v1/proxies/{proxy['id']}/stop", {"mode": "force"}, format="json").status_code == 200
    return proxy


SETTINGS = ("provider", "model_name", "upstream_url", "tls", "replay", "description", "tags", "failures")


def test_it_copies_every_setting_under_a_new_name_and_a_free_port(api, source):
    response = api.post(f"/api/v1/proxies/{source['id']}/clone")
    assert response.status_code == 201, response.content
    clone = response.json()
    assert clone["name"] == "dev-copy" and clone["id"] != source["id"]
    original, copy = Proxy.objects.get(pk=source["id"]), Proxy.objects.get(pk=clone["id"])
    assert {f: getattr(copy, f) for f in SETTINGS} == {f: getattr(original, f) for f in SETTINGS}
    assert copy.port != original.port
    assert copy.desired_state == "running" and original.desired_state == "stopped"


def test_each_clone_gets_the_next_free_name(api, source):
    names = [api.post(f"/api/v1/proxies/{source['id']}/clone").json()["name"] for _ in range(3)]
    assert names == ["dev-copy", "dev-copy-2", "dev-copy-3"]


def test_it_takes_the_name_it_is_given_if_it_is_free(api, source):
    response = api.post(f"/api/v1/proxies/{source['id']}/clone", {"name": "staging"}, format="json")
    assert response.status_code == 201 and response.json()["name"] == "staging"

    response = api.post(f"/api/v1/proxies/{source['id']}/clone", {"name": "dev"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"name": ["You already have a proxy with this name."]}
    assert Proxy.objects.count() == 2


def test_another_users_proxy_cannot_be_cloned(other_api, source):
    assert other_api.post(f"/api/v1/proxies/{source['id']}/clone").status_code == 404
    assert Proxy.objects.count() == 1
