"""Scale-out: two `runproxies` processes on PostgreSQL share the proxies through leases, and one takes over
the proxies of the other when it dies."""

import ast
import os
import signal
import subprocess
import sys
import time
import uuid

import openai
import pytest
from django.conf import settings

from tests.conftest import require_service, wait_until
from tests.fakes import openai as fake_openai
from tests.fakes.server import FakeUpstream

pytestmark = pytest.mark.services

SETUP = """
from accounts.services import user_create_verified
from proxies.models import Proxy
user = user_create_verified(email="scale@example.com")
for port in {ports}:
    Proxy.objects.create(owner=user, name=f"p{{port}}", provider="openai", model_name="m", port=port,
                         upstream_url="{upstream}/v1", status="starting")
"""
QUERY = "from proxies.models import Proxy; print({p.port: (p.status, p.runner_id) for p in Proxy.objects.all()})"
COUNT = "from logs.models import LogEntry; print(LogEntry.objects.count())"


@pytest.fixture
def postgres_url():
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    name = f"rubberduck_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env, *args, **kw):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=settings.BASE_DIR,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        **kw,
    ).stdout


def test_two_runners_share_proxies_and_take_over_when_one_dies(postgres_url, tmp_path):
    upstream = FakeUpstream(fake_openai.respond).start()
    from tests.proxies.test_many_proxies import free_ports

    ports = free_ports(4)  # bindable now: fixed numbers may sit in the ephemeral range, taken by clients
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "RUBBERDUCK_DATA_DIR": str(tmp_path),
        "RUBBERDUCK_LEASE_SECONDS": "2",
        "RUBBERDUCK_RECONCILE_SECONDS": "0.2",
    }
    manage(env, "migrate", "-v0")
    manage(env, "shell", "--no-imports", "-c", SETUP.format(ports=ports, upstream=upstream.url))
    runners = [
        subprocess.Popen(
            [sys.executable, "manage.py", "runproxies"],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:

        def state():
            return ast.literal_eval(manage(env, "shell", "--no-imports", "-c", QUERY))

        wait_until(lambda: all(s == "running" for s, _ in state().values()), timeout=40, interval=0.3)
        owners = {runner for _, runner in state().values()}
        assert 1 <= len(owners) <= 2

        def call_all() -> list[str]:
            caches = []
            for port in ports:
                client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-x", max_retries=0)
                raw = client.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                )
                caches.append(raw.headers["x-rubberduck-cache"])
            return caches

        assert call_all() == ["miss"] * len(ports)
        time.sleep(0.5)  # the writer flushes every ~100 ms; SIGKILL below loses only what is still queued
        victim_id = next(iter(owners))
        victim = next(r for r in runners if f":{r.pid}:" in victim_id)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        survivor_pid = next(r.pid for r in runners if r is not victim)
        wait_until(
            lambda: all(f":{survivor_pid}:" in owner and s == "running" for s, owner in state().values()),
            timeout=40,
            interval=0.3,
        )
        wait_until(lambda: _serves(ports), timeout=10, interval=0.3)
        # Every answer was stored in PostgreSQL by the runner that served it: the survivor finds them all.
        assert call_all() == ["hit"] * len(ports)
        time.sleep(0.5)
    finally:
        for r in runners:
            if r.poll() is None:
                r.send_signal(signal.SIGTERM)
                r.wait(20)
        upstream.stop()
    assert int(manage(env, "shell", "--no-imports", "-c", COUNT).strip()) == 2 * len(ports)


def _serves(ports) -> bool:
    import socket

    for port in ports:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
    return True
