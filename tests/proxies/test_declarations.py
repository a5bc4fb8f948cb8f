"""POST /api/v1/apply: a declaration document makes the owner's proxies so, all or nothing, idempotently."""

import json
from io import StringIO

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.services import user_create_verified
from proxies.models import Proxy
from tests.factories import ProxyFactory


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


FAILURES = {"errors": [{"status": 429, "rate": 0.25}], "rpm_limit": 60}


def declared(name, **fields):
    return {"name": name, "provider": "openai", "model_name": "gpt-4o-mini", **fields}


def apply(api, document, query="", content_type="application/json"):
    body = json.dumps(document) if content_type == "application/json" else yaml.safe_dump(document)
    return api.post(f"/api/v1/apply{query}", body, content_type=content_type)


def applied(api, document, query=""):
    response = apply(api, document, query)
    assert response.status_code == 200, response.content
    return response.json()


def snapshot(owner) -> list[dict]:
    """Every column of every proxy of `owner`: an apply that changes nothing leaves this equal."""
    return list(Proxy.objects.filter(owner=owner).order_by("id").values())


def test_it_creates_the_declared_proxies_with_their_settings(api, user):
    document = {
        "version": 1,
        "proxies": [
            declared("dev", port=23001, tags=["ci"], replay="recorded", failures=FAILURES, description="d"),
            declared("azure", provider="azure_openai", upstream_url="https://x.openai.azure.com", tls=True),
        ],
    }
    assert applied(api, document) == {
        "created": ["dev", "azure"],
        "changed": [],
        "unchanged": [],
        "deleted": [],
        "dry_run": False,
    }
    dev, azure = Proxy.objects.filter(owner=user).order_by("id")
    assert (dev.name, dev.port, dev.tags, dev.replay, dev.description) == ("dev", 23001, ["ci"], "recorded", "d")
    assert dev.failures == api.get(f"/api/v1/proxies/{dev.pk}/failures").json()
    assert dev.failures["errors"] == [{"status": 429, "rate": 0.25}] and dev.failures["rpm_limit"] == 60
    assert dev.desired_state == "running" and dev.status == "starting"
    assert azure.provider == "azure_openai" and azure.tls is True and azure.port  # a free port was given
    assert azure.failures == {} and azure.tags == [] and azure.replay == "instant"


@pytest.mark.parametrize("content_type", ["application/yaml", "text/yaml"])
def test_it_reads_a_yaml_document(api, user, content_type):
    text = """
version: 1
proxies:
  - name: dev
    provider: openai
    model_name: gpt-4o-mini
    tags: [ci, nightly]
    failures:
      errors:
        - {status: 503, rate: 0.5}
"""
    response = api.post("/api/v1/apply", text, content_type=content_type)
    assert response.status_code == 200, response.content
    assert response.json()["created"] == ["dev"]
    proxy = Proxy.objects.get(owner=user)
    assert proxy.tags == ["ci", "nightly"] and proxy.failures["errors"] == [{"status": 503, "rate": 0.5}]


def test_a_yaml_document_that_does_not_parse_answers_400(api, user):
    response = api.post("/api/v1/apply", "proxies: [unclosed", content_type="application/yaml")
    assert response.status_code == 400
    assert "YAML parse error" in response.json()["detail"]
    assert not Proxy.objects.exists()


def test_a_second_identical_apply_changes_no_row_and_says_so(api, user):
    document = {"proxies": [declared("a", failures=FAILURES, tags=["x"]), declared("b", port=23002)]}
    applied(api, document)
    before = snapshot(user)

    assert applied(api, document) == {
        "created": [],
        "changed": [],
        "unchanged": ["a", "b"],
        "deleted": [],
        "dry_run": False,
    }
    assert snapshot(user) == before  # updated_at included


def test_it_changes_what_differs_and_a_left_out_field_takes_its_default(api, user):
    applied(api, {"proxies": [declared("a", description="old", tags=["x"], failures=FAILURES), declared("b")]})
    a_port = Proxy.objects.get(name="a").port
    b_before = Proxy.objects.filter(name="b").values().get()

    outcome = applied(api, {"proxies": [declared("a", model_name="gpt-4o"), declared("b")]})

    assert (outcome["changed"], outcome["unchanged"]) == (["a"], ["b"])
    a = Proxy.objects.get(name="a")
    assert a.model_name == "gpt-4o" and a.description == "" and a.tags == [] and a.failures == {}
    assert a.port == a_port  # a declaration without a port keeps the current one
    assert Proxy.objects.filter(name="b").values().get() == b_before


