"""What the benchmark's scenarios share (bench/run.py, bench/db_load.py, bench/profile.py): the processes
they start and drive, and the wrk load they put on them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
HOST = "127.0.0.1"
CHAT = "/v1/chat/completions"


# ---------------------------------------------------------------- processes


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((HOST, 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class Cpus:
    """The servers measured (yardstick, Rubberduck) on their own core(s); the load generator and the fake
    upstream, which stands in for a provider on another machine, share the other core."""

    def __init__(self):
        cpus = sorted(os.sched_getaffinity(0))
        self.pinned = len(cpus) >= 2
        self.load = {cpus[0]} if self.pinned else set(cpus)
        self.servers = set(cpus[1:]) if self.pinned else set(cpus)

    def describe(self) -> str:
        if not self.pinned:
            return "not pinned (one CPU)"
        return (
            f"wrk, stream client and fake upstream on CPU {sorted(self.load)}, "
            f"yardstick and Rubberduck on CPU {sorted(self.servers)}"
        )

    def server_preexec(self):
        servers = self.servers
        return lambda: os.sched_setaffinity(0, servers)

    def load_preexec(self):
        load = self.load
        return lambda: os.sched_setaffinity(0, load)

    @contextmanager
    def database_on_load_core(self, command: str = "postgres"):
        """The local database server's processes (its postmaster first: the backends it forks inherit it) on the
        load core for a while, as a server on another machine; back on every CPU afterwards. Needs the right to
        set their affinity (root, or the same user); without it they stay where they are."""
        pids = [p for p in processes_named(command) if self.pinned]
        moved = []
        for pid in pids:
            try:
                os.sched_setaffinity(pid, self.load)
                moved.append(pid)
            except OSError:
                pass
        try:
            yield bool(moved)
        finally:
            everywhere = set(range(os.cpu_count() or 1))
            for pid in processes_named(command) if moved else []:
                try:
                    os.sched_setaffinity(pid, everywhere)
                except OSError:
                    pass


def processes_named(command: str) -> list[int]:
    """Pids whose /proc/PID/comm is `command`, oldest (lowest pid) first."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return sorted(pids)


class Rubberduck:
    """A bench/rubberduck_proc.py process: a real runner with its proxies, driven over stdin/stdout."""

    def __init__(self, cpus: Cpus, workdir: Path, name: str, proxies: dict[int, str], logging_on: bool = True):
        self.data = workdir / name
        self.data.mkdir()
        env = {
            **os.environ,
            "RUBBERDUCK_DATA_DIR": str(self.data),
            "DJANGO_SETTINGS_MODULE": "rubberduck_site.settings",
        }
        cmd = [PY, str(BENCH / "rubberduck_proc.py")] + [f"--proxy={p}={u}" for p, u in proxies.items()]
        if not logging_on:
            cmd.append("--no-logging")
        self.stderr = open(workdir / f"{name}.stderr", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            bufsize=1,
            preexec_fn=cpus.server_preexec(),
        )
        self.ready: dict | None = None

    def wait_ready(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"rubberduck process failed to start; see {self.stderr.name}")
        self.ready = json.loads(line)
        return self.ready

    def call(self, cmd: str, **kw) -> dict:
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"rubberduck process died; see {self.stderr.name}")
        return json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("quit")
                self.proc.wait(20)
            except Exception:
                self.proc.kill()
        self.stderr.close()


def start_server(cpus: Cpus, workdir: Path, name: str, args: list[str], port: int, *, preexec=None) -> subprocess.Popen:
    err = open(workdir / f"{name}.stderr", "w")  # noqa: SIM115
    preexec = preexec or cpus.server_preexec()
    proc = subprocess.Popen([PY, *args], cwd=ROOT, stderr=err, stdout=err, preexec_fn=preexec)
    wait_port(port)
    return proc


def start_upstream(cpus: Cpus, workdir: Path, port: int, *options: str) -> subprocess.Popen:
    """The fake upstream, on the load generator's core (see Cpus)."""
    args = [str(BENCH / "fake_upstream.py"), f"--port={port}", *options]
    return start_server(cpus, workdir, "upstream", args, port, preexec=cpus.load_preexec())


def upstream_count(port: int) -> int:
    with urllib.request.urlopen(f"http://{HOST}:{port}/__stats", timeout=5) as r:
        return json.loads(r.read())["requests"]


def rss(pid: int) -> int:
    """A process's resident size in bytes (/proc/<pid>/status), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far, all its threads (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(port: int, path: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        data=body,
        headers={"content-type": "application/json", "authorization": "Bearer sk-bench"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
        return r.status, dict(r.headers)


HIT_BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello, bench"}]}'


# ---------------------------------------------------------------- load


def ensure_wrk() -> str:
    """wrk from PATH, installed with apt-get (as root, or through sudo) when missing."""
    if not shutil.which("wrk"):
        print("wrk not found; installing it with apt-get", flush=True)
        sudo = [] if os.geteuid() == 0 or not shutil.which("sudo") else ["sudo"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [*sudo, "apt-get", "install", "-y", "-qq", "wrk"]
        if subprocess.run(install, env=env).returncode != 0:
            subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env)
            subprocess.run(install, env=env)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is required: apt-get install wrk")
    return found


def wrk_start(port: int, path: str, mode: str, conns: int, duration: float) -> subprocess.Popen:
    cmd = [
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "wrk.lua"),
        f"http://{HOST}:{port}",
        "--",
        mode,
        uuid.uuid4().hex[:12],
        path,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    for line in out.splitlines():
        if line.startswith("BENCHJSON "):
            r = json.loads(line[len("BENCHJSON ") :])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
            r["p50_ms"] = r["p50_us"] / 1000.0
            r["p99_ms"] = r["p99_us"] / 1000.0
            r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
            return r
    raise RuntimeError(f"wrk gave no result:\n{out}")


def wrk(port: int, path: str, mode: str, conns: int, duration: float) -> dict:
    return wrk_result(wrk_start(port, path, mode, conns, duration))


def warm_hits(port: int) -> None:
    """Stores HIT_BODY's answer, then a second of mixed load warms the server's code paths."""
    post(port, CHAT, HIT_BODY)
    wrk(port, CHAT, "mixed", 16, 1)
