"""What the tests of Rubberduck's own parts failing share: a steady load on a proxy from a thread of its own, a
second process holding an SQLite file locked, and private PostgreSQL and Redis servers the tests may stop and
start (the machine's shared ones are never touched: other tests use them at once)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from glob import glob
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(text: str, stream: bool = False) -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "stream": stream}


class Load:
    """Requests to a proxy, `concurrency` at a time, from a thread of its own until stopped: every other one the
    same question (a hit once cached), the rest new ones (misses, answered by the upstream and stored). Counts
    the requests answered, and keeps what was not a 200 (a status or an exception) in `errors`."""

    def __init__(self, base_url: str, concurrency: int = 4, pause: float = 0.005):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.concurrency = concurrency
        self.pause = pause
        self.answered = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="test-load", daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the load did not end: a request hangs"

    def wait_for(self, answered: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.answered < answered:
            assert time.monotonic() < deadline, f"{self.answered} of {answered} requests answered in {timeout} s"
            assert not self.errors, self.errors[:3]
            time.sleep(0.02)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=60, headers={"authorization": "Bearer sk-test"}) as client:
            await asyncio.gather(*(self._worker(client, n) for n in range(self.concurrency)))

    async def _worker(self, client: httpx.AsyncClient, n: int) -> None:
        i = 0
        while not self._stop.is_set():
            i += 1
            text = "the same question" if i % 2 else f"new {n} {i} {uuid.uuid4().hex}"
            try:
                response = await client.post(self.url, json=body(text))
                if response.status_code == 200:
                    self.answered += 1  # one event loop: no lock needed
                else:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
            except httpx.HTTPError as e:
                self.errors.append(repr(e))
            await asyncio.sleep(self.pause)


@contextmanager
def sqlite_locked(path: str, seconds: float = 60):
    """Another process holds `path` with BEGIN EXCLUSIVE (in WAL mode: no other writer, readers go on); the block
    runs while it holds it, and the lock is released when the block ends (or after `seconds` at most)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, path, str(seconds)],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        if holder.poll() is None:
            holder.stdin.close()  # releases at once
        holder.wait(30)


LOCK_HOLDER = """
import select, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))  # until the test closes stdin, or the time is up
db.execute("COMMIT")
"""


def require_binaries(what: str, *paths: str | None) -> None:
    """Skips when a server's binaries are absent; fails instead when RUBBERDUCK_REQUIRE_SERVICES=1."""
    if all(paths):
        return
    message = f"{what} binaries are not installed"
    if os.environ.get("RUBBERDUCK_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (RUBBERDUCK_REQUIRE_SERVICES=1)")
    pytest.skip(message)


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, in a temporary directory on a free port: stopped and started at
    will without touching the machine's shared server. As root, it runs as the `postgres` user (initdb refuses
    root)."""

    def __init__(self):
        bins = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
        require_binaries("PostgreSQL", bins[-1] if bins else None)
        self.bin = Path(bins[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="rubberduck-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence."""

    def __init__(self):
        require_binaries("Redis", shutil.which("redis-server"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