def test_it_moves_ports_even_between_two_of_the_owners_proxies(api, user):
    applied(api, {"proxies": [declared("a", port=23011), declared("b", port=23012)]})
    outcome = applied(api, {"proxies": [declared("a", port=23012), declared("b", port=23011)]})
    assert outcome["changed"] == ["a", "b"]
    assert {p.name: p.port for p in Proxy.objects.filter(owner=user)} == {"a": 23012, "b": 23011}


def test_prune_deletes_the_owners_proxies_the_document_does_not_name(api, user):
    applied(api, {"proxies": [declared("keep"), declared("drop"), declared("also-drop")]})

    assert applied(api, {"proxies": [declared("keep")]})["deleted"] == []
    assert Proxy.objects.filter(owner=user).count() == 3

    assert applied(api, {"proxies": [declared("keep")]}, "?prune=true")["deleted"] == ["drop", "also-drop"]
    assert list(Proxy.objects.values_list("name", flat=True)) == ["keep"]

    assert applied(api, {"prune": True, "proxies": []})["deleted"] == ["keep"]
    assert not Proxy.objects.exists()


def test_a_dry_run_says_what_it_would_do_and_does_nothing(api, user):
    applied(api, {"proxies": [declared("same"), declared("edit"), declared("gone")]})
    before = snapshot(user)

    outcome = applied(
        api, {"proxies": [declared("same"), declared("edit", tags=["t"]), declared("new")]}, "?prune=1&dry_run=true"
    )

    assert outcome == {
        "created": ["new"],
        "changed": ["edit"],
        "unchanged": ["same"],
        "deleted": ["gone"],
        "dry_run": True,
    }
    assert snapshot(user) == before


def test_a_document_with_errors_answers_every_path_and_changes_nothing(api, user):
    applied(api, {"proxies": [declared("a", port=23021)]})
    before = snapshot(user)
    document = {
        "proxies": [
            declared("a", provider="nope", port=23022),
            declared("fine"),
            declared(
                "c", tags=["ok", "x" * 51], failures={"errors": [{"status": 500, "rate": 2}], "ip_allow": ["bad"]}
            ),
        ]
    }

    response = apply(api, document, "?prune=true")

    assert response.status_code == 400
    paths = [error["path"] for error in response.json()["errors"]]
    assert paths == [
        "proxies[0].provider",
        "proxies[2].tags[1]",
        "proxies[2].failures.errors[0].rate",
        "proxies[2].failures.ip_allow[0]",
    ]
    assert all(error["message"] for error in response.json()["errors"])
    assert "nothing was changed" in response.json()["detail"]
    assert snapshot(user) == before


@pytest.mark.parametrize(
    "document, path, message",
    [
        ({"proxies": [declared("a"), declared("a")]}, "proxies[1].name", "Also declared by proxies[0]"),
        ({"proxies": [declared("a", port=23031), declared("b", port=23031)]}, "proxies[1].port", "proxies[0]"),
        ({"proxies": [declared("a", colour="red")]}, "proxies[0].colour", "Unknown field"),
        ({"proxies": [declared("a", status="stopped")]}, "proxies[0].status", "Unknown field"),
        ({"proxies": [{"name": "a", "model_name": "m"}]}, "proxies[0].provider", "required"),
        ({"proxies": [declared("a", provider="azure_openai")]}, "proxies[0].upstream_url", "upstream URL"),
        ({"proxies": [declared("a", failures={"rpm": 5})]}, "proxies[0].failures.rpm", "Unknown field"),
        ({"proxies": ["a"]}, "proxies[0]", "mapping"),
        ({"proxies": [], "extra": 1}, "extra", "Unknown field"),
        ({"version": 2, "proxies": []}, "version", "version 1"),
        ({"prune": "yes", "proxies": []}, "prune", "true or false"),
        ({"version": 1}, "proxies", "required"),
        ([declared("a")], "", "mapping"),
    ],
)
def test_each_kind_of_mistake_is_named_at_its_path(api, user, document, path, message):
    response = apply(api, document)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert [e["path"] for e in errors] == [path]
    assert message in errors[0]["message"]
    assert not Proxy.objects.exists()


