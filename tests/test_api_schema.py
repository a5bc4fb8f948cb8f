"""The API describes itself: /api/schema/ (OpenAPI 3) covers every route and its answers as they really are,
and /api/docs/ (Swagger UI) loads from this server alone."""

import json
import re
from html.parser import HTMLParser

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema

from proxies.models import Proxy
from tests.factories import LogEntryFactory

API_PREFIX = "/api/v1/"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def api_routes(patterns=None, prefix="/"):
    """(OpenAPI path, view class) of every URL pattern under /api/v1/, walked from the root URLconf."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from api_routes(p.url_patterns, route)
        elif isinstance(p, URLPattern) and route.startswith(API_PREFIX):
            # `<int:pk>` -> `{id}`, as drf-spectacular names path parameters
            yield (
                re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{id}" if m[1] == "pk" else f"{{{m[1]}}}", route),
                p.callback.cls,
            )


def test_it_serves_a_valid_openapi_3_schema_to_anyone(schema):
    validate_schema(schema)  # raises on any departure from the OpenAPI 3.0 JSON schema
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["version"] == settings.VERSION
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }


def test_it_generates_the_schema_without_a_warning(db, tmp_path):
    # drf-spectacular warns about every view it has to guess at (then it documents a free-form answer)
    GENERATOR_STATS.reset()  # its count is per process, not per run
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_it_serves_the_schema_as_yaml_or_json_and_ignores_a_stale_token(schema):
    client = Client()
    as_yaml = client.get("/api/schema/")
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(as_yaml.content) == schema
    assert client.get("/api/schema/?format=json").json() == schema
    assert client.get("/api/schema/", HTTP_AUTHORIZATION="Token rd_revoked").status_code == 200


def test_it_documents_every_api_route_and_every_method_it_answers(schema):
    routes = list(api_routes())
    assert len(routes) >= 15  # the walk found the API
    for path, view in routes:
        assert path in schema["paths"], f"{path} is not in the schema"
        answered = {m for m in METHODS if hasattr(view, m)}
        assert set(schema["paths"][path]) - {"parameters"} == answered, path
    assert set(schema["paths"]) == {path for path, _ in routes}  # and nothing that is not a route


def test_it_documents_the_answers_and_errors_of_every_operation(schema):
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            responses = op["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, where
            assert all(code == "204" or "content" in responses[code] for code in success), where
            assert "401" in responses, where
            if "{" in path:
                assert "404" in responses, where
            if "requestBody" in op:
                assert "400" in responses, where
            if method != "get":
                assert "403" in responses, where  # a session write without its CSRF token
            errors = [responses[code] for code in responses if code[0] in "45"]
            assert all("content" in e and e["description"] for e in errors), where


def properties(schema, name) -> set[str]:
    return set(schema["components"]["schemas"][name]["properties"])


def test_it_describes_each_answer_with_exactly_its_fields(schema, api):
    proxy = api.post("/api/v1/proxies/", {"name": "p", "provider": "openai", "model_name": "m"}, format="json")
    proxy_id = proxy.json()["id"]
    Proxy.objects.filter(pk=proxy_id).update(desired_state="stopped", status="stopped")
    LogEntryFactory(proxy=Proxy.objects.get(pk=proxy_id))
    failures = {"timeout": {"mode": "delay", "seconds": 1.0, "rate": 0.5}, "errors": [{"status": 429, "rate": 0.5}],
                "ip_allow": ["127.0.0.1"], "ip_block": [], "rpm_limit": 60,
                "stream": {"cut_after_events": 2, "chunk_delay_ms": 1.0, "rate": 1.0}, "seed": 1}  # fmt: skip
    assert api.put(f"/api/v1/proxies/{proxy_id}/failures", failures, format="json").status_code == 200
    token = api.post("/api/v1/tokens/", {"name": "ci"}, format="json").json()
    export = api.get("/api/v1/logs/export", {"format": "json"})
    page = api.get("/api/v1/logs/").json()

    answers = {
        "Proxy": [proxy.json(), *api.get("/api/v1/proxies/").json()],
        "ApplyOutcome": [api.post("/api/v1/apply", {"proxies": []}, format="json").json()],
        "Provider": api.get("/api/v1/providers/").json(),
        "Coverage": [p["coverage"] for p in api.get("/api/v1/providers/").json()],
        "Operation": [op for p in api.get("/api/v1/providers/").json() for op in p["coverage"]["cached"]],
        "FailureConfig": [api.get(f"/api/v1/proxies/{proxy_id}/failures").json()],
        "Timeout": [api.get(f"/api/v1/proxies/{proxy_id}/failures").json()["timeout"]],
        "Stream": [api.get(f"/api/v1/proxies/{proxy_id}/failures").json()["stream"]],
        "LogPage": [page],
        "LogEntry": [*page["results"], *json.loads(b"".join(export.streaming_content))],
        "MetricBucket": api.get("/api/v1/metrics/").json(),
        "Me": [api.get("/api/v1/me/").json()],
        "TokenCreated": [token],
        "Token": api.get("/api/v1/tokens/").json(),
        "SiteSettings": [api.get("/api/v1/settings/").json()],
        "Deleted": [api.delete(f"/api/v1/proxies/{proxy_id}/cache").json()],
    }
    Proxy.objects.filter(pk=proxy_id).update(runner_id="elsewhere")  # held by a runner yet to apply revision 99
    answers["Pending"] = [api.get(f"/api/v1/proxies/{proxy_id}/?revision=99").json()]
    for name, examples in answers.items():
        assert examples, name
        for example in examples:
            assert set(example) == properties(schema, name), name


def test_it_describes_the_error_answers_as_they_are(schema, api):
    error = properties(schema, "ApiError")
    assert set(Client().get("/api/v1/proxies/").json()) == error  # 401
    assert set(api.get("/api/v1/proxies/999999/").json()) == error  # 404
    assert set(api.post("/api/v1/proxies/", "{", content_type="application/json").json()) == error  # 400, not JSON
    declaration_errors = api.post("/api/v1/apply", {"proxies": [{"name": 1}]}, format="json").json()
    assert set(declaration_errors) == properties(schema, "DeclarationErrors")
    assert all(set(e) == properties(schema, "DeclarationError") for e in declaration_errors["errors"])
    field_errors = api.post("/api/v1/proxies/", {"provider": "nope"}, format="json").json()  # 400, per field
    assert field_errors and all(
        isinstance(m, list) and all(isinstance(s, str) for s in m) for m in field_errors.values()
    )
    assert schema["components"]["schemas"]["BadRequest"]["oneOf"] == [
        {"$ref": "#/components/schemas/FieldErrors"},
        {"$ref": "#/components/schemas/ApiError"},
    ]


class Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def docs_assets(html: str) -> list[str]:
    """The scripts, style sheets and icon the docs page loads."""
    parser = Assets()
    parser.feed(html)
    return parser.urls


def test_it_serves_the_docs_page_with_every_asset_from_this_server(db):
    client = Client()  # no login: the docs are public, the data behind them is not
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    urls = docs_assets(html)
    assert any(u.endswith(".js") for u in urls) and any(u.endswith(".css") for u in urls)
    init = [u for u in urls if not u.startswith("/static/")]
    assert init == ["/api/docs/?script="]  # its own init script, not an inline one (the page's CSP allows none)
    assert 'url: "/api/schema/"' in client.get(init[0]).content.decode()
    for url in urls:
        if url in init:
            continue
        assert url.startswith("/static/"), f"{url} is not served by us"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content), url
