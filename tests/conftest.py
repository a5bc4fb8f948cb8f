import asyncio
import itertools
import os
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.factories import UserFactory
from tests.fakes import openai as fake_openai
from tests.fakes.server import FakeUpstream

# `pytester` runs pytest on a test file of its own (the client's plugin tests); only a top-level conftest may say so.
pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _own_port_range(settings):
    """Each test run auto-assigns proxy ports from its own window, so parallel runs never collide."""
    low = 20000 + (os.getpid() % 400) * 100
    settings.RUBBERDUCK_PORT_RANGE = (low, low + 99)


@pytest.fixture(autouse=True)
def _loopback_upstreams(settings, monkeypatch):
    """The fake upstreams run on loopback, where proxies of ordinary users may not forward (proxies/addresses.py)
    and the server never signs for AWS (providers/bedrock_auth.py): here they stand in for the internet and AWS,
    in this process and in the servers tests start (the environment). Tests of those guards turn this off."""
    settings.RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS = True
    settings.RUBBERDUCK_BEDROCK_SIGNING_HOSTS = ["127.0.0.1"]
    monkeypatch.setenv("RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS", "1")
    monkeypatch.setenv("RUBBERDUCK_BEDROCK_SIGNING_HOSTS", "127.0.0.1")


@pytest.fixture
def user(db):
    return UserFactory(email="ada@example.com")


@pytest.fixture
def other_user(db):
    return UserFactory(email="bob@example.com")


def token_client(user) -> APIClient:
    _, key = ApiToken.issue(user, "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(user):
    return token_client(user)


@pytest.fixture
def other_api(other_user):
    return token_client(other_user)


@pytest.fixture
def runner(transactional_db, settings):
    """A real runner, embedded in the test process, as `make run` embeds it."""
    from rubberduck_site.dataplane import build_runner

    settings.RUBBERDUCK_GRACEFUL_STOP_SECONDS = 5
    runner = build_runner()
    runner.start(embedded=True)
    yield runner
    runner.shutdown("force")


@pytest.fixture
def openai_upstream():
    upstream = FakeUpstream(fake_openai.respond).start()
    yield upstream
    upstream.stop()


@pytest.fixture
def make_proxy(api, runner):
    """Creates a proxy through the API and waits until the runner serves it."""

    made = itertools.count(1)

    def make(provider="openai", upstream_url="", client=None, **fields):
        body = {
            "name": f"{provider}-test-{next(made)}",  # names are unique per owner
            "provider": provider,
            "model_name": "test-model",
            "upstream_url": upstream_url,
            **fields,
        }
        response = (client or api).post("/api/v1/proxies/", body, format="json")
        assert response.status_code == 201, response.content
        proxy = response.json()
        wait_until(lambda: (client or api).get(f"/api/v1/proxies/{proxy['id']}/").json()["status"] != "starting")
        return (client or api).get(f"/api/v1/proxies/{proxy['id']}/").json()

    return make


def wait_until(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def flushed_logs(runner, proxy_id=None):
    """All log entries once the runner's writer has flushed what is queued."""
    from logs.models import LogEntry

    runner.writer.flush()
    entries = LogEntry.objects.order_by("id")
    return list(entries.filter(proxy_id=proxy_id) if proxy_id else entries)


def set_failures(api, runner, proxy, config):
    """PUTs a failure config through the API and applies it to the running proxy now, not on the next poll."""
    response = api.put(f"/api/v1/proxies/{proxy['id']}/failures", config, format="json")
    assert response.status_code == 200, response.content
    runner.reconcile()


def run_async(coroutine):
    """Runs `coroutine` on a fresh event loop in its own thread: playwright's sync API (browser tests in the
    same session) leaves a loop running on the main thread, where asyncio.run() refuses to start."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def require_service(name: str, host: str, port: int):
    """Skips when a service is unreachable; in CI (RUBBERDUCK_REQUIRE_SERVICES=1) fails instead."""
    import socket

    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        message = f"{name} is not reachable on {host}:{port}"
        if os.environ.get("RUBBERDUCK_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (RUBBERDUCK_REQUIRE_SERVICES=1)")
        pytest.skip(message)


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop running on the main thread for the rest of
    the session, which would break `asyncio.run()` in any test after it."""
    browser_dir = Path(__file__).parent / "browser"
    for item in items:
        if browser_dir in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_sessionfinish(session, exitstatus):
    """Django deletes the test database file but not SQLite's -wal/-shm files beside it."""
    from django.conf import settings

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if name and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        for suffix in ("-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
