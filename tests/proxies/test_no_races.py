"""No races for scripts: a write answers once the running proxy has applied it, so the very next SDK call sees it,
whether the proxy runs in this process (the embedded runner) or in a separate `runproxies` process.

The suite makes short runs; the long run by hand sets the cycles of every test:
RUBBERDUCK_RACE_CYCLES=1000 python -m pytest -s tests/proxies/test_no_races.py
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import openai
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from proxies.models import Proxy
from tests.conftest import wait_until
from tests.fakes import openai as fake_openai
from tests.fakes.server import FakeUpstream

FAIL = {"errors": [{"status": 500, "rate": 1.0}]}
# Cycles per test: (embedded runner, runproxies); RUBBERDUCK_RACE_CYCLES sets them all.
CYCLES = {"failures": (50, 30), "other": (10, 5)}


@dataclass
class Served:
    kind: str  # "embedded" or "runproxies"

    def cycles(self, test: str) -> int:
        embedded, separate = CYCLES[test]
        return int(os.environ.get("RUBBERDUCK_RACE_CYCLES") or (embedded if self.kind == "embedded" else separate))


@pytest.fixture(params=["embedded", "runproxies"])
def served(request, transactional_db):
    """Who runs the proxies: the runner embedded in this process, or a `runproxies` process on the same database
    (none in this process then: the API can only watch the rows)."""
    if request.param == "embedded":
        request.getfixturevalue("runner")
        yield Served("embedded")
        return
    # A process per test: one kept across tests would outlive each test's data (its users too).
    with RunProxies():
        yield Served("runproxies")


class RunProxies:
    """A `manage.py runproxies` process on the test database, started and stopped cleanly."""

    def __enter__(self):
        db_path = django_settings.DATABASES["default"]["NAME"]
        self.log_path = Path(db_path).with_suffix(".runproxies.log")
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "RUBBERDUCK_GRACEFUL_STOP_SECONDS": "5"}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runproxies"],
                env=env,
                cwd=django_settings.BASE_DIR,
                stdout=log,
                stderr=log,
            )
        # Under load its imports alone can take several seconds.
        wait_until(lambda: "started" in self.log_path.read_text() or self.process.poll() is not None, timeout=60)
        assert self.process.poll() is None, self.log_path.read_text()
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)
        output = self.log_path.read_text()
        self.log_path.unlink()
        print(output)  # shown when the test fails
        assert self.process.returncode == 0, output
        assert "Traceback" not in output, output


@pytest.fixture
def other_upstream():
    upstream = FakeUpstream(fake_openai.respond).start()
    yield upstream
    upstream.stop()


@pytest.fixture
def proxy(api, served, openai_upstream) -> dict:
    """A proxy that serves: created, then started (a start answers once it runs)."""
    body = {"name": "racy", "provider": "openai", "model_name": "m", "upstream_url": openai_upstream.url + "/v1"}
    created = api.post("/api/v1/proxies/", body, format="json")
    assert created.status_code == 201, created.content
    started = api.post(f"/api/v1/proxies/{created.json()['id']}/start")
    assert started.status_code == 200, started.content
    assert started.json()["status"] == "running" and started.json()["applied"]
    return started.json()


def sdk(proxy: dict) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy["base_url"], api_key="sk-x", max_retries=0, timeout=10)


def ask(client: openai.OpenAI, content: str | None = None):
    """One chat completion (a new question each time unless `content` is given), with its raw response."""
    return client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": content or f"race {time.time_ns()}"}]
    )


def test_it_fails_the_very_next_call_once_failures_are_put_and_serves_it_once_they_are_reset(api, served, proxy):
    client, url = sdk(proxy), f"/api/v1/proxies/{proxy['id']}/failures"
    for cycle in range(served.cycles("failures")):
        put = api.put(url, FAIL, format="json")
        assert (put.status_code, put.json()) == (200, FAIL), cycle
        with pytest.raises(openai.InternalServerError):
            ask(client)
        reset = api.put(url, {}, format="json")
        assert (reset.status_code, reset.json()) == (200, {}), cycle
        assert ask(client).status_code == 200, cycle


def test_it_sends_the_very_next_call_to_the_upstream_a_patch_names(api, served, proxy, openai_upstream, other_upstream):
    client, url = sdk(proxy), f"/api/v1/proxies/{proxy['id']}/"
    for cycle in range(served.cycles("other")):
        for upstream, idle in ((other_upstream, openai_upstream), (openai_upstream, other_upstream)):
            asked, not_asked = len(upstream.requests), len(idle.requests)
            patched = api.patch(url, {"upstream_url": upstream.url + "/v1"}, format="json")
            assert patched.status_code == 200, (cycle, patched.content)
            assert ask(client).status_code == 200
            assert (len(upstream.requests), len(idle.requests)) == (asked + 1, not_asked), cycle
            assert patched.json()["applied"], cycle


def test_it_answers_the_very_next_call_from_the_upstream_once_the_cache_is_cleared(api, served, proxy):
    client, question = sdk(proxy), "the same question every time"
    ask(client, question)
    for cycle in range(served.cycles("other")):
        assert ask(client, question).headers["x-rubberduck-cache"] == "hit", cycle
        cleared = api.delete(f"/api/v1/proxies/{proxy['id']}/cache")
        assert cleared.status_code == 200 and "deleted" in cleared.json(), (cycle, cleared.content)
        assert ask(client, question).headers["x-rubberduck-cache"] == "miss", cycle


def test_it_refuses_the_very_next_connection_once_stopped_and_serves_it_once_started(api, served, proxy):
    client, url = sdk(proxy), f"/api/v1/proxies/{proxy['id']}"
    for cycle in range(served.cycles("other")):
        stopped = api.post(f"{url}/stop", {}, format="json")
        assert stopped.status_code == 200 and stopped.json()["status"] == "stopped", (cycle, stopped.content)
        with pytest.raises(openai.APIConnectionError):
            ask(client)
        started = api.post(f"{url}/start")
        assert started.status_code == 200 and started.json()["status"] == "running", (cycle, started.content)
        assert ask(client).status_code == 200, cycle


# When the runner does not apply in time: 202 and where to poll.


def held_by_a_stuck_runner(api, settings) -> dict:
    """A running proxy whose runner holds it but acts on nothing any more (no runner runs in this test)."""
    settings.RUBBERDUCK_APPLY_WAIT_SECONDS = 0.1
    proxy = api.post("/api/v1/proxies/", {"name": "stuck", "provider": "openai", "model_name": "m"}, format="json")
    Proxy.objects.filter(pk=proxy.json()["id"]).update(
        runner_id="elsewhere:1:stuck", lease_expires_at=timezone.now() + timedelta(hours=1), status="running"
    )
    return proxy.json()


def test_it_answers_202_pending_with_a_location_until_the_runner_applies_the_write(api, transactional_db, settings):
    proxy = held_by_a_stuck_runner(api, settings)
    put = api.put(f"/api/v1/proxies/{proxy['id']}/failures", FAIL, format="json")
    assert put.status_code == 202
    assert put.json() == {
        "status": "pending",
        "detail": "Saved, but the proxy does not serve it yet. GET the Location until it answers 200.",
        "revision": 2,
        "applied_revision": 0,
    }
    location = put.headers["Location"]
    assert location == f"http://testserver/api/v1/proxies/{proxy['id']}/failures?revision=2"
    assert api.get(location).status_code == 202
    assert api.get(f"/api/v1/proxies/{proxy['id']}/").json()["applied"] is False

    Proxy.objects.filter(pk=proxy["id"]).update(applied_revision=2)  # as the runner acknowledges what it applied
    assert (api.get(location).status_code, api.get(location).json()) == (200, FAIL)
    assert api.get(f"/api/v1/proxies/{proxy['id']}/").json()["applied"] is True


def test_it_points_each_pending_write_at_a_location_that_answers_as_the_write_would(api, transactional_db, settings):
    proxy = held_by_a_stuck_runner(api, settings)
    base = f"http://testserver/api/v1/proxies/{proxy['id']}"
    writes = {
        "patch": (api.patch(f"{base}/", {"description": "d"}, format="json"), f"{base}/"),
        "stop": (api.post(f"{base}/stop", {}, format="json"), f"{base}/"),
        "start": (api.post(f"{base}/start"), f"{base}/"),
        "cache": (api.delete(f"{base}/cache"), f"{base}/cache"),
    }
    for revision, (name, (answer, where)) in enumerate(writes.items(), start=2):
        assert answer.status_code == 202, name
        extra = "&deleted=0" if name == "cache" else ""
        assert answer.headers["Location"] == f"{where}?revision={revision}{extra}", name
        assert api.get(answer.headers["Location"]).status_code == 202, name

    Proxy.objects.filter(pk=proxy["id"]).update(applied_revision=5)
    assert api.get(f"{base}/?revision=2").status_code == 202  # still starting: the runner has not said running
    Proxy.objects.filter(pk=proxy["id"]).update(status="running")
    assert api.get(f"{base}/?revision=2").json()["description"] == "d"
    assert api.get(f"{base}/cache?revision=5&deleted=0").json() == {"deleted": 0}


def test_it_answers_an_edit_at_once_when_no_runner_holds_the_proxy(api, transactional_db, settings):
    """Nothing serves it: the runner that takes it reads it whole."""
    settings.RUBBERDUCK_APPLY_WAIT_SECONDS = 30
    proxy = api.post("/api/v1/proxies/", {"name": "p", "provider": "openai", "model_name": "m"}, format="json").json()
    assert api.put(f"/api/v1/proxies/{proxy['id']}/failures", FAIL, format="json").status_code == 200
    assert api.patch(f"/api/v1/proxies/{proxy['id']}/", {"tags": ["x"]}, format="json").status_code == 200
    assert api.delete(f"/api/v1/proxies/{proxy['id']}/cache").status_code == 200
    stopped = api.post(f"/api/v1/proxies/{proxy['id']}/stop", {}, format="json")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"


def test_it_answers_a_start_that_no_runner_takes_with_202_never_with_starting(api, transactional_db, settings):
    settings.RUBBERDUCK_APPLY_WAIT_SECONDS = 0.1
    proxy = api.post("/api/v1/proxies/", {"name": "p", "provider": "openai", "model_name": "m"}, format="json").json()
    started = api.post(f"/api/v1/proxies/{proxy['id']}/start")
    assert started.status_code == 202
    assert api.get(started.headers["Location"]).status_code == 202


def test_it_refuses_a_poll_with_a_revision_that_is_no_number(api, transactional_db):
    proxy = api.post("/api/v1/proxies/", {"name": "p", "provider": "openai", "model_name": "m"}, format="json").json()
    assert api.get(f"/api/v1/proxies/{proxy['id']}/?revision=x").json() == {"revision": ["A whole number is required."]}
    assert api.get(f"/api/v1/proxies/{proxy['id']}/cache").status_code == 400
