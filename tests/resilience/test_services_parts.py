"""PostgreSQL restarted and Redis stopped under load, and a `runproxies` killed with SIGKILL under load, against
real `manage.py serve` and `runproxies` processes.

PostgreSQL and Redis are private servers of these tests (tests/resilience/parts.py), stopped and started here;
the machine's shared ones are never touched. They skip where the binaries are absent, and fail instead when
RUBBERDUCK_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.conftest import wait_until
from tests.resilience.parts import Load, PrivatePostgres, PrivateRedis, free_port

pytestmark = pytest.mark.services

# The load's requests (the readiness checks' GET /v1/models are logged too).
CHAT_ENTRIES = "SELECT COUNT(*) FROM logs_logentry WHERE path = '/v1/chat/completions'"

SETUP = """
from accounts.services import user_create_verified
from proxies.models import Proxy
user = user_create_verified(email="parts@example.com")
Proxy.objects.create(owner=user, name="parts", provider="openai", model_name="m", port={port},
                     upstream_url="{upstream}/v1", status="starting", failures={failures!r})
"""


@pytest.fixture(scope="module")
def postgres():
    """One private cluster for the module; each test has a database of its own in it."""
    pg = PrivatePostgres()
    pg.start()
    yield pg
    pg.remove()


def database_in(pg: PrivatePostgres) -> str:
    import psycopg

    name = f"parts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return pg.url.rsplit("/", 1)[0] + "/" + name


def environment(tmp_path: Path, **extra: str) -> dict:
    """The servers' environment: their own data directory, SQLite in it unless told otherwise, no Redis."""
    sqlite = f"sqlite:///{tmp_path / 'rubberduck.sqlite3'}"
    return {**os.environ, "RUBBERDUCK_DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING", "REDIS_URL": "",
            "DATABASE_URL": sqlite, "RUBBERDUCK_LEASE_SECONDS": "2", **extra}  # fmt: skip


def prepared(env: dict, upstream, failures: dict | None = None) -> int:
    """Migrates the database and creates one proxy on a free port; returns the port."""
    port = free_port()
    manage(env, "migrate", "-v0")
    manage(env, "shell", "--no-imports", "-c", SETUP.format(port=port, upstream=upstream.url, failures=failures or {}))
    return port


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], env=env, cwd=settings.BASE_DIR, check=True, capture_output=True,
        text=True, timeout=300,
    ).stdout  # fmt: skip