def test_a_port_of_an_undeclared_proxy_of_the_owner_clashes_unless_it_is_pruned(api, user):
    ProxyFactory(owner=user, name="old", port=23041)
    response = apply(api, {"proxies": [declared("new", port=23041)]})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "proxies[0].port", "message": "Port 23041 is also used by your proxy 'old', which is not declared."}
    ]

    outcome = applied(api, {"proxies": [declared("new", port=23041)]}, "?prune=true")
    assert (outcome["created"], outcome["deleted"]) == (["new"], ["old"])
    assert Proxy.objects.get(port=23041).name == "new"


def test_another_users_proxies_are_neither_seen_nor_touched(api, user, other_api, other_user):
    theirs = ProxyFactory(owner=other_user, name="dev", port=23051)
    before = snapshot(other_user)

    outcome = applied(api, {"proxies": [declared("dev")]}, "?prune=true")  # a name taken by another user is fine
    assert (outcome["created"], outcome["deleted"]) == (["dev"], [])
    assert applied(api, {"proxies": []}, "?prune=true")["deleted"] == ["dev"]
    assert snapshot(other_user) == before

    response = apply(api, {"proxies": [declared("mine", port=theirs.port)]})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "proxies[0].port", "message": "This port is already used by another proxy."}
    ]
    assert other_api.get("/api/v1/proxies/").json()[0]["name"] == "dev"


def test_it_needs_authentication(client, db):
    response = client.post("/api/v1/apply", {"proxies": []}, content_type="application/json")
    assert response.status_code in (401, 403)


def write_file(tmp_path, document, name="rubberduck.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document) if name.endswith(".yaml") else json.dumps(document))
    return str(path)


def test_the_apply_command_applies_a_file_for_a_user(user, other_user, tmp_path):
    path = write_file(tmp_path, {"proxies": [declared("dev", port=23061), declared("ci")]})
    out = StringIO()
    call_command("apply", "-f", path, "--user", "ADA@example.com", stdout=out)
    assert "created: dev, ci" in out.getvalue() and "deleted: -" in out.getvalue()
    assert sorted(Proxy.objects.filter(owner=user).values_list("name", flat=True)) == ["ci", "dev"]

    ProxyFactory(owner=user, name="stray", port=23062)
    out = StringIO()
    call_command(
        "apply",
        "-f",
        write_file(tmp_path, {"proxies": [declared("dev", port=23061)]}, "a.json"),
        "--user",
        user.email,
        "--prune",
        stdout=out,
    )
    assert "unchanged: dev" in out.getvalue() and "deleted: ci, stray" in out.getvalue()
    assert not Proxy.objects.filter(owner=other_user).exists()


def test_the_apply_command_prints_every_error_and_changes_nothing(user, tmp_path):
    path = write_file(tmp_path, {"proxies": [declared("a", provider="nope"), declared("b", port=0)]})
    err = StringIO()
    with pytest.raises(CommandError, match="2 error"):
        call_command("apply", "-f", path, "--user", user.email, stderr=err)
    assert "proxies[0].provider: Unknown provider" in err.getvalue()
    assert "proxies[1].port:" in err.getvalue()
    assert not Proxy.objects.exists()

    err = StringIO()
    with pytest.raises(CommandError):
        call_command("apply", "-f", str(tmp_path / "missing.yaml"), "--user", user.email, stderr=err)
    assert "(document): Cannot read" in err.getvalue()


def test_without_a_user_the_command_applies_for_the_only_admin_or_else_the_only_user(db, tmp_path):
    path = write_file(tmp_path, {"proxies": [declared("dev")]})
    with pytest.raises(CommandError, match="--user"):
        call_command("apply", "-f", path, stdout=StringIO())  # nobody yet

    ada = user_create_verified(email="ada@example.com", password="x")
    call_command("apply", "-f", path, stdout=StringIO())
    assert Proxy.objects.get().owner == ada

    user_create_verified(email="bob@example.com", password="x")
    with pytest.raises(CommandError, match="--user"):
        call_command("apply", "-f", path, stdout=StringIO())  # two users, no admin

    root = get_user_model().objects.create_superuser(username="root", email="root@example.com", password="x")
    call_command("apply", "-f", path, "--dry-run", stdout=StringIO())
    call_command("apply", "-f", path, stdout=StringIO())
    assert Proxy.objects.get(owner=root).name == "dev"
