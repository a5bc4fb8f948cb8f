"""File descriptors: raised to the hard limit at start; when they run out, one clear log line per burst, the
connections a proxy has are still served, and it accepts again once descriptors free up."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time

from django.conf import settings

from proxies.limits import raise_descriptor_limit
from tests.conftest import wait_until
from tests.proxies.port_client import healthy, statuses

LIMIT = 64  # the child's open-files limit: Python, Django and one proxy take about 20 of it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ask(sock: socket.socket, port: int) -> list[int]:
    """A healthy request on an open connection; the statuses of what came back."""
    sock.sendall(healthy(port))
    sock.settimeout(5)
    return statuses(sock.recv(1 << 16))


def accepted(port: int) -> bool:
    """Whether a new connection is accepted and answered (not closed at once for want of a descriptor)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            return ask(sock, port) == [404]
    except OSError:
        return False


def test_it_raises_the_soft_limit_to_the_hard_one(caplog):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        caplog.set_level("INFO", logger="rubberduck.runner")
        assert raise_descriptor_limit() == (hard, hard) == resource.getrlimit(resource.RLIMIT_NOFILE)
        assert [r.getMessage() for r in caplog.records if "open-files limit" in r.getMessage()] != []
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_it_serves_the_connections_it_has_when_descriptors_run_out_and_recovers(tmp_path):
    port = free_port()
    err = (tmp_path / "child.log").open("w+")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.proxies.descriptor_child", str(port), str(LIMIT)],
        cwd=settings.BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
    )
    held: list[socket.socket] = []
    try:
        assert child.stdout.readline().strip() == "serving"
        first = socket.create_connection(("127.0.0.1", port))
        assert ask(first, port) == [404]
        for _ in range(LIMIT * 2):  # far more than it has descriptors for
            sock = socket.create_connection(("127.0.0.1", port))
            held.append(sock)
        time.sleep(0.5)
        log = lambda: open(err.name).read()  # noqa: E731
        wait_until(lambda: "out of file descriptors" in log(), timeout=5)
        assert ask(first, port) == [404]  # the connections it has are served meanwhile
        time.sleep(1.5)  # more sweeps while still out: the line is not repeated
        assert log().count("out of file descriptors") == 1
        for sock in held:
            sock.close()
        held.clear()
        wait_until(lambda: accepted(port), timeout=10)
        wait_until(lambda: "available again" in log(), timeout=5)
        assert ask(first, port) == [404]
        first.close()
    finally:
        for sock in held:
            sock.close()
        out, _ = child.communicate("", timeout=30)
    assert child.returncode == 0, open(err.name).read()
    assert "Traceback" not in open(err.name).read()
    assert out.strip().endswith("logged 4")  # the four healthy requests the app answered, each logged once
