"""Many proxies in one process: all of them start, answer, share what can be shared, and stop (the figures at 500
are bench/scale_proxies.py's)."""

import random
import socket
from email.utils import parsedate_to_datetime

import openai
import pytest
from django.db.models import F
from django.utils import timezone

from proxies.models import CacheEntry, Proxy
from tests.conftest import wait_until
from tests.factories import ProxyFactory

pytestmark = pytest.mark.django_db(transaction=True)

MANY = 50


def free_ports(n: int) -> list[int]:
    """Free ports below the ephemeral range (Linux: 32768+), where no outgoing connection (a pooled database
    connection, a client) can take one between a proxy's stop and its next start on it."""
    ports = []
    for port in random.sample(range(20_000, 32_000), 2_000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == n:
            return ports
    raise RuntimeError(f"fewer than {n} free ports between 20000 and 32000")


def client(port: int) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-x", max_retries=0, timeout=10)


def test_it_starts_fifty_proxies_asked_for_at_once_and_each_answers_then_stops_them(user, runner, openai_upstream):
    ports = free_ports(MANY)
    for port in ports:
        ProxyFactory(owner=user, port=port, upstream_url=openai_upstream.url + "/v1")
    Proxy.objects.update(desired_state=Proxy.Desired.RUNNING, status=Proxy.Status.STARTING, revision=F("revision") + 1)
    runner.nudge()
    wait_until(lambda: Proxy.objects.filter(status=Proxy.Status.RUNNING).count() == MANY, timeout=60)

    servers = [r.server for r in runner.running.values()]
    assert len(servers) == MANY and len({s.port for s in servers}) == MANY
    # What need not be per proxy is not: one client TLS context, one list of default headers (its date ticking).
    assert len({id(s.app.upstream.ssl_context) for s in servers}) == 1
    assert len({id(s.server.server_state.default_headers) for s in servers}) == 1

    for port in ports:
        raw = client(port).chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"hello {port}"}]
        )
        assert raw.parse().choices[0].message.content
        assert abs((parsedate_to_datetime(raw.headers["date"]) - timezone.now()).total_seconds()) < 60

    Proxy.objects.update(desired_state=Proxy.Desired.STOPPED, revision=F("revision") + 1)
    runner.nudge()
    wait_until(lambda: Proxy.objects.filter(status=Proxy.Status.STOPPED).count() == MANY, timeout=60)
    assert not runner.running
    assert all(s.stopped.is_set() for s in servers)
    with pytest.raises(openai.APIConnectionError):
        client(ports[0]).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])


def test_it_stops_a_proxy_asked_to_stop_as_soon_as_it_has_started(user, runner, openai_upstream):
    """A stop that lands while the server's loop is still starting up is not lost, though the loop no longer
    polls for it."""
    [port] = free_ports(1)
    proxy = ProxyFactory(owner=user, port=port, upstream_url=openai_upstream.url + "/v1", desired_state="running")
    for _ in range(5):
        # Held meanwhile, the runner's lock keeps its own ticks from starting the proxy taken out of `running`
        # here again on the port still held (a flake: "Address already in use" on a later start).
        with runner._lock:
            runner.reconcile()  # starts it, returning once its loop runs
            server = runner.running.pop(proxy.id).server
            server.stop("graceful", wait=False)
            server._thread.join(10)
        assert server.stopped.is_set()


def test_it_applies_an_edit_that_counts_no_revision_though_its_ticks_read_no_rows(
    api, make_proxy, runner, openai_upstream
):
    """An edit saved in the admin bumps no revision, only updated_at: the watch still sees it (D95)."""
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    settings_before = runner.running[proxy["id"]].server.app.settings
    runner.wait_tick(2.0)
    row = Proxy.objects.get(id=proxy["id"])
    row.upstream_url = openai_upstream.url + "/v2"
    row.save()  # as the admin saves it

    wait_until(lambda: runner.running[proxy["id"]].server.app.settings.upstream_url.endswith("/v2"))
    assert runner.running[proxy["id"]].server.app.settings is not settings_before


def test_it_serves_a_stored_answer_from_the_database_after_a_restart(api, make_proxy, runner, openai_upstream):
    """Nothing of the keys is read at start: the first ask of a stored answer reads it from its row."""
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    ask = lambda: client(proxy["port"]).chat.completions.create(  # noqa: E731
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stored once"}]
    )
    first = ask()
    wait_until(lambda: CacheEntry.objects.filter(proxy_id=proxy["id"]).exists())
    api.post(f"/api/v1/proxies/{proxy['id']}/stop", {"mode": "graceful"}, format="json")
    wait_until(lambda: Proxy.objects.get(id=proxy["id"]).status == Proxy.Status.STOPPED)
    runner.lru.clear(proxy["id"])
    api.post(f"/api/v1/proxies/{proxy['id']}/start")
    wait_until(lambda: Proxy.objects.get(id=proxy["id"]).status == Proxy.Status.RUNNING)
    calls = len(openai_upstream.requests)

    assert ask().choices[0].message.content == first.choices[0].message.content
    assert len(openai_upstream.requests) == calls  # a hit, from the database