class Process:
    """A `manage.py` command in a subprocess; its stderr kept line by line."""

    def __init__(self, env: dict, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", *args], env=env, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def stop(self, sig=signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(60)
        self._reader.join(10)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def writer_counts(self) -> dict[str, int]:
        """runproxies' SIGUSR1 line: the log writer's counts as of now (`written`: committed, acknowledged)."""
        seen = len(self.lines)
        self.process.send_signal(signal.SIGUSR1)
        line = wait_until(lambda: next((x for x in self.lines[seen:] if x.startswith("log writer: ")), None), 10)
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


@contextmanager
def serving(env: dict, proxy_port: int):
    """`manage.py serve` on a free port, once its proxy serves; yields (process, web base url)."""
    web = free_port()
    served = Process(env, "serve", "--port", str(web))
    try:
        url = f"http://127.0.0.1:{web}"
        wait_until(lambda: health(url) and health(url)["running_proxies"] == 1, timeout=60, interval=0.2)
        wait_until(lambda: answers(proxy_port), timeout=20, interval=0.1)
        yield served, url
    finally:
        assert served.stop() == 0, served.output


def health(url: str) -> dict | None:
    try:
        response = httpx.get(url + "/healthz", timeout=5)
    except httpx.HTTPError:
        return None
    return {"code": response.status_code, **response.json()}


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_it_serves_through_a_postgresql_restart_and_writes_what_waited_counting_what_overflowed(
    postgres, tmp_path, openai_upstream
):
    import psycopg

    env = environment(
        tmp_path,
        DATABASE_URL=database_in(postgres),
        RUBBERDUCK_LOG_BUFFER_RECORDS="200",
        RUBBERDUCK_DB_POOL_TIMEOUT="0.5",  # flushes fail within the outage (the pool would wait it out otherwise)
    )
    port = prepared(env, openai_upstream)
    with serving(env, port) as (served, url), Load(f"http://127.0.0.1:{port}/v1") as load:
        load.wait_for(50)
        postgres.stop()
        down = load.answered
        seen = [wait_until(lambda: (h := health(url)) and h["code"] == 503 and h, timeout=20)]
        seen.append(wait_until(lambda: (h := health(url)) and h["logs"]["state"] == "dropping" and h, timeout=30))
        assert load.answered - down > 100  # served on from memory while the database was away
        postgres.start()
        load.wait_for(load.answered + 50, timeout=60)
        load.stop()
        wait_until(lambda: (h := health(url)) and h["status"] == "ok" and h["logs"]["queued"] == 0, timeout=60)
        state = health(url)["logs"]
        metrics = httpx.get(url + "/metrics").text
    with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://")) as db:
        entries = db.execute(CHAT_ENTRIES).fetchone()[0]
    print(f"requests {load.answered}, entries {entries}, dropped {state['dropped']}")
    assert not load.errors, load.errors[:3]
    assert all(h["status"] == "degraded" and h["code"] == 503 for h in seen)
    # What waited in the buffer was written once the database was back, what overflowed it was counted:
    assert state["dropped"] > 0 and entries + state["dropped"] == load.answered
    assert re.search(rf"^rubberduck_log_entries_dropped_total {state['dropped']}\.0$", metrics, re.M)
    assert served.output.count("log buffer full") == 1, served.output[-3000:]  # one line for the episode
    assert served.output.count("log flush failed") == 1  # and one for the failing spell, not one per retry


def test_it_serves_and_logs_everything_while_redis_is_stopped_and_started(tmp_path, openai_upstream):
    redis = PrivateRedis()
    redis.start()
    try:
        env = environment(tmp_path, REDIS_URL=redis.url)
        port = prepared(env, openai_upstream, failures={"rpm_limit": 1_000_000})  # its window lives in Redis
        with serving(env, port) as (served, url), Load(f"http://127.0.0.1:{port}/v1") as load:
            load.wait_for(50)
            redis.stop()
            down = load.answered
            load.wait_for(down + 200)
            redis.start()
            load.wait_for(load.answered + 200)
            load.stop()
            wait_until(lambda: (h := health(url)) and h["status"] == "ok" and h["logs"]["queued"] == 0, timeout=30)
            state = health(url)["logs"]
    finally:
        redis.stop()
    with sqlite3.connect(tmp_path / "rubberduck.sqlite3") as db:
        entries = db.execute(CHAT_ENTRIES).fetchone()[0]
    print(f"requests {load.answered}, entries {entries}, dropped {state['dropped']}")
    assert not load.errors, load.errors[:3]
    assert state["dropped"] == 0 and entries == load.answered
    assert "falls back to this process's count" in served.output


def killed_under_load(env: dict, port: int) -> tuple[Load, dict]:
    """runproxies under load, its writer's acknowledged count read, a moment more of load, then SIGKILL; then
    runproxies again, which serves once more and stops cleanly. Returns the load and the acknowledged counts."""
    runner = Process(env, "runproxies")
    try:
        wait_until(lambda: answers(port), timeout=60, interval=0.1)
        with Load(f"http://127.0.0.1:{port}/v1") as load:
            load.wait_for(300)
            acknowledged = runner.writer_counts()
            time.sleep(0.3)
            errors_before = list(load.errors)
            runner.process.send_signal(signal.SIGKILL)
            runner.process.wait(10)
    finally:
        runner.stop(signal.SIGKILL)
    assert not errors_before, errors_before[:3]
    again = Process(env, "runproxies")
    try:
        wait_until(lambda: answers(port), timeout=60, interval=0.1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/v1", timeout=10) as client:
            after = {"model": "m", "messages": [{"role": "user", "content": "after"}]}
            assert client.post("/chat/completions", json=after).status_code == 200
    finally:
        assert again.stop(signal.SIGTERM) == 0, again.output
    return load, acknowledged


def test_it_keeps_every_acknowledged_entry_and_no_corrupt_row_when_runproxies_is_killed_on_sqlite(
    tmp_path, openai_upstream
):
    env = environment(tmp_path)
    port = prepared(env, openai_upstream)
    load, acknowledged = killed_under_load(env, port)
    with sqlite3.connect(tmp_path / "rubberduck.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = db.execute("SELECT id, proxy_id, timestamp, status_code, cache, path FROM logs_logentry").fetchall()
    entries = sum(r[5] == "/v1/chat/completions" for r in rows) - 1  # less the request after the restart
    print(
        f"acknowledged {acknowledged['written']}, entries {entries}, requests answered before the kill {load.answered}"
    )
    assert 0 < acknowledged["written"] <= entries <= load.answered
    assert all(
        r[3] == 200 and r[4] in ("hit", "miss", "bypass") and r[5] in ("/v1/chat/completions", "/v1/models")
        for r in rows
    )


def test_it_keeps_every_acknowledged_entry_and_no_corrupt_row_when_runproxies_is_killed_on_postgresql(
    postgres, tmp_path, openai_upstream
):
    import psycopg

    env = environment(tmp_path, DATABASE_URL=database_in(postgres))
    port = prepared(env, openai_upstream)
    load, acknowledged = killed_under_load(env, port)
    with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://")) as db:
        rows = db.execute("SELECT id, proxy_id, timestamp, status_code, cache, path FROM logs_logentry").fetchall()
    entries = sum(r[5] == "/v1/chat/completions" for r in rows) - 1  # less the request after the restart
    print(
        f"acknowledged {acknowledged['written']}, entries {entries}, requests answered before the kill {load.answered}"
    )
    assert 0 < acknowledged["written"] <= entries <= load.answered
    assert len({r[0] for r in rows}) == len(rows)
    assert all(
        r[3] == 200 and r[4] in ("hit", "miss", "bypass") and r[5] in ("/v1/chat/completions", "/v1/models")
        for r in rows
    )
