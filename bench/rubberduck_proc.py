"""A real Rubberduck runner process for the benchmark, driven by JSON lines on stdin.

Sets up Django on the data dir given in RUBBERDUCK_DATA_DIR (the bench passes a temporary one), loads the
whole site (URLs, API, admin) as `make run` would, migrates, creates a user and one proxy per --proxy
argument through proxies.services, then starts the real Runner. Prints one JSON line when ready, then
answers commands: stats, add_proxies, api_start, api_stop, drain, quit. Failures stay off (no failure
config on the proxies); logging is on unless --no-logging.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubberduck_site.settings")


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class LockErrors(logging.Handler):
    """Counts every logged 'database is locked' (the writer and runner log their failures)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        text = record.getMessage() + (self.format(record) if record.exc_info else "")
        if "database is locked" in text:
            self.count += 1


def percentiles(latencies: list[float]) -> dict:
    lat = sorted(latencies)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else None  # noqa: E731
    return {"calls": len(lat), "p50_ms": pick(0.5), "p99_ms": pick(0.99)}


class ApiProbe:
    """Calls the API every `interval` seconds from its own thread, timing each call: in turn the proxies list,
    the logs list of all the user's proxies (the UI's logs screen) and that list's next page."""

    CALLS = ("proxies", "logs", "logs next page")

    def __init__(self, user, interval: float = 0.05):
        from rest_framework.test import APIClient

        from accounts.models import ApiToken

        _, key = ApiToken.issue(user, "bench")
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        self.interval = interval
        self.latencies: dict[str, list[float]] = {name: [] for name in self.CALLS}
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-api-probe", daemon=True)

    def start(self):
        self._thread.start()

    def _run(self):
        from django.db import close_old_connections

        urls = {"proxies": "/api/v1/proxies/", "logs": "/api/v1/logs/", "logs next page": None}
        turn = 0
        while not self._stop.is_set():
            name = self.CALLS[turn % len(self.CALLS)]
            turn += 1
            if urls[name] is None:  # no next page yet
                continue
            t0 = time.perf_counter()
            try:
                response = self.client.get(urls[name])
                if response.status_code != 200:
                    self.failures += 1
                elif name == "logs":
                    urls["logs next page"] = response.json()["next"]
            except Exception:
                logging.getLogger("rubberduck.bench").exception("API probe failed")
                self.failures += 1
            self.latencies[name].append((time.perf_counter() - t0) * 1000.0)
            close_old_connections()
            self._stop.wait(self.interval)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        every = [ms for latencies in self.latencies.values() for ms in latencies]
        by_call = {name: percentiles(latencies) for name, latencies in self.latencies.items()}
        return {**percentiles(every), "failures": self.failures, "by_call": by_call}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy", action="append", default=[], help="PORT=UPSTREAM_URL, one proxy each")
    parser.add_argument("--no-logging", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.urls import get_resolver

    import rubberduck_site.asgi  # noqa: F401  the whole site, as the served process has it

    get_resolver().url_patterns  # noqa: B018  load every view module now, as the first request would
    call_command("migrate", verbosity=0, interactive=False)

    from accounts.services import user_create_verified
    from logs.models import LogEntry
    from proxies.interpreter import configure_process
    from proxies.models import Proxy
    from proxies.services import proxy_create
    from rubberduck_site.dataplane import build_runner

    lock_errors = LockErrors()
    logging.getLogger().addHandler(lock_errors)
    # The first account of a fresh server, as under `make run`: staff, so its proxies may reach the loopback upstream.
    user = user_create_verified(email="bench@example.com", password="bench-password-123", first_is_admin=True)
    for spec in args.proxy:
        port, url = spec.split("=", 1)
        proxy_create(owner=user, port=int(port), name=f"bench-{port}", provider="openai", upstream_url=url)
    configure_process()  # as `serve` and `runproxies` do
    runner = build_runner(logging_enabled=not args.no_logging)
    executor_errors = watch_executor(runner)
    runner.start(embedded=True)
    wait_running(Proxy, len(args.proxy))
    probe = None

    def reply(data):
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()

    def stats():
        served = runner.snapshot()
        lru = runner.lru
        return {
            "rss": rss_bytes(),
            "proxies": {str(p.port): p._asdict() for p in served},
            "running": len(served),
            "log_queue": len(runner.writer.queue),
            "log_written": runner.writer.written,
            "lru_bytes": lru.bytes,
            "lru_max": lru.max_bytes,
            "lru_entries": len(lru._entries),
            "db_backlog": runner.db._work_queue.qsize(),
            "lock_errors": lock_errors.count,
            "executor_errors": executor_errors,
        }

    time.sleep(0.5)
    reply({"ready": True, "pid": os.getpid(), **stats()})
    for line in sys.stdin:
        command = json.loads(line)
        name = command["cmd"]
        if name == "stats":
            reply(stats())
        elif name == "add_proxies":
            before = len(runner.snapshot())
            for port in command["ports"]:
                proxy_create(
                    owner=user, port=port, name=f"extra-{port}", provider="openai", upstream_url=command["url"]
                )
            runner.nudge()
            wait_running(Proxy, before + len(command["ports"]))
            time.sleep(1.0)
            reply(stats())
        elif name == "start_many":
            reply(start_many(runner, user, command["ports"], command["url"]))
        elif name == "api_start":
            probe = ApiProbe(user)
            probe.start()
            reply({"ok": True})
        elif name == "api_stop":
            reply(probe.stop() if probe else {})
            probe = None
        elif name == "drain":
            # Waits until the writer has nothing queued and the db executor is idle, then counts rows.
            drain(runner)
            counts = {str(p.port): LogEntry.objects.filter(proxy_id=p.proxy_id).count() for p in runner.snapshot()}
            reply({**stats(), "log_entries": counts})
        elif name == "quit":
            runner.shutdown("force")
            reply({"bye": True})
            return


def start_many(runner, user, ports: list[int], url: str) -> dict:
    """Adds one stopped proxy per port, then asks for all of them to run in one write: how long until the runner
    serves every one, and the stats once it does."""
    from django.db.models import F

    from proxies.models import Proxy

    stopped = Proxy.Status.STOPPED
    Proxy.objects.bulk_create(
        Proxy(owner=user, port=port, name=f"many-{port}", provider="openai", upstream_url=url,
              desired_state=Proxy.Desired.STOPPED, status=stopped)
        for port in ports
    )  # fmt: skip
    runner.wait_tick(5.0)
    runner.wait_tick(5.0)  # one that began after they were written
    before = len(runner.snapshot())
    started = time.monotonic()
    Proxy.objects.filter(port__in=ports).update(
        desired_state=Proxy.Desired.RUNNING, status=Proxy.Status.STARTING, revision=F("revision") + 1
    )
    runner.nudge()
    wait_running(Proxy, before + len(ports), timeout=600.0)
    seconds = time.monotonic() - started
    return {"start_seconds": seconds}


def watch_executor(runner) -> dict:
    """Counts failures of the db executor's jobs (cache stores, lookups), which would otherwise go unseen."""
    errors = {"count": 0, "locked": 0}
    submit = runner.db.submit

    def check(future):
        error = future.exception()
        if error is not None:
            errors["count"] += 1
            if "database is locked" in str(error):
                errors["locked"] += 1

    def watched(fn, *args, **kwargs):
        future = submit(fn, *args, **kwargs)
        future.add_done_callback(check)
        return future

    runner.db.submit = watched
    return errors


def drain(runner, timeout: float = 60.0) -> None:
    """Waits until no request is in flight, the log queue and db executor are empty, and the writer's count
    has stopped moving (a batch popped off the queue is written a moment later)."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        busy = any(p.in_flight for p in runner.snapshot())
        idle = not busy and not runner.writer.queue and not runner.db._work_queue.qsize()
        if idle and runner.writer.written == last:
            return
        last = runner.writer.written
        time.sleep(0.3)


def wait_running(Proxy, n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Proxy.objects.filter(status=Proxy.Status.RUNNING).count() >= n:
            return
        time.sleep(0.05)
    raise SystemExit(f"only {Proxy.objects.filter(status='running').count()} of {n} proxies started")


if __name__ == "__main__":
    main()
