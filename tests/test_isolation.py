"""Every /api/v1/ route, called by a second user against the first user's objects.

The table below has one row per route pattern (as written in rubberduck_site/urls.py). A route without a row
fails `test_it_has_an_isolation_case_for_every_api_route`, so adding a route means adding its row here (and a
row for a route that is gone fails too). Each case says what the intruder must see:
  Missing -- 404, exactly as for an id that does not exist;
  Absent  -- an answer that contains none of the owner's data (and leaves it in place);
  Shared  -- global by design (same for every user), with none of the owner's data in it.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from accounts.models import ApiToken
from metrics.models import MetricBucket
from tests.factories import CacheEntryFactory, LogEntryFactory, ProxyFactory

MARK_IP = "198.51.100.77"  # in the owner's log entries only
MARK_HASH = "f00d" * 16
MARK_REQUESTS = 987654  # in the owner's metric buckets only


@dataclass
class Missing:
    method: str
    path: str  # formatted with the owner's objects: {proxy}, {token}
    body: dict | None = None


@dataclass
class Absent:
    method: str
    path: str
    markers: list[str] = field(default_factory=list)
    body: dict | None = None


@dataclass
class Shared:
    method: str
    path: str
    markers: list[str] = field(default_factory=lambda: ["{proxy_name}", "{owner_email}"])


RANGE = "since=2000-01-01T00:00:00Z"
ROUTES = {
    "providers/": [Shared("GET", "/api/v1/providers/")],
    "proxies/": [
        Absent("GET", "/api/v1/proxies/", ["{proxy_name}"]),
        Absent("GET", "/api/v1/proxies/?name={proxy_name}", ["{proxy_name}"]),
    ],
    "proxies/<id:pk>/": [
        Missing("GET", "/api/v1/proxies/{proxy}/"),
        Missing("PATCH", "/api/v1/proxies/{proxy}/", {"name": "stolen"}),
        Missing("DELETE", "/api/v1/proxies/{proxy}/"),
    ],
    "proxies/<id:pk>/start": [Missing("POST", "/api/v1/proxies/{proxy}/start")],
    "proxies/<id:pk>/stop": [Missing("POST", "/api/v1/proxies/{proxy}/stop", {"mode": "force"})],
    "proxies/<id:pk>/cache": [Missing("DELETE", "/api/v1/proxies/{proxy}/cache")],
    "proxies/<id:pk>/cache/": [Missing("GET", "/api/v1/proxies/{proxy}/cache/")],
    "proxies/<id:pk>/cache/<str:key>": [Missing("DELETE", "/api/v1/proxies/{proxy}/cache/{cache_key}")],
    "proxies/<id:pk>/cache/export": [Missing("GET", "/api/v1/proxies/{proxy}/cache/export")],
    "proxies/<id:pk>/cache/import": [Missing("POST", "/api/v1/proxies/{proxy}/cache/import", {})],
    "proxies/<id:pk>/failures": [
        Missing("GET", "/api/v1/proxies/{proxy}/failures"),
        Missing("PUT", "/api/v1/proxies/{proxy}/failures", {"rpm_limit": 1}),
    ],
    "proxies/<id:pk>/clone": [Missing("POST", "/api/v1/proxies/{proxy}/clone", {"name": "stolen"})],
    "apply": [Absent("POST", "/api/v1/apply?prune=true", ["{proxy_name}"], {"proxies": []})],
    "logs/": [
        Absent("GET", "/api/v1/logs/", [MARK_IP, MARK_HASH]),
        Absent("GET", "/api/v1/logs/?proxy={proxy}", [MARK_IP, MARK_HASH]),
        Absent("DELETE", f"/api/v1/logs/?{RANGE}"),
        Absent("DELETE", f"/api/v1/logs/?{RANGE}&proxy={{proxy}}"),
    ],
    "logs/export": [
        Absent("GET", "/api/v1/logs/export?format=csv", [MARK_IP, MARK_HASH]),
        Absent("GET", "/api/v1/logs/export?format=json&proxy={proxy}", [MARK_IP, MARK_HASH]),
    ],
    "metrics/": [
        Absent("GET", "/api/v1/metrics/?window=1m", [str(MARK_REQUESTS)]),
        Missing("GET", "/api/v1/metrics/?window=1m&proxy={proxy}"),
    ],
    "tls/ca.pem": [Shared("GET", "/api/v1/tls/ca.pem")],
    "me/": [Absent("GET", "/api/v1/me/", ["{owner_email}"]), Absent("PATCH", "/api/v1/me/", ["{owner_email}"])],
    "tokens/": [Absent("GET", "/api/v1/tokens/", ["{token_prefix}", "{token_name}"])],
    "tokens/<id:pk>/": [Missing("DELETE", "/api/v1/tokens/{token}/")],
    "settings/": [Shared("GET", "/api/v1/settings/")],
}


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def api_routes() -> set[str]:
    """Every route pattern under api/v1/, read from the URL resolver."""
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and str(entry.pattern) == "api/v1/":
            return {str(p.pattern) for p in entry.url_patterns}
    raise AssertionError("no api/v1/ include in the root URLconf")


def test_it_has_an_isolation_case_for_every_api_route():
    missing = api_routes() - set(ROUTES)
    assert not missing, f"add isolation cases to tests/test_isolation.py for: {sorted(missing)}"


@pytest.fixture
def owned(user):
    """The first user's objects, each carrying a marker the intruder must never see."""
    proxy = ProxyFactory(owner=user, name="ada-secret-proxy")
    LogEntryFactory(proxy=proxy, ip=MARK_IP, prompt_hash=MARK_HASH, timestamp=timezone.now() - timedelta(minutes=5))
    cached = CacheEntryFactory(proxy=proxy)
    token, _ = ApiToken.issue(user, "ada-secret-token")
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=2)
    MetricBucket.objects.create(owner=user, proxy=None, window="1m", start=start, requests=MARK_REQUESTS)
    MetricBucket.objects.create(owner=user, proxy=proxy, window="1m", start=start, requests=MARK_REQUESTS)
    return {
        "snapshot": row_snapshot(proxy.pk),
        "proxy": proxy.pk,
        "proxy_name": proxy.name,
        "token": token.pk,
        "token_prefix": token.prefix,
        "token_name": token.name,
        "owner_email": user.email,
        "cache_key": cached.key,
    }


