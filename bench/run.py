"""The Rubberduck benchmark: `make bench` (this file). Loopback only.

Starts a fake OpenAI-style upstream, the yardstick (a bare Python caching passthrough) and real Rubberduck
runner processes, drives closed-loop load with wrk, and prints one table of same-run ratios against the
yardstick (and against the upstream itself where that is the reference), with correctness checks made
while measuring: upstream calls per request, cache hits, status errors, stream events.

    bench/run.py                      the full run (~6 min)
    bench/run.py --duration 2 --quick a smoke run (~40 s): every section once, few cells
    bench/run.py --db-load            30 s of C=64 mixed load on SQLite: locks, lost log entries, API p99
    bench/run.py --profile hit|miss   py-spy flame graph of one proxy under load (needs ptrace rights)
    bench/run.py --scale [--rows N] [--database postgres]
                                      the logs at 10 M rows through the real server (bench/scale.py), then
                                      every bench/scale_*.py scenario

Exit status: 1 when a correctness check fails (never because a performance target is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the bench package

from bench.common import (  # noqa: E402
    BENCH,
    CHAT,
    HIT_BODY,
    HOST,
    Cpus,
    Rubberduck,
    cpu_seconds,
    ensure_wrk,
    free_ports,
    post,
    start_server,
    start_upstream,
    upstream_count,
    wait_port,
    warm_hits,
    wrk,
    wrk_result,
    wrk_start,
)
from bench.db_load import db_load  # noqa: E402
from bench.profile import profile  # noqa: E402
from bench.scale import add_arguments as scale_arguments  # noqa: E402
from bench.scale import scale  # noqa: E402

STREAM_TTFT_MS, STREAM_CHUNKS, STREAM_GAP_MS = 20.0, 20, 5.0
Server = tuple[str, int, list[int]]  # name, pid, the ports to load


# ---------------------------------------------------------------- streaming probe


async def stream_once(port: int, path: str, body: bytes) -> dict:
    """One streamed request over a fresh connection; times the first body byte and every read."""
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection(HOST, port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer sk-bench\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    headers = (await reader.readuntil(b"\r\n\r\n")).lower()
    status = int(headers.split(b" ", 2)[1])
    reads: list[tuple[float, bytes]] = []
    if b"transfer-encoding: chunked" in headers:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                break
            data = (await reader.readexactly(size + 2))[:-2]
            reads.append((time.perf_counter() - t0, data))
    else:
        while data := await reader.read(65536):
            reads.append((time.perf_counter() - t0, data))
    writer.close()
    events, times, buffer = [], [], b""
    for at, data in reads:
        buffer += data
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            events.append(event)
            times.append(at)
    return {
        "status": status,
        "ttfb_ms": reads[0][0] * 1000.0 if reads else None,
        "ttlb_ms": reads[-1][0] * 1000.0 if reads else None,
        "events": events,
        "spread_ms": (times[-1] - times[0]) * 1000.0 if times else 0.0,
    }


def stream_round(port: int, path: str, streams: int) -> list[dict]:
    async def go():
        bodies = [
            f'{{"model":"gpt-4o-mini","stream":true,"messages":[{{"role":"user","content":"s {uuid.uuid4().hex}"}}]}}'
            for _ in range(streams)
        ]
        return await asyncio.gather(*(stream_once(port, path, b.encode()) for b in bodies))

    return asyncio.run(go())


# ---------------------------------------------------------------- the sections


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def paired_ratio(ours: list[float], reference: list[float]) -> float:
    """The median of each repeat's ratio. The two runs of a repeat are measured back to back, so a slow spell of
    the machine weighs on both sides of a ratio, not on one (D38)."""
    return statistics.median(a / b for a, b in zip(ours, reference, strict=True))


class Bench:
    def __init__(self, args):
        self.args = args
        self.duration = args.duration
        self.reps = 1 if args.quick else args.repeats
        self.conns = [16] if args.quick else [1, 16, 64]
        self.checks: list[tuple[str, bool, str]] = []
        self.rows: list[dict] = []
        self.targets: list[tuple[str, str, bool | None]] = []
        self.extra: dict = {}
        self.at_once: dict[tuple[str, int], list[float]] = {}  # (mode, conns): yardstick's CPU per request / ours

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append((name, ok, detail))
        if not ok:
            print(f"  CHECK FAILED: {name}: {detail}", flush=True)

    def target(self, name: str, value: str, ok: bool | None) -> None:
        self.targets.append((name, value, ok))

    def settle(self, timeout: float = 15.0) -> None:
        """Waits for the work left by the previous run (requests wrk abandoned at its end) to finish."""
        deadline = time.monotonic() + timeout
        last = upstream_count(self.up_port)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = upstream_count(self.up_port)
            busy = any(p["in_flight"] for rd in self.rds for p in rd.call("stats")["proxies"].values())
            if now == last and not busy:
                return
            last = now

    # one measured wrk run, with upstream and proxy counters read around it
    def measure(self, label, port, path, mode, conns, rd: Rubberduck | None = None, rd_port=None) -> dict:
        self.settle()
        up0 = upstream_count(self.up_port)
        s0 = rd.call("stats")["proxies"][str(rd_port)] if rd else None
        r = wrk(port, path, mode, conns, self.duration)
        r["upstream_calls"] = upstream_count(self.up_port) - up0
        r["calls_per_request"] = r["upstream_calls"] / max(1, r["requests"])
        if rd:
            s1 = rd.call("stats")["proxies"][str(rd_port)]
            r["proxy_hits"] = s1["cache_hits"] - s0["cache_hits"]
            r["proxy_requests"] = s1["requests"] - s0["requests"]
        self.verify(label, mode, conns, r)
        return r

    def verify(self, label: str, mode: str, conns: int, r: dict) -> None:
        n = r["requests"]
        self.check(f"{label}: requests completed", n > 0, f"{n} requests")
        self.check(f"{label}: no HTTP/socket errors", r["status"] + r["timeout"] == 0, json.dumps(r))
        if mode == "hit":
            self.check(f"{label}: upstream calls/request = 0", r["upstream_calls"] == 0, f"{r['upstream_calls']} calls")
            if "proxy_hits" in r:
                ok = r["proxy_hits"] >= n
                self.check(f"{label}: every request a cache hit", ok, f"{r['proxy_hits']} hits / {n}")
        elif mode == "miss":
            # wrk stops with up to `conns` requests in flight: they reached the upstream but are not counted.
            # A request wrk saw fail on the socket (and so did not count) may have reached the upstream too.
            ok = n <= r["upstream_calls"] <= n + conns + r["errors"] + 1
            self.check(f"{label}: upstream calls/request = 1", ok, f"{r['upstream_calls']} calls / {n} requests")
            if "proxy_hits" in r:
                self.check(f"{label}: no cache hits on unique bodies", r["proxy_hits"] == 0, f"{r['proxy_hits']}")

    def setup(self, workdir: Path, cpus: Cpus) -> None:
        self.workdir, self.cpus = workdir, cpus
        self.up_port, self.yard_port, rd_a, rd_b = free_ports(4)
        self.procs = [
            start_upstream(
                cpus,
                workdir,
                self.up_port,
                f"--ttft-ms={STREAM_TTFT_MS}",
                f"--chunks={STREAM_CHUNKS}",
                f"--chunk-ms={STREAM_GAP_MS}",
            ),
        ]
        self.yard_pid = self.start_yardstick("yardstick", [self.yard_port]).pid
        up = f"http://{HOST}:{self.up_port}"
        self.rd_port, self.rd50_port = rd_a, rd_b
        self.rd = Rubberduck(cpus, workdir, "rubberduck", {rd_a: f"{up}/v1", rd_b: f"{up}/l50/v1"})
        self.rds = [self.rd]
        self.rd_pid = self.rd.wait_ready()["pid"]

    def start_yardstick(self, name: str, ports: list[int]) -> subprocess.Popen:
        """A yardstick process forwarding to the fake upstream, serving each port given (a thread each)."""
        args = [
            str(BENCH / "yardstick.py"),
            *[f"--port={port}" for port in ports],
            f"--upstream=http://{HOST}:{self.up_port}",
        ]
        proc = start_server(self.cpus, self.workdir, name, args, ports[0])
        self.procs.append(proc)
        return proc

    def warm(self) -> None:
        for port in (self.yard_port, self.rd_port):
            warm_hits(port)
        wrk(self.rd50_port, CHAT, "miss", 16, 1)

    def hit_miss(self) -> None:
        cells = [(mode, c) for mode in ("hit", "miss") for c in self.conns]
        results = {cell: {"yard": [], "rd": []} for cell in cells}
        for rep in range(self.reps):
            for mode, c in cells:
                print(f"  [{rep + 1}/{self.reps}] {mode} C={c}", flush=True)
                label = f"{mode} C={c}"
                results[(mode, c)]["yard"].append(self.measure(f"yardstick {label}", self.yard_port, CHAT, mode, c))
                results[(mode, c)]["rd"].append(
                    self.measure(f"rubberduck {label}", self.rd_port, CHAT, mode, c, self.rd, self.rd_port)
                )
            for mode, c in cells:
                if c >= 16:  # CPU-bound there: the server core is busy all the time
                    print(f"  [{rep + 1}/{self.reps}] {mode} C={c}, both at once", flush=True)
                    yard_cpu, rd_cpu = self.cpu_at_once(
                        mode,
                        c,
                        ("yardstick", self.yard_pid, [self.yard_port]),
                        ("rubberduck", self.rd_pid, [self.rd_port]),
                    )
                    self.at_once.setdefault((mode, c), []).append(yard_cpu / rd_cpu)
        for (mode, c), r in results.items():
            self.row(f"cache {mode}, 0 ms upstream, C={c}", "yardstick", r["yard"], r["rd"])
        self.cells = results

    def row(self, name: str, reference: str, ref: list[dict], ours: list[dict]) -> dict:
        row = {
            "cell": name,
            "reference": reference,
            "ref_rps": med(r["rps"] for r in ref),
            "rd_rps": med(r["rps"] for r in ours),
            "ref_p50": med(r["p50_ms"] for r in ref),
            "rd_p50": med(r["p50_ms"] for r in ours),
            "ref_p99": med(r["p99_ms"] for r in ref),
            "rd_p99": med(r["p99_ms"] for r in ours),
            "calls_per_request": med(r["calls_per_request"] for r in ours),
            "runs": len(ours),
        }
        row["rps_ratio"] = paired_ratio([r["rps"] for r in ours], [r["rps"] for r in ref])
        row["p99_ratio"] = paired_ratio([r["p99_ms"] for r in ours], [r["p99_ms"] for r in ref])
        self.rows.append(row)
        return row

    def upstream_50ms(self) -> None:
        """Rubberduck against the upstream itself (the target), and the yardstick on the same load for scale: a
        bare Python passthrough with the same client stack pays the same per-miss CPU in each wave of 64."""
        direct, yard, ours = [], [], []
        path50 = "/l50" + CHAT
        for rep in range(self.reps):
            print(f"  [{rep + 1}/{self.reps}] miss C=64, 50 ms upstream", flush=True)
            direct.append(self.measure("direct 50 ms C=64", self.up_port, path50, "miss", 64))
            yard.append(self.measure("yardstick 50 ms C=64", self.yard_port, path50, "miss", 64))
            ours.append(
                self.measure("rubberduck 50 ms C=64", self.rd50_port, CHAT, "miss", 64, self.rd, self.rd50_port)
            )
        row = self.row("cache miss, 50 ms upstream, C=64", "direct to upstream", direct, ours)
        self.row("cache miss, 50 ms upstream, C=64: yardstick", "direct to upstream", direct, yard)
        self.target("50 ms upstream C=64: RPS ≥ 0.9× direct", f"{row['rps_ratio']:.2f}×", row["rps_ratio"] >= 0.9)
        self.target("50 ms upstream C=64: p99 ≤ 2× direct", f"{row['p99_ratio']:.2f}×", row["p99_ratio"] <= 2.0)

    def logging_cost(self) -> None:
        """Two new processes, logging on and off, started and warmed alike, so that logging is all that differs
        (D39); read from CPU per hit with both loaded at once (D40)."""
        on_port, off_port = free_ports(2)
        on_rd = self.new_process("rubberduck-logging-on", [on_port])
        off_rd = self.new_process("rubberduck-logging-off", [off_port], logging_on=False)
        for c in [16] if self.args.quick else [16, 64]:
            on, off, costs = [], [], []
            for rep in range(self.reps):
                print(
                    f"  [{rep + 1}/{self.reps}] logging on/off, hit C={c}: one after the other, then at once",
                    flush=True,
                )
                off.append(self.measure(f"logging off hit C={c}", off_port, CHAT, "hit", c, off_rd, off_port))
                on.append(self.measure(f"logging on hit C={c}", on_port, CHAT, "hit", c, on_rd, on_port))
                on_cpu, off_cpu = self.cpu_at_once(
                    "hit",
                    c,
                    ("logging on", on_rd.ready["pid"], [on_port]),
                    ("logging off", off_rd.ready["pid"], [off_port]),
                )
                costs.append(1 - off_cpu / on_cpu)
            row = self.row(f"cache hit C={c}: logging on vs off", "same build, logging off", off, on)
            cost = statistics.median(costs)
            self.target(
                f"logging costs ≤ 25 % of hit throughput (C={c}; CPU per hit, both loaded at once)",
                f"{cost * 100:.0f} % ({', '.join(f'{share * 100:.0f}' for share in costs)})",
                cost <= 0.25,
            )
            self.target(
                f"for scale: logging's cost in hit RPS, one after the other (C={c})",
                f"{(1 - row['rps_ratio']) * 100:.0f} %",
                None,
            )
        self.db_checks("logging on", on_rd)
        self.db_checks("logging off", off_rd, count_entries=False)
        self.retire(on_rd, off_rd)

    def new_process(self, name: str, ports: list[int], logging_on: bool = True) -> Rubberduck:
        """A new Rubberduck process with a proxy on each port, started and warmed: a process that served the miss
        cells is slower at hits, so comparisons between processes use new ones (D39)."""
        upstream = f"http://{HOST}:{self.up_port}/v1"
        rd = Rubberduck(self.cpus, self.workdir, name, dict.fromkeys(ports, upstream), logging_on)
        self.rds.append(rd)
        rd.wait_ready()
        for port in ports:
            warm_hits(port)
        return rd

    def retire(self, *rds: Rubberduck) -> None:
        for rd in rds:
            rd.stop()
            self.rds.remove(rd)

    def cpu_at_once(self, mode: str, conns: int, a: Server, b: Server) -> list[float]:
        """CPU time per request (µs) of two server processes (name, pid, ports: one wrk of `conns` each) under
        the same load at the same time, on the same core: a CPU-bound server's throughput is the inverse of its
        CPU per request, and a slower or busier moment of the machine slows both alike (D36, D40)."""
        self.settle()
        up0 = upstream_count(self.up_port)
        cpu0 = [cpu_seconds(pid) for _, pid, _ in (a, b)]
        runs = [[wrk_start(port, CHAT, mode, conns, self.duration) for port in ports] for _, _, ports in (a, b)]
        results = [[wrk_result(run) for run in side] for side in runs]
        cpu1 = [cpu_seconds(pid) for _, pid, _ in (a, b)]
        every = [r for side in results for r in side]
        both = {k: sum(r[k] for r in every) for k in ("requests", "errors", "status", "timeout")}
        both["upstream_calls"] = upstream_count(self.up_port) - up0
        self.verify(f"{a[0]} and {b[0]} {mode} C={conns}, both at once", mode, len(every) * conns, both)
        served = [sum(r["requests"] for r in side) for side in results]
        return [(t1 - t0) / n * 1e6 for t0, t1, n in zip(cpu0, cpu1, served, strict=True)]

    def streaming(self) -> None:
        rounds = {1: 2 if self.args.quick else 10, 16: 1 if self.args.quick else 3}
        out = {}
        for streams, n in rounds.items():
            direct, ours = [], []
            for rep in range(self.reps):
                print(f"  [{rep + 1}/{self.reps}] streaming, {streams} concurrent", flush=True)
                for _ in range(n):
                    self.settle()
                    up0 = upstream_count(self.up_port)
                    direct += stream_round(self.up_port, CHAT, streams)
                    ours += stream_round(self.rd_port, CHAT, streams)
                    calls = upstream_count(self.up_port) - up0
                    self.check(f"stream x{streams}: upstream calls", calls == 2 * streams, f"{calls} for {2 * streams}")
            reference = direct[0]["events"]
            self.check(
                f"stream x{streams}: all 200",
                all(s["status"] == 200 for s in direct + ours),
                str({s["status"] for s in direct + ours}),
            )
            same = all(s["events"] == reference for s in direct + ours)
            self.check(f"stream x{streams}: same events via proxy as direct", same, f"{len(reference)} events")
            spread_d = med(s["spread_ms"] for s in direct)
            spread_p = med(s["spread_ms"] for s in ours)
            self.check(
                f"stream x{streams}: nothing buffered (events spread as upstream sent them)",
                # Buffering collapses the spread; compare with the upstream's own schedule (a noisy machine only
                # ever lengthens it), not with the direct run, which load can stretch.
                spread_p >= 0.8 * (len(reference) - 1) * STREAM_GAP_MS,
                f"first→last event {spread_p:.1f} ms via proxy, {spread_d:.1f} ms direct, "
                f"{(len(reference) - 1) * STREAM_GAP_MS:.0f} ms as sent",
            )
            res = {
                "streams": streams,
                "samples": len(ours),
                "direct_ttfb_p50": med(s["ttfb_ms"] for s in direct),
                "rd_ttfb_p50": med(s["ttfb_ms"] for s in ours),
                "direct_ttfb_max": max(s["ttfb_ms"] for s in direct),
                "rd_ttfb_max": max(s["ttfb_ms"] for s in ours),
                "direct_ttlb_p50": med(s["ttlb_ms"] for s in direct),
                "rd_ttlb_p50": med(s["ttlb_ms"] for s in ours),
                "events": len(reference),
                "spread_direct": spread_d,
                "spread_rd": spread_p,
            }
            res["ttfb_overhead"] = res["rd_ttfb_p50"] - res["direct_ttfb_p50"]
            res["ttlb_overhead"] = res["rd_ttlb_p50"] - res["direct_ttlb_p50"]
            limit = 3.0 if streams == 1 else 5.0
            self.target(
                f"stream TTFB overhead ≤ {limit:.0f} ms at {streams} stream(s) (p50)",
                f"{res['ttfb_overhead']:+.2f} ms",
                res["ttfb_overhead"] <= limit,
            )
            out[streams] = res
        self.extra["streaming"] = out

    def several_proxies(self) -> None:
        """Four busy proxies against one, both driven by the same four wrk processes of C=16, so the load
        generator's own scheduling is not charged to the proxies (D41). Target: total RPS ≥ 0.8× one busy proxy's,
        worst p99 ≤ 2× (D1).

        For scale: four yardstick processes against one (four busy loops sharing one core, no GIL), four yardstick
        threads of one process against one (the runner's thread layout, same GIL, without Rubberduck's code), and
        two new processes, one with one busy proxy and one with four, loaded at once, CPU per hit of each (D39,
        D40): the one busy loop also shares the core with the four, so that reading is a floor of what four cost."""
        ports = free_ports(3)
        self.rd.call("add_proxies", ports=ports, url=f"http://{HOST}:{self.up_port}/v1")
        rd_four = [self.rd_port, *ports]
        one_port, *four_ports = free_ports(5)
        one_rd = self.new_process("rubberduck-one-busy", [one_port])
        four_rd = self.new_process("rubberduck-four-busy", four_ports)
        yard_four = [self.yard_port, *free_ports(3)]
        for i, port in enumerate(yard_four[1:]):
            self.start_yardstick(f"yardstick-{i + 2}", [port])
        threads_four = free_ports(4)
        self.start_yardstick("yardstick-threads", threads_four)
        for p in [*ports, *yard_four, *threads_four]:
            wait_port(p)
            post(p, CHAT, HIT_BODY)
        layouts = (("rd", rd_four), ("yard", yard_four), ("threads", threads_four))
        results: dict[str, list[dict]] = {f"{name} {n}": [] for name, _ in layouts for n in ("one", "four")}
        at_once: list[float] = []  # one busy proxy's CPU per hit / four's
        for rep in range(self.reps):
            print(f"  [{rep + 1}/{self.reps}] four wrk of C=16 on one busy proxy, then on four", flush=True)
            for name, four in layouts:
                results[f"{name} one"].append(self.four_wrk([four[0]] * 4))
                results[f"{name} four"].append(self.four_wrk(four))
            print(f"  [{rep + 1}/{self.reps}] one busy proxy and four, each a process, at once", flush=True)
            one_cpu, four_cpu = self.cpu_at_once(
                "hit",
                16,
                ("one busy proxy", one_rd.ready["pid"], [one_port] * 4),
                ("four busy proxies", four_rd.ready["pid"], four_ports),
            )
            at_once.append(one_cpu / four_cpu)
        self.retire(one_rd, four_rd)
        row = self.row(
            "cache hit, 4×C=16: 4 busy proxies vs 1", "one busy proxy", results["rd one"], results["rd four"]
        )
        floor = self.row(
            "cache hit, 4×C=16: 4 yardstick processes vs 1 (no GIL)",
            "one yardstick",
            results["yard one"],
            results["yard four"],
        )
        threads = self.row(
            "cache hit, 4×C=16: 4 yardstick threads of one process vs 1 (same GIL)",
            "one yardstick thread",
            results["threads one"],
            results["threads four"],
        )
        self.target("4 busy proxies: total RPS ≥ 0.8× one", f"{row['rps_ratio']:.2f}×", row["rps_ratio"] >= 0.8)
        self.target("for scale: 4 yardstick threads' total RPS vs one's", f"{threads['rps_ratio']:.2f}×", None)
        self.target(
            "for scale: 4 busy proxies, one busy proxy's CPU per hit / four's, each a process, loaded at once",
            f"{statistics.median(at_once):.2f}× ({', '.join(f'{r:.2f}' for r in at_once)})",
            None,
        )
        self.target("4 busy proxies: worst p99 ≤ 2× one's", f"{row['p99_ratio']:.2f}×", row["p99_ratio"] <= 2.0)
        self.target("for scale: 4 yardstick processes' worst p99 vs one's", f"{floor['p99_ratio']:.2f}×", None)

    def four_wrk(self, ports: list[int]) -> dict:
        """Four wrk processes of C=16 at once, one per port given: total RPS, worst p50 and p99."""
        self.settle()
        up0 = upstream_count(self.up_port)
        runs = [wrk_result(p) for p in [wrk_start(port, CHAT, "hit", 16, self.duration) for port in ports]]
        calls = upstream_count(self.up_port) - up0
        self.check("several proxies: hit load makes no upstream calls", calls == 0, f"{calls} calls")
        for r in runs:
            self.check("several proxies: no errors", r["status"] + r["timeout"] == 0, json.dumps(r))
        return {
            "rps": sum(r["rps"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs),
            "p50_ms": max(r["p50_ms"] for r in runs),
            "calls_per_request": 0.0,
        }

    def memory(self) -> None:
        n = 10 if self.args.quick else 50
        port, *extra = free_ports(1 + n)
        mem = Rubberduck(self.cpus, self.workdir, "rubberduck-memory", {port: f"http://{HOST}:{self.up_port}/v1"})
        try:
            idle = mem.wait_ready()
            time.sleep(1.0)
            idle = mem.call("stats")
            after = mem.call("add_proxies", ports=extra, url=f"http://{HOST}:{self.up_port}/v1")
        finally:
            mem.stop()
        self.check("memory: all proxies running", after["running"] == n + 1, f"{after['running']} of {n + 1}")
        idle_mib = idle["rss"] / 2**20
        per = (after["rss"] - idle["rss"]) / n / 2**20
        self.extra["memory"] = {"idle_rss_mib": idle_mib, "per_proxy_mib": per, "proxies_added": n}
        self.target("idle RSS with Django loaded, 1 proxy ≤ 120 MiB", f"{idle_mib:.1f} MiB", idle_mib <= 120)
        self.target(f"RSS per additional running proxy ≤ 2 MiB ({n} added)", f"{per:.2f} MiB", per <= 2)
        stats = self.rd.call("stats")
        bounded = stats["lru_bytes"] <= stats["lru_max"]
        self.check("memory: cache within its byte bound", bounded, f"{stats['lru_bytes']} of {stats['lru_max']}")
        self.extra["memory"]["after_load"] = {
            "rss_mib": stats["rss"] / 2**20,
            "lru_mib": stats["lru_bytes"] / 2**20,
            "lru_max_mib": stats["lru_max"] / 2**20,
            "lru_entries": stats["lru_entries"],
        }
        self.target(
            "cache bounded in memory (LRU by bytes)",
            f"{stats['lru_bytes'] / 2**20:.1f} of {stats['lru_max'] / 2**20:.0f} MiB, {stats['lru_entries']} entries",
            bounded,
        )

    def ratio_targets(self) -> None:
        cells = self.cells
        for c in self.conns:
            hit = next(r for r in self.rows if r["cell"] == f"cache hit, 0 ms upstream, C={c}")
            miss = next(r for r in self.rows if r["cell"] == f"cache miss, 0 ms upstream, C={c}")
            if c in (16, 64):
                self.target(
                    f"hit RPS C={c} ≥ 0.5× yardstick (stretch 0.8×)",
                    f"{hit['rps_ratio']:.2f}×",
                    hit["rps_ratio"] >= 0.5,
                )
                self.target(f"miss RPS C={c} ≥ 0.5× yardstick", f"{miss['rps_ratio']:.2f}×", miss["rps_ratio"] >= 0.5)
                for mode in ("hit", "miss"):
                    ratios = self.at_once[(mode, c)]
                    self.target(
                        f"for scale: {mode} C={c}, the yardstick's CPU per request / ours, both loaded at once",
                        f"{statistics.median(ratios):.2f}× ({', '.join(f'{r:.2f}' for r in ratios)})",
                        None,
                    )
            if c == 1:
                runs = cells[("hit", 1)]
                d = med(r["p50_ms"] - y["p50_ms"] for r, y in zip(runs["rd"], runs["yard"], strict=True))
                self.target("hit p50 C=1 ≤ yardstick + 0.3 ms", f"{d:+.3f} ms", d <= 0.3)
            if c == 64:
                self.target("hit p99 C=64 ≤ 3× yardstick", f"{hit['p99_ratio']:.2f}×", hit["p99_ratio"] <= 3)
                self.target("miss p99 C=64 ≤ 3× yardstick", f"{miss['p99_ratio']:.2f}×", miss["p99_ratio"] <= 3)
        if 16 in self.conns and 64 in self.conns:
            rps = {c: [r["rps"] for r in cells[("miss", c)]["rd"]] for c in (16, 64)}
            ratio = paired_ratio(rps[64], rps[16])
            self.target("miss RPS C=64 ≥ 0.9× C=16", f"{ratio:.2f}×", ratio >= 0.9)

    def db_checks(self, name: str, rd: Rubberduck, count_entries: bool = True) -> None:
        s = rd.call("drain")
        self.check(f"{name}: no 'database is locked'", s["lock_errors"] == 0, f"{s['lock_errors']}")
        self.check(f"{name}: no failed db jobs", s["executor_errors"]["count"] == 0, json.dumps(s["executor_errors"]))
        if count_entries:
            for port, counts in s["proxies"].items():
                entries = s["log_entries"].get(port)
                ok = entries == counts["requests"]
                self.check(
                    f"log entries = requests (port {port})", ok, f"{entries} entries, {counts['requests']} requests"
                )

    def report(self, cpus: Cpus) -> str:
        lines = [
            f"Rubberduck bench: {self.duration:g} s per run, {self.reps} interleaved repeat(s), medians "
            f"(a ratio: the median of each repeat's ratio); {cpus.describe()}",
            "",
            "| cell | reference | ref RPS | rubberduck RPS | ratio | ref p50 ms | rd p50 ms | ref p99 ms | rd p99 ms | p99 ratio | upstream calls/req |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['cell']} | {r['reference']} | {r['ref_rps']:.0f} | {r['rd_rps']:.0f} | {r['rps_ratio']:.2f} | "
                f"{r['ref_p50']:.2f} | {r['rd_p50']:.2f} | {r['ref_p99']:.2f} | {r['rd_p99']:.2f} | {r['p99_ratio']:.2f} | "
                f"{r['calls_per_request']:.3f} |"
            )
        if "streaming" in self.extra:
            lines += [
                "",
                "| streams | samples | direct TTFB p50 | rd TTFB p50 | overhead | direct TTFB max | rd TTFB max | direct TTLB p50 | rd TTLB p50 | events | first→last event direct / rd |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for s in self.extra["streaming"].values():
                lines.append(
                    f"| {s['streams']} | {s['samples']} | {s['direct_ttfb_p50']:.2f} | {s['rd_ttfb_p50']:.2f} | "
                    f"{s['ttfb_overhead']:+.2f} | {s['direct_ttfb_max']:.2f} | {s['rd_ttfb_max']:.2f} | "
                    f"{s['direct_ttlb_p50']:.2f} | {s['rd_ttlb_p50']:.2f} | {s['events']} | "
                    f"{s['spread_direct']:.1f} / {s['spread_rd']:.1f} |"
                )
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        for name, value, ok in self.targets:
            met = "—" if ok is None else "yes" if ok else "NO"
            lines.append(f"| {name} | {value} | {met} |")
        failed = [c for c in self.checks if not c[1]]
        lines += ["", f"correctness checks: {len(self.checks) - len(failed)} of {len(self.checks)} passed"]
        lines += [f"  FAILED {n}: {d}" for n, _, d in failed]
        return "\n".join(lines)

    def run(self) -> int:
        cpus = Cpus()
        os.sched_setaffinity(0, cpus.load)  # this process (stream client) and wrk share the load core
        workdir = Path(tempfile.mkdtemp(prefix="rubberduck-bench-"))
        try:
            print(f"starting processes in {workdir}", flush=True)
            self.setup(workdir, cpus)
            self.warm()
            print("cache hits and misses vs the yardstick", flush=True)
            self.hit_miss()
            print("50 ms upstream vs direct", flush=True)
            self.upstream_50ms()
            print("streaming probe", flush=True)
            self.streaming()
            print("logging cost", flush=True)
            self.logging_cost()
            print("several busy proxies in one process", flush=True)
            self.several_proxies()
            self.db_checks("main process", self.rd)
            print("memory", flush=True)
            self.memory()
            self.ratio_targets()
        finally:
            for rd in getattr(self, "rds", []):
                rd.stop()
            for p in getattr(self, "procs", []):
                p.terminate()
                p.wait(10)
        text = self.report(cpus)
        print("\n" + text)
        if self.args.json:
            Path(self.args.json).write_text(
                json.dumps(
                    {
                        "rows": self.rows,
                        "targets": self.targets,
                        "checks": self.checks,
                        "extra": self.extra,
                        "table": text,
                    },
                    indent=2,
                )
            )
        if not self.args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        return 0 if all(ok for _, ok, _ in self.checks) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each cell (default 3)")
    parser.add_argument("--quick", action="store_true", help="one repeat, C=16 only, fewer streams and proxies")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary dir (process logs, SQLite)")
    parser.add_argument("--db-load", action="store_true", help="the database-under-load run instead")
    parser.add_argument("--profile", choices=["hit", "miss"], help="py-spy profile of the hit or miss path")
    parser.add_argument("--scale", action="store_true", help="the scale run instead (bench/scale.py)")
    scale_arguments(parser)
    args = parser.parse_args(argv)
    ensure_wrk()
    if args.scale:
        return scale(args)
    if args.db_load:
        return db_load(args)
    if args.profile:
        return profile(args)
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
