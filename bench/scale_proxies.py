"""Many proxies in one process, and the memory of the served product (`bench/run.py --scale`, or alone:
`bench/scale_proxies.py [--quick]`).

- A bench/rubberduck_proc.py process with one proxy adds N stopped proxies, then asks for all of them to run
  in one write: seconds until the runner serves every one, RSS per proxy, and the CPU the idle process then spends
  (runner reconciling and watching, log writer sampling gauges, the proxies' loops) over a quiet spell. Every
  proxy then answers one request through the fake upstream.
- `manage.py serve` (daphne with the runner embedded, as `make run` starts it) with one proxy: the RSS of it and
  every process it started, once idle.

Targets: 500 proxies start in ≤ 10 s, ≤ 1.2 MiB each, idle CPU ≤ 1 % of a core; the served product ≤ 120 MiB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the bench package

from bench.common import (  # noqa: E402
    CHAT,
    HIT_BODY,
    HOST,
    PY,
    ROOT,
    Cpus,
    Rubberduck,
    cpu_seconds,
    free_ports,
    post,
    start_upstream,
    wait_port,
)

Row = tuple[str, str, bool | None]


def many_proxies(cpus: Cpus, workdir: Path, n: int, quiet_seconds: float) -> list[Row]:
    up_port, port, *ports = free_ports(2 + n)
    upstream = start_upstream(cpus, workdir, up_port)
    url = f"http://{HOST}:{up_port}/v1"
    rd = Rubberduck(cpus, workdir, "rubberduck-many", {port: url})
    try:
        rd.wait_ready()
        time.sleep(1.0)
        idle = rd.call("stats")
        started = rd.call("start_many", ports=ports, url=url)
        time.sleep(2.0)  # the first ticks after the start settle
        after = rd.call("stats")
        pid = rd.ready["pid"]
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(quiet_seconds)
        idle_cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        answered = sum(1 for p in ports if post(p, CHAT, HIT_BODY)[0] == 200)
        served = rd.call("stats")
    finally:
        rd.stop()
        upstream.terminate()
        upstream.wait(10)
    per = (after["rss"] - idle["rss"]) / n / 2**20
    seconds = started["start_seconds"]
    return [
        (f"{n} proxies in one process start in ≤ 10 s", f"{seconds:.2f} s", seconds <= 10),
        (f"RSS per proxy ≤ 1.2 MiB ({n} added)", f"{per:.2f} MiB", per <= 1.2),
        (
            f"idle CPU with {n + 1} proxies ≤ 1 % of a core ({quiet_seconds:g} s)",
            f"{idle_cpu * 100:.2f} %",
            idle_cpu <= 0.01,
        ),
        (
            f"every proxy running and answering ({n + 1} running)",
            f"{answered} of {n} answered, {served['running']} running",
            answered == n and served["running"] == n + 1,
        ),
    ]


def tree_rss(pid: int) -> tuple[int, int]:
    """Resident bytes of a process and all its descendants, and how many processes that is."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, count, todo = 0, 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
            count += 1
        except (OSError, StopIteration):
            pass
    return total, count


SETUP = """
import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from accounts.services import user_create_verified
from proxies.services import proxy_create
user = user_create_verified(email="bench@example.com", password="bench-password-123", first_is_admin=True)
proxy_create(owner=user, port={port}, name="one", provider="openai", upstream_url="http://127.0.0.1:9/v1")
"""


def served_product(workdir: Path, settle_seconds: float) -> list[Row]:
    """`manage.py serve` as `make run` starts it, with one proxy: RSS of its whole process tree once idle."""
    web, proxy = free_ports(2)
    data = workdir / "serve"
    data.mkdir()
    env = {**os.environ, "RUBBERDUCK_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "rubberduck_site.settings"}
    subprocess.run([PY, "-c", SETUP.format(port=proxy)], cwd=ROOT, env=env, check=True)
    with open(workdir / "serve.log", "w") as log:
        proc = subprocess.Popen([PY, "manage.py", "serve", "--port", str(web)], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_port(web, 60)
            wait_port(proxy, 60)
            time.sleep(settle_seconds)
            rss, processes = tree_rss(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    mib = rss / 2**20
    return [("idle RSS of `manage.py serve`, 1 proxy, all processes ≤ 120 MiB", f"{mib:.1f} MiB ({processes} process(es))",
             mib <= 120)]  # fmt: skip


def scenario(quick: bool) -> list[Row]:
    cpus = Cpus()
    with tempfile.TemporaryDirectory(prefix="rubberduck-scale-proxies-") as tmp:
        workdir = Path(tmp)
        rows = many_proxies(cpus, workdir, 100 if quick else 500, 5.0 if quick else 10.0)
        rows += served_product(workdir, 3.0 if quick else 5.0)
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'—' if ok is None else 'yes' if ok else 'NO'} |" for name, value, ok in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(scenario("--quick" in sys.argv[1:])))
