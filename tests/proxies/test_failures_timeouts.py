"""Timeout rules: `delay` waits then serves; `hang` answers nothing until the client gives up, holding no thread."""

import asyncio
import threading
import time

import httpx
import pytest

from tests.conftest import flushed_logs, wait_until
from tests.fakes.server import Reply
from tests.proxies.sdk_adapters import PROVIDERS, sdk_fixture


@pytest.fixture(params=PROVIDERS)
def sdk(request, monkeypatch, tmp_path, api, runner, make_proxy):
    yield from sdk_fixture(request, monkeypatch, tmp_path, api, runner, make_proxy)


def logs(sdk, count):
    return wait_until(lambda: (e := flushed_logs(sdk.runner, sdk.proxy["id"])) and len(e) >= count and e)


def test_a_delay_waits_its_seconds_then_serves_normally(sdk):
    sdk.set_failures({"timeout": {"mode": "delay", "seconds": 0.4, "rate": 1.0}})
    started = time.monotonic()
    assert sdk.call(sdk.proxy, "slow please")
    assert time.monotonic() - started >= 0.4
    assert len(sdk.upstream.requests) == 1
    [entry] = logs(sdk, 1)
    assert (entry.status_code, entry.failure, entry.cache) == (200, "timeout", "miss")
    assert entry.latency_ms >= 400


def test_a_hang_ends_in_the_sdks_own_timeout_and_is_logged_once_as_hang(sdk):
    sdk.set_failures({"timeout": {"mode": "hang", "rate": 1.0}})
    started = time.monotonic()
    with pytest.raises(sdk.timeout_classes()):
        sdk.call(sdk.proxy, "hang please", timeout=0.5)
    assert 0.45 <= time.monotonic() - started < 5
    assert sdk.upstream.requests == []
    entries = logs(sdk, 1)
    time.sleep(0.2)
    assert [(e.status_code, e.failure) for e in flushed_logs(sdk.runner, sdk.proxy["id"])] == [(499, "hang")]
    assert entries[0].latency_ms >= 450


def test_a_hang_at_rate_zero_never_fires_and_the_proxy_serves(sdk):
    sdk.set_failures({"timeout": {"mode": "hang", "rate": 0.0}})
    assert sdk.call(sdk.proxy, "no hang", timeout=5)


def test_fifty_hanging_requests_hold_no_thread_and_the_proxy_keeps_serving(api, runner, make_proxy, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    url = proxy["base_url"] + "/chat/completions"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    config = {"timeout": {"mode": "hang", "rate": 1.0}}
    assert api.put(f"/api/v1/proxies/{proxy['id']}/failures", config, format="json").status_code == 200
    runner.reconcile()

    async def scenario():
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=httpx.Limits(max_connections=100)) as client:
            before = threading.active_count()
            hangs = [asyncio.ensure_future(client.post(url, json=body)) for _ in range(50)]
            for _ in range(100):  # until all 50 reached the proxy (a loaded machine needs more than 0.5 s)
                await asyncio.sleep(0.05)
                if runner.running[proxy["id"]].server.in_flight == 50:
                    break
            assert not any(task.done() for task in hangs)
            during = threading.active_count()
            in_flight = runner.running[proxy["id"]].server.in_flight
            for task in hangs:
                task.cancel()
            await asyncio.gather(*hangs, return_exceptions=True)
            return before, during, in_flight

    before, during, in_flight = asyncio.run(scenario())
    assert in_flight == 50
    assert during <= before + 1, (before, during)  # no thread per hanging request
    # Meanwhile (and after) the proxy serves: switch the rule off, ask again.
    api.put(f"/api/v1/proxies/{proxy['id']}/failures", {}, format="json")
    runner.reconcile()
    assert httpx.post(url, json=body, timeout=5).status_code == 200
    entries = wait_until(lambda: len(e := flushed_logs(runner, proxy["id"])) >= 51 and e)
    assert sorted((e.status_code, e.failure) for e in entries) == [(200, None)] + [(499, "hang")] * 50


