"""The SQLite file locked by another process, and the disk full under the log writer, while a proxy is under load.

The proxies serve on from memory; log entries wait in the writer's bounded buffer and are written once the database
takes writes again; what overflows the buffer is dropped, counted, logged once and shown by /healthz and /metrics.
Each case runs with room in the buffer (nothing lost) and with a buffer too small to hold the outage (drops).

The lock is held LOCK_SECONDS (3 s here; `RUBBERDUCK_TEST_LOCK_SECONDS=10` for the by-hand run). The full disk is
SQLite's own SQLITE_FULL, from `PRAGMA max_page_count` pinned at the file's size on every connection the data
plane opens (no tmpfs: mounting is not allowed everywhere the tests run).
"""

import logging
import os
import re
import sqlite3
import threading
import time

import pytest
from django.conf import settings as django_settings
from django.db import connection as test_connection
from django.db.backends.signals import connection_created
from django.test import Client

from logs.models import LogEntry
from tests.conftest import wait_until
from tests.resilience.parts import Load, sqlite_locked

LOCK_SECONDS = float(os.environ.get("RUBBERDUCK_TEST_LOCK_SECONDS", "3"))
ROOM, SMALL = 100_000, 200


@pytest.fixture
def opened():
    """Every database connection opened from now on (the data plane's threads open theirs when they start)."""
    connections = []

    def opened_one(sender, connection, **kwargs):
        connections.append(connection.connection)

    connection_created.connect(opened_one)
    yield connections
    connection_created.disconnect(opened_one)


def still_open(connections: list) -> list:
    """Those not closed since: the retention thread closes its own when it is done (D112)."""
    alive = []
    for db in connections:
        try:
            db.execute("SELECT 1")
        except sqlite3.ProgrammingError:
            continue
        alive.append(db)
    return alive


@pytest.fixture(params=[ROOM, SMALL], ids=["room", "overflow"])
def runner(request, transactional_db, settings, opened):
    """The conftest's runner, with the log buffer of this case and its connections seen by `opened`."""
    from rubberduck_site.dataplane import build_runner

    if django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("SQLite only")
    settings.RUBBERDUCK_GRACEFUL_STOP_SECONDS = 5
    settings.RUBBERDUCK_LOG_BUFFER_RECORDS = request.param
    with test_connection.cursor() as cursor:
        cursor.execute("VACUUM")  # no free pages: new rows must grow the file (the full disk below)
    runner = build_runner()
    runner.start(embedded=True)
    yield runner
    runner.shutdown("force")


class Health:
    """/healthz read every 50 ms from a thread of its own while a part is down."""

    def __init__(self):
        self.seen: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        client = Client()
        while not self._stop.is_set():
            response = client.get("/healthz")
            self.seen.append({"code": response.status_code, **response.json()})
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def settle(runner, load: Load) -> dict:
    """Once the load has stopped: waits until the writer has written (or dropped) every record, then its state."""
    load.stop()
    wait_until(lambda: runner.writer.state()["queued"] == 0 and not runner.writer.overflowing, timeout=30)
    runner.writer.flush()
    return runner.writer.state()


def assert_nothing_lost_silently(runner, proxy, load: Load, health: Health, caplog, small: bool) -> None:
    state = settle(runner, load)
    entries = LogEntry.objects.filter(proxy_id=proxy["id"]).count()
    overflowed = [h for h in health.seen if h.get("logs", {}).get("state") == "dropping"]
    episodes = [r for r in caplog.records if r.getMessage().startswith("log buffer full")]
    print(f"requests {load.answered}, entries {entries}, dropped {state['dropped']}")
    assert not load.errors, load.errors[:3]  # the proxy answered every request
    assert max(h["logs"]["queued"] for h in health.seen) <= runner.writer.limit  # memory stayed bounded
    assert entries + state["dropped"] == load.answered == runner.running[proxy["id"]].server.app.counters.requests
    if small:
        assert state["dropped"] > 0
        assert overflowed and all(h["status"] == "degraded" and h["code"] == 200 for h in overflowed)
        assert len(episodes) == 1  # one line per episode, not one per record
        metrics = Client().get("/metrics").content.decode()
        assert re.search(rf"^rubberduck_log_entries_dropped_total {state['dropped']}\.0$", metrics, re.M)
    else:
        assert state["dropped"] == 0 and entries == load.answered and not overflowed and not episodes
    assert Client().get("/healthz").json()["status"] == "ok"


def test_it_serves_and_logs_through_the_sqlite_file_locked_by_another_process(
    runner, make_proxy, openai_upstream, caplog
):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    db = django_settings.DATABASES["default"]["NAME"]
    with caplog.at_level(logging.WARNING, "rubberduck"), Load(proxy["base_url"]) as load:
        load.wait_for(20)
        with Health() as health, sqlite_locked(db):
            time.sleep(0.1)  # a commit that ended as the lock was taken has been counted
            written, answered = runner.writer.written, load.answered
            time.sleep(LOCK_SECONDS)
            load.wait_for(answered + 2 * SMALL)  # served on while nothing could be written...
            assert runner.writer.written == written  # ...which the lock really stopped
        load.wait_for(load.answered + 20)  # and after
        assert_nothing_lost_silently(runner, proxy, load, health, caplog, runner.writer.limit == SMALL)


def test_it_serves_and_logs_through_a_full_disk_under_the_log_writer(
    runner, make_proxy, openai_upstream, opened, caplog
):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    with caplog.at_level(logging.WARNING, "rubberduck"), Load(proxy["base_url"]) as load:
        load.wait_for(20)
        with Health() as health:
            for db in still_open(opened):
                db.execute("PRAGMA max_page_count = 1")  # at least the file's size: nothing more fits
            wait_until(lambda: runner.writer.state()["failing"], timeout=10)
            load.wait_for(load.answered + 2 * SMALL)
            failing = [h for h in health.seen if h.get("logs", {}).get("state") in ("failing", "dropping")]
            for db in still_open(opened):
                db.execute("PRAGMA max_page_count = 4294967294")
        load.wait_for(load.answered + 20)
        assert failing and all(h["status"] == "degraded" for h in failing)
        assert any("database or disk is full" in str(r.exc_info and r.exc_info[1]) for r in caplog.records)
        assert_nothing_lost_silently(runner, proxy, load, health, caplog, runner.writer.limit == SMALL)