def row_snapshot(pk) -> dict:
    from proxies.models import Proxy

    return Proxy.objects.filter(pk=pk).values().get()


def owner_data_intact(owned) -> None:
    from logs.models import LogEntry
    from proxies.models import CacheEntry, Proxy

    proxy = Proxy.objects.get(pk=owned["proxy"])
    assert row_snapshot(proxy.pk) == owned["snapshot"]  # not renamed, started, stopped or reconfigured
    assert LogEntry.objects.filter(proxy=proxy, ip=MARK_IP).exists()
    assert CacheEntry.objects.filter(proxy=proxy).exists()
    assert ApiToken.objects.filter(pk=owned["token"]).exists()


def call(client, case, values):
    path = case.path.format(**values)
    return getattr(client, case.method.lower())(path, getattr(case, "body", None), format="json")


CASES = [
    pytest.param(route, case, id=f"{case.method} {case.path}") for route, cases in ROUTES.items() for case in cases
]


@pytest.mark.parametrize("route, case", CASES)
def test_a_second_user_cannot_reach_the_first_users_objects(route, case, owned, other_api):
    assert route in api_routes(), f"{route} is not routed: drop its row"

    response = call(other_api, case, owned)

    if isinstance(case, Missing):
        assert response.status_code == 404, response.content
        nonexistent = call(other_api, case, {**owned, "proxy": 10**9, "token": 10**9})
        assert (response.status_code, response.content) == (nonexistent.status_code, nonexistent.content)
    else:
        assert response.status_code < 400, response.content
        body = b"".join(response.streaming_content) if response.streaming else response.content
        for marker in case.markers:
            assert marker.format(**owned).encode() not in body
    owner_data_intact(owned)
