"""Many proxies in one process: all of them start, answer, share what can be shared, and stop (the figures at 500
are bench/scale_proxies.py's)."""

import socket
from email.utils import parsedate_to_datetime

import openai
import pytest
from django.db.models import F
from django.utils import timezone

from proxies.models import Proxy
from tests.conftest import wait_until
from tests.factories import ProxyFactory

pytestmark = pytest.mark.django_db(transaction=True)

MANY = 50


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


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
        runner.reconcile()  # starts it, returning once its loop runs
        server = runner.running.pop(proxy.id).server
        server.stop("graceful", wait=False)
        server._thread.join(10)
        assert server.stopped.is_set()
