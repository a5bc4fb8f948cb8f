"""A throwaway Rubberduck server: its own data dir (SQLite, no Redis), a free port on loopback, a fresh token.

It runs the server's own commands: `<command> serve --port P` and `<command> token create EMAIL --create-user`,
where `command` is the `rubberduck` program (or anything that takes the same arguments).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import httpx

from rubberduck_client.errors import RubberduckError

STOP_TIMEOUT = 20.0  # a graceful stop lets every proxy finish its requests in flight


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_signal() -> signal.Signals:
    """SIGINT, as Ctrl-C would; but a process started in the background of a script ignores SIGINT and so do
    its children (an ignored signal stays ignored across exec), so then SIGTERM, which stops it as gracefully."""
    return signal.SIGTERM if signal.getsignal(signal.SIGINT) == signal.SIG_IGN else signal.SIGINT


class LocalServer:
    def __init__(
        self,
        command: Sequence[str],
        data_dir: str | os.PathLike[str],
        email: str = "pytest@example.com",
        startup_timeout: float = 120.0,
    ):
        self.command = list(command)
        self.data_dir = Path(data_dir)
        self.email = email
        self.startup_timeout = startup_timeout
        self.url = ""
        self.token = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "server.log"
        self._log: IO[bytes] | None = None

    def environment(self) -> dict[str, str]:
        # Throwaway means its own SQLite and in-memory state, whatever the environment points the server at.
        return {
            **os.environ,
            "RUBBERDUCK_DATA_DIR": str(self.data_dir),
            "DATABASE_URL": f"sqlite:///{self.data_dir.resolve() / 'rubberduck.sqlite3'}",
            "REDIS_URL": "",
        }

    def start(self) -> LocalServer:
        """Starts the server, waits until /healthz answers, creates a token."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*self.command, "serve", "--port", str(port)],
            env=self.environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self.wait_until_healthy()
            self.token = self.create_token()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self.failure(f"The Rubberduck server exited with status {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise self.failure(f"The Rubberduck server did not answer /healthz within {self.startup_timeout:.0f} s")

    def create_token(self) -> str:
        done = subprocess.run(
            [*self.command, "token", "create", self.email, "--create-user"],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=self.startup_timeout,
        )
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        if done.returncode != 0 or not lines:
            raise RubberduckError(None, f"Creating a token failed ({done.returncode}): {done.stderr.strip()}")
        return lines[-1].split()[-1]  # the key, whatever words come before it

    def failure(self, message: str) -> RubberduckError:
        output = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
        return RubberduckError(None, f"{message} ({' '.join(self.command)}); its output:\n{output}")

    def stop(self) -> None:
        """Ctrl-C (the server stops every proxy gracefully), then a kill if it takes too long."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(stop_signal())
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
