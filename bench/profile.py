"""`bench/run.py --profile hit|miss`: py-spy samples one Rubberduck proxy process under wrk load.

Writes collapsed stacks (and a flame graph SVG) to bench/profiles/, and prints the functions with the
most samples, self and inclusive, restricted to the proxy's own thread (`proxy-<port>`). py-spy needs
ptrace rights (root, or CAP_SYS_PTRACE) and is a bench-only dependency.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import (
    BENCH,
    CHAT,
    HIT_BODY,
    HOST,
    PY,
    Cpus,
    Rubberduck,
    free_ports,
    post,
    start_upstream,
    wrk_result,
    wrk_start,
)


def profile(args) -> int:
    spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    out_dir = BENCH / "profiles"
    out_dir.mkdir(exist_ok=True)
    cpus = Cpus()
    workdir = Path(tempfile.mkdtemp(prefix="rubberduck-profile-"))
    up_port, rd_port = free_ports(2)
    upstream = start_upstream(cpus, workdir, up_port)
    rd = Rubberduck(cpus, workdir, "rubberduck", {rd_port: f"http://{HOST}:{up_port}/v1"})
    try:
        pid = rd.wait_ready()["pid"]
        post(rd_port, CHAT, HIT_BODY)
        wrk_result(wrk_start(rd_port, CHAT, args.profile, 16, 1))
        seconds = max(3, round(args.duration))
        raw = out_dir / f"{args.profile}.txt"
        load = wrk_start(rd_port, CHAT, args.profile, 16, seconds + 1)
        time.sleep(0.5)
        subprocess.run(
            [spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "--gil", "-f", "raw", "-o", str(raw)],
            check=True,
            capture_output=True,
        )
        wrk_result(load)
        subprocess.run(
            [spy, "record", "-p", str(pid), "-d", "2", "-r", "100", "-o", str(out_dir / f"{args.profile}.svg")],
            capture_output=True,
        )
        summarize(raw)
    finally:
        rd.stop()
        upstream.terminate()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def thread_of(frames: list[str]) -> str:
    text = ";".join(frames)
    if "ProxyServer._run" in text:
        return "proxy thread"
    if "LogWriter" in text:
        return "log writer"
    if "concurrent/futures/thread.py" in text:
        return "db executor"
    return "other"


def summarize(raw: Path, top: int = 30) -> None:
    """Prints where the proxy thread spends its samples (py-spy counts only non-idle samples)."""
    own, inclusive, threads, total = collections.Counter(), collections.Counter(), collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, n = stack.split(";"), int(count)
        kind = thread_of(frames)
        threads[kind] += n
        if kind != "proxy thread":
            continue
        total += n
        own[short(frames[-1])] += n
        for frame in {short(f) for f in frames}:
            inclusive[frame] += n
    print("busy samples by thread:", dict(threads))
    print("\nproxy thread, self time:")
    for frame, n in own.most_common(top):
        print(f"  {100 * n / total:5.1f} %  {frame}")
    print("\nproxy thread, inclusive time:")
    for frame, n in inclusive.most_common(top * 2):
        print(f"  {100 * n / total:5.1f} %  {frame}")


def short(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file.py)" so lines of one function add up
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    return f"{name} ({'/'.join(parts[-2:])})"
