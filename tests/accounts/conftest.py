import json
import re
import time
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

AUTH = "/_allauth/browser/v1"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_counters():
    """Rate-limit counters (ours and allauth's) live in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


class Browser:
    """The SPA's view of the backend: allauth headless (spa client) and /api/v1, over one session."""

    def __init__(self, client: Client):
        self.client = client

    def call(self, method: str, path: str, body: dict | None = None, **extra):
        url = path if path.startswith("/api/") or path.startswith("/admin") else AUTH + path
        kwargs = {"content_type": "application/json", **extra}
        if body is not None:
            kwargs["data"] = json.dumps(body)
        return getattr(self.client, method.lower())(url, **kwargs)

    def signup(self, email, password="a-Str0ng-passphrase"):
        return self.call("POST", "/auth/signup", {"email": email, "password": password})

    def login(self, email, password="a-Str0ng-passphrase"):
        return self.call("POST", "/auth/login", {"email": email, "password": password})

    def logout(self):
        return self.call("DELETE", "/auth/session")

    def session(self):
        return self.call("GET", "/auth/session")


@pytest.fixture
def spa(db):
    return Browser(Client())


@pytest.fixture
def other_spa(db):
    return Browser(Client())


def link_key(message, route: str) -> str:
    """The key in the SPA link of an email (plain-text part), e.g. route="/account/verify-email/"."""
    match = re.search(rf"http://testserver{re.escape(route)}(\S+)", message.body)
    assert match, message.body
    return unquote(match.group(1))  # the SPA's router hands the component the decoded path segment


def last_mail_to(address: str):
    sent = [m for m in mail.outbox if address in m.to]
    assert sent, [m.to for m in mail.outbox]
    return sent[-1]


class FrozenClock:
    """Stands in for the `time` module inside one library module; `advance` moves it on."""

    def __init__(self, start: float):
        self.now = start

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name):
        return getattr(time, name)  # monotonic(), sleep() etc. stay real


def frozen(monkeypatch, module_path: str, start: float) -> FrozenClock:
    clock = FrozenClock(start)
    monkeypatch.setattr(f"{module_path}.time", clock)
    return clock


def flows(response) -> SimpleNamespace:
    data = response.json()
    return SimpleNamespace(
        authenticated=data.get("meta", {}).get("is_authenticated", False),
        pending=[f["id"] for f in data.get("data", {}).get("flows", []) if f.get("is_pending")],
        data=data,
    )
