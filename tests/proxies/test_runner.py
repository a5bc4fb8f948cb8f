"""The runner: start/stop (graceful and force), port conflicts and changes, auto-start after a restart."""

import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest
from django.conf import settings as django_settings

from proxies import cache
from proxies.models import CacheEntry, Proxy
from rubberduck_site.dataplane import build_runner
from tests.conftest import flushed_logs, wait_until
from tests.fakes.server import Reply


def chat(proxy, timeout=10.0):
    client = openai.OpenAI(base_url=proxy["base_url"], api_key="sk-x", max_retries=0, timeout=timeout)
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": str(time.time())}])


def status_of(api, proxy):
    return api.get(f"/api/v1/proxies/{proxy['id']}/").json()


def test_start_and_stop_through_the_api(api, make_proxy, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    assert proxy["status"] == "running"
    assert chat(proxy).choices[0].message.content

    stopped = api.post(f"/api/v1/proxies/{proxy['id']}/stop", {}, format="json").json()
    assert stopped["status"] == "stopped"
    with pytest.raises(openai.APIConnectionError):
        chat(proxy)

    started = api.post(f"/api/v1/proxies/{proxy['id']}/start").json()
    assert started["status"] == "running"
    assert chat(proxy).choices[0].message.content


def test_graceful_stop_lets_an_in_flight_request_finish(api, make_proxy, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    openai_upstream.queue(
        Reply(
            200,
            [("content-type", "application/json")],
            b'{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]}',
            delay=1.0,
        )
    )
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", chat(proxy)))
    thread.start()
    time.sleep(0.3)
    api.post(f"/api/v1/proxies/{proxy['id']}/stop", {"mode": "graceful"}, format="json")
    thread.join(5)
    assert result["r"].id == "x"
    wait_until(lambda: status_of(api, proxy)["status"] == "stopped")


def test_force_stop_cuts_an_in_flight_request(api, make_proxy, openai_upstream, runner):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    openai_upstream.queue(Reply(200, [("content-type", "application/json")], b"{}", delay=3.0))
    errors = []

    def call():
        try:
            chat(proxy)
        except Exception as e:
            errors.append(e)

    thread = threading.Thread(target=call)
    thread.start()
    wait_until(lambda: openai_upstream.requests)  # in flight: the proxy forwarded it and waits for the answer
    started = time.monotonic()
    api.post(f"/api/v1/proxies/{proxy['id']}/stop", {"mode": "force"}, format="json")
    thread.join(5)
    assert time.monotonic() - started < 2.0
    assert errors and isinstance(errors[0], openai.APIConnectionError)
    wait_until(lambda: status_of(api, proxy)["status"] == "stopped")
    assert [e.status_code for e in flushed_logs(runner, proxy["id"])] == [499]


def test_a_port_held_by_another_program_puts_the_proxy_in_error(api, make_proxy):
    with socket.socket() as holder:
        holder.bind((django_settings.RUBBERDUCK_PROXY_HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        proxy = make_proxy("openai", port=port)
        assert proxy["status"] == "error"
        assert f"Port {port}" in proxy["last_error"] and "not available" in proxy["last_error"]


def test_changing_the_port_restarts_the_proxy_on_the_new_port(api, make_proxy, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        new_port = probe.getsockname()[1]
    api.patch(f"/api/v1/proxies/{proxy['id']}/", {"port": new_port}, format="json")
    moved = wait_until(lambda: (p := status_of(api, proxy))["status"] == "running" and p["port"] == new_port and p)
    assert chat(moved).choices
    with pytest.raises(openai.APIConnectionError):
        chat(proxy)


def test_running_proxies_start_again_after_a_restart(api, make_proxy, openai_upstream, runner):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    runner.shutdown("graceful")
    assert Proxy.objects.get(pk=proxy["id"]).desired_state == "running"
    again = build_runner()
    again.start(embedded=True)
    try:
        assert status_of(api, proxy)["status"] == "running"
        assert chat(proxy).choices
    finally:
        again.shutdown("force")


def test_reconcile_is_idempotent(make_proxy, runner, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    server = runner.running[proxy["id"]].server
    runner.reconcile()
    runner.reconcile()
    assert runner.running[proxy["id"]].server is server and len(runner.running) == 1


def test_a_separate_runproxies_process_follows_the_api_within_a_second(api, transactional_db, openai_upstream):
    """No runner in this process: a headless `runproxies` serves, stops on API request, flushes on SIGTERM."""
    db_path = django_settings.DATABASES["default"]["NAME"]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "RUBBERDUCK_RECONCILE_SECONDS": "0.3"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runproxies"],
        env=env,
        cwd=django_settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    for line in iter(process.stdout.readline, b""):  # its imports alone can take seconds under load
        if b"started" in line:
            break
    try:
        body = {
            "name": "headless",
            "provider": "openai",
            "model_name": "m",
            "upstream_url": openai_upstream.url + "/v1",
        }
        proxy = api.post("/api/v1/proxies/", body, format="json").json()
        proxy = wait_until(lambda: (p := status_of(api, proxy))["status"] == "running" and p, timeout=5)
        assert chat(proxy).choices
        asked = time.monotonic()
        api.post(f"/api/v1/proxies/{proxy['id']}/stop", {"mode": "force"}, format="json")
        wait_until(lambda: status_of(api, proxy)["status"] == "stopped", timeout=3)
        assert time.monotonic() - asked < 1.5
        with pytest.raises(httpx.ConnectError):
            httpx.get(proxy["base_url"] + "/models")
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, output
    from logs.models import LogEntry

    assert LogEntry.objects.filter(proxy_id=proxy["id"]).count() == 1


def test_answers_still_waiting_to_be_stored_are_stored_when_the_runner_stops(
    api, make_proxy, openai_upstream, runner, monkeypatch
):
    monkeypatch.setattr(cache, "STORE_GATHER_SECONDS", 3600)
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    chat(proxy)
    assert CacheEntry.objects.count() == 0  # still gathering
    runner.shutdown("graceful")
    assert CacheEntry.objects.filter(proxy_id=proxy["id"]).count() == 1


def test_it_forgets_the_rate_limit_windows_of_deleted_proxies(api, make_proxy, runner, openai_upstream):
    kept = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    churned = [make_proxy("openai", upstream_url=openai_upstream.url + "/v1") for _ in range(3)]
    assert set(runner.limiters) == {kept["id"], *(p["id"] for p in churned)}
    for proxy in churned:
        assert api.delete(f"/api/v1/proxies/{proxy['id']}/").status_code in (202, 204)
    wait_until(lambda: set(runner.running) == {kept["id"]})
    runner.reconcile()
    assert set(runner.limiters) == {kept["id"]}  # a created-and-deleted proxy leaves nothing behind