def test_the_proxy_serves_others_while_a_request_hangs(api, runner, make_proxy, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    url = proxy["base_url"] + "/chat/completions"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    config = {"timeout": {"mode": "hang", "rate": 0.5}, "seed": 3}  # draws 0.238 (hang), 0.544, 0.370 (hang), ...
    api.put(f"/api/v1/proxies/{proxy['id']}/failures", config, format="json")
    runner.reconcile()

    async def scenario():
        async with httpx.AsyncClient(timeout=5.0) as client:
            hanging = asyncio.ensure_future(client.post(url, json=body))
            await asyncio.sleep(0.3)
            served = await client.post(url, json=body)
            assert not hanging.done()
            hanging.cancel()
            await asyncio.gather(hanging, return_exceptions=True)
            return served

    served = asyncio.run(scenario())
    assert served.status_code == 200
    entries = wait_until(lambda: len(e := flushed_logs(runner, proxy["id"])) >= 2 and e)
    assert sorted((e.status_code, e.failure) for e in entries) == [(200, None), (499, "hang")]


def test_a_force_stop_ends_a_hanging_request_and_logs_it_once(api, runner, make_proxy, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    api.put(f"/api/v1/proxies/{proxy['id']}/failures", {"timeout": {"mode": "hang", "rate": 1.0}}, format="json")
    runner.reconcile()
    outcome = {}

    def hang():
        try:
            httpx.post(proxy["base_url"] + "/chat/completions", json={"model": "m", "messages": []}, timeout=10)
        except httpx.HTTPError as e:
            outcome["error"] = e

    client = threading.Thread(target=hang)
    client.start()
    wait_until(lambda: runner.running[proxy["id"]].server.in_flight == 1)
    started = time.monotonic()
    assert api.post(f"/api/v1/proxies/{proxy['id']}/stop", {"mode": "force"}, format="json").status_code == 200
    client.join(5)
    assert not client.is_alive() and isinstance(outcome.get("error"), httpx.HTTPError)
    assert time.monotonic() - started < 3
    entries = wait_until(lambda: flushed_logs(runner, proxy["id"]))
    time.sleep(0.2)
    assert [(e.status_code, e.failure) for e in flushed_logs(runner, proxy["id"])] == [(499, "hang")]
    assert entries


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}


def in_background(proxy, outcome: dict, name: str) -> threading.Thread:
    def call():
        try:
            outcome[name] = httpx.post(proxy["base_url"] + "/chat/completions", json=CHAT, timeout=60)
        except httpx.HTTPError as e:
            outcome[name] = e

    thread = threading.Thread(target=call)
    thread.start()
    return thread


def test_a_graceful_stop_closes_a_hanging_request_at_once_and_waits_for_a_real_one(
    api, runner, make_proxy, openai_upstream, settings
):
    settings.RUBBERDUCK_GRACEFUL_STOP_SECONDS = 60  # waiting for the hang would outlast every wait below
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    config = {"timeout": {"mode": "hang", "rate": 0.5}, "seed": 3}  # draws 0.238 (hang), 0.544 (served)
    api.put(f"/api/v1/proxies/{proxy['id']}/failures", config, format="json")
    runner.reconcile()
    server = runner.running[proxy["id"]].server
    openai_upstream.queue(Reply(200, [("content-type", "application/json")], b'{"id": "real"}', delay=1.5))
    outcome = {}

    hanging = in_background(proxy, outcome, "hang")
    wait_until(lambda: server.in_flight == 1)
    real = in_background(proxy, outcome, "real")
    wait_until(lambda: len(openai_upstream.requests) == 1)  # the real one is upstream now
    api.post(f"/api/v1/proxies/{proxy['id']}/stop", {"mode": "graceful"}, format="json")

    hanging.join(15)
    real.join(15)
    assert isinstance(outcome["hang"], httpx.HTTPError)  # closed without an answer, as a server going away does
    assert outcome["real"].status_code == 200 and outcome["real"].json() == {"id": "real"}
    wait_until(lambda: api.get(f"/api/v1/proxies/{proxy['id']}/").json()["status"] == "stopped", timeout=15)
    entries = flushed_logs(runner, proxy["id"])
    assert sorted((e.status_code, e.failure or "") for e in entries) == [(200, ""), (499, "hang")]


def test_a_graceful_stop_cuts_a_delay_short_and_serves_its_request(api, runner, make_proxy, openai_upstream, settings):
    settings.RUBBERDUCK_GRACEFUL_STOP_SECONDS = 60
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    config = {"timeout": {"mode": "delay", "seconds": 45, "rate": 1.0}}
    api.put(f"/api/v1/proxies/{proxy['id']}/failures", config, format="json")
    runner.reconcile()
    outcome = {}

    delayed = in_background(proxy, outcome, "delayed")
    wait_until(lambda: runner.running[proxy["id"]].server.in_flight == 1)
    api.post(f"/api/v1/proxies/{proxy['id']}/stop", {"mode": "graceful"}, format="json")

    delayed.join(15)
    assert outcome["delayed"].status_code == 200 and outcome["delayed"].json()["object"] == "chat.completion"
    wait_until(lambda: api.get(f"/api/v1/proxies/{proxy['id']}/").json()["status"] == "stopped", timeout=15)
    assert [(e.status_code, e.failure) for e in flushed_logs(runner, proxy["id"])] == [(200, "timeout")]
