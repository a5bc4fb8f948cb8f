"""The CLI against a real server: `rubberduck serve` in a subprocess, on its own data dir and a free port, with a
token from `rubberduck token create` (one server per test module; each test uses its own proxy names)."""

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from django.conf import settings

from rubberduck_cli.main import cli
from tests.conftest import wait_until
from tests.fakes import openai as fake_openai
from tests.fakes.server import FakeUpstream
from tests.test_serve import free_port

EMAIL = "cli@example.com"


@dataclass
class Server:
    url: str
    token: str
    env: dict
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def server_env(data_dir: Path, **extra) -> dict:
    """A throwaway server's environment: its own SQLite and in-memory state, whatever this one points at."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    low = 20000 + (os.getpid() % 400) * 100  # the port window tests/conftest.py gives this test run
    return {**env, "RUBBERDUCK_DATA_DIR": str(data_dir), "RUBBERDUCK_PORT_RANGE": f"{low},{low + 99}", **extra}


def rubberduck(*args: str, env: dict, **kw) -> subprocess.CompletedProcess:
    """`rubberduck ARGS` as a separate process (from this checkout)."""
    return subprocess.run(
        [sys.executable, "-m", "rubberduck_cli", *args],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("server")
    env = server_env(data_dir)
    port = free_port()
    log = data_dir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "rubberduck_cli", "serve", "--port", str(port)],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthy(url) or process.poll() is not None, timeout=60, interval=0.1)
        assert process.poll() is None, log.read_text()
        created = rubberduck("token", "create", EMAIL, "--create-user", env=env)
        assert created.returncode == 0, created.stderr
        yield Server(url, created.stdout.strip(), env, process, log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def upstream():
    fake = FakeUpstream(fake_openai.respond).start()
    yield fake
    fake.stop()


@pytest.fixture
def run(server):
    """`rubberduck ARGS` in this process (click's runner) against the server; returns click's Result."""

    def invoke(*args: str, token: str | None = server.token, url: str = server.url):
        env = {"RUBBERDUCK_URL": url, "RUBBERDUCK_TOKEN": token}
        return CliRunner().invoke(cli, list(args), env=env, prog_name="rubberduck")

    return invoke
