"""Scale: connections. One proxy of a real Rubberduck process (bench/rubberduck_proc.py) in front of the fake
upstream (bench/fake_upstream.py):

1. 1,000 concurrent streams, each on its own connection, direct to the upstream and through the proxy. A stream
   lasts ~5 s (24 events: the first after 20 ms, then 250 ms apart) and one starts every 2 ms, so all 1,000 are
   open at once from the second second on. The p99 of the time to first byte through the proxy less the direct
   one (target ≤ 10 ms), and nothing buffered (each stream's events spread over the upstream's schedule).
2. 10,000 idle keep-alive connections (each has had one answer) held while wrk measures cache hits at C=16: the
   hits' p99 with them held over the p99 without (target ≤ 2×), interleaved; the idle ones still answer after.
3. Hostile clients meanwhile: 1,000 connections sending request heads a byte a second and 100 malformed requests
   a second (a bad request line, a bad Content-Length, broken chunked encoding, a 100 KB header) while wrk
   measures cache hits at C=16: the hits' p99 with them over without (target ≤ 2×); no answer to them is a 500.

`scenario(quick)` returns rows (target, measured, met or None); bench/run.py --scale prints them with the other
scale scenarios. Alone: `.venv/bin/python bench/scale_connections.py [--quick]` prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CHAT, HIT_BODY, HOST, Cpus, Rubberduck, free_ports, start_upstream, warm_hits, wrk  # noqa: E402

TTFT_MS, CHUNKS, GAP_MS = 20.0, 20, 250.0
START_EVERY = 0.002  # seconds between two streams' starts: 1,000 in 2 s, each open ~5 s
EVENTS = CHUNKS + 4  # role, deltas, finish, usage, [DONE]
STREAMS, IDLE = 1000, 10_000
Row = tuple[str, str, bool | None]


def p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(0.99 * len(values)))]


async def stream_once(port: int, body: bytes) -> dict:
    """One streamed request on a new connection: the time to its first body byte, its events and their spread."""
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection(HOST, port)
    head = (
        f"POST {CHAT} HTTP/1.1\r\nHost: {HOST}:{port}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer sk-bench\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    headers = await reader.readuntil(b"\r\n\r\n")
    status = int(headers.split(b" ", 2)[1])
    first = None
    times, buffer, events = [], b"", 0
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            break
        data = (await reader.readexactly(size + 2))[:-2]
        now = time.perf_counter()
        first = first if first is not None else now
        buffer += data
        while b"\n\n" in buffer:
            _, buffer = buffer.split(b"\n\n", 1)
            events += 1
            times.append(now)
    writer.close()
    return {
        "status": status,
        "ttfb_ms": (first - t0) * 1000.0 if first else None,
        "events": events,
        "spread_ms": (times[-1] - times[0]) * 1000.0 if times else 0.0,
    }


def stream_round(port: int, streams: int) -> tuple[list[dict], int]:
    """`streams` streams started START_EVERY apart; their results, and how many were open at most at once."""
    open_now = peak = 0

    async def one(delay: float, body: bytes) -> dict:
        nonlocal open_now, peak
        await asyncio.sleep(delay)
        open_now += 1
        peak = max(peak, open_now)
        try:
            return await stream_once(port, body)
        finally:
            open_now -= 1

    async def go():
        bodies = [
            f'{{"model":"gpt-4o-mini","stream":true,"messages":[{{"role":"user","content":"s {uuid.uuid4().hex}"}}]}}'
            for _ in range(streams)
        ]
        return await asyncio.gather(*(one(i * START_EVERY, b.encode()) for i, b in enumerate(bodies)))

    return run(go()), peak


def run(coroutine):
    import uvloop

    return uvloop.run(coroutine)


def streams(up_port: int, rd_port: int, rounds: int) -> list[Row]:
    stream_round(rd_port, 20)  # warm
    direct, ours, peaks = [], [], []
    for i in range(rounds):
        print(f"  [{i + 1}/{rounds}] {STREAMS} concurrent streams, direct then through the proxy", flush=True)
        results, _ = stream_round(up_port, STREAMS)
        direct += results
        time.sleep(1)
        results, peak = stream_round(rd_port, STREAMS)
        ours += results
        peaks.append(peak)
        time.sleep(1)
    whole = all(s["status"] == 200 and s["events"] == EVENTS for s in direct + ours)
    overhead = p99([s["ttfb_ms"] for s in ours]) - p99([s["ttfb_ms"] for s in direct])
    schedule = (EVENTS - 2) * GAP_MS  # the role event and the first delta leave together upstream
    spread = statistics.median(s["spread_ms"] for s in ours)
    shortest = min(s["spread_ms"] for s in ours)
    return [
        (
            f"{STREAMS} concurrent streams: TTFB overhead p99 ≤ 10 ms",
            f"{overhead:+.1f} ms (p99 {p99([s['ttfb_ms'] for s in ours]):.1f} via proxy, "
            f"{p99([s['ttfb_ms'] for s in direct]):.1f} direct; p50 "
            f"{statistics.median(s['ttfb_ms'] for s in ours):.1f} / {statistics.median(s['ttfb_ms'] for s in direct):.1f})",
            overhead <= 10.0,
        ),
        (
            f"{STREAMS} concurrent streams: all whole, nothing buffered",
            f"{sum(s['events'] == EVENTS for s in ours)} of {len(ours)} with {EVENTS} events, {min(peaks)} open at "
            f"once; first→last event {spread:.0f} ms median, {shortest:.0f} shortest (sent over {schedule:.0f})",
            whole and spread >= 0.9 * schedule and shortest >= 0.5 * schedule and min(peaks) >= STREAMS,
        ),
    ]


class IdleConnections(threading.Thread):
    """`n` keep-alive connections on a loop of their own, each after one answer, held until released."""

    def __init__(self, port: int, n: int):
        super().__init__(name="idle-connections", daemon=True)
        self.port, self.n = port, n
        self.ready, self.release = threading.Event(), threading.Event()
        self.opened = self.answered_after = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            run(self.hold())
        except BaseException as e:
            self.error = e
            self.ready.set()

    async def ask(self, reader, writer) -> bool:
        head = (
            f"POST {CHAT} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(HIT_BODY)}\r\n\r\n"
        )
        writer.write(head.encode() + HIT_BODY)
        headers = await reader.readuntil(b"\r\n\r\n")
        length = int(headers.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        return headers.startswith(b"HTTP/1.1 200")

    async def one(self, gate: asyncio.Semaphore):
        async with gate:
            reader, writer = await asyncio.open_connection(HOST, self.port)
            await self.ask(reader, writer)
            self.opened += 1
            return reader, writer

    async def hold(self) -> None:
        gate = asyncio.Semaphore(256)
        held = await asyncio.gather(*(self.one(gate) for _ in range(self.n)))
        self.ready.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        sample = held[:: max(1, len(held) // 200)]
        answers = await asyncio.gather(*(self.ask(r, w) for r, w in sample), return_exceptions=True)
        self.answered_after = sum(a is True for a in answers)
        self.sampled = len(sample)
        for _, writer in held:
            writer.close()


GARBAGE = [
    b"GARBAGE\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n{}",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n",
    b"GET /v1/models HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    b"GET /caf\xc3\xa9\xff HTTP/1.1\r\nHost: a\r\n\r\n",
]


class HostileClients(threading.Thread):
    """Slow clients (a byte of a head a second each) and a stream of malformed requests, until released."""

    def __init__(self, port: int, slow: int, per_second: int):
        super().__init__(name="hostile-clients", daemon=True)
        self.port, self.slow, self.per_second = port, slow, per_second
        self.ready, self.release = threading.Event(), threading.Event()
        self.statuses: dict[int, int] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            run(self.go())
        except BaseException as e:
            self.error = e
            self.ready.set()

    async def trickle(self, gate: asyncio.Semaphore, stop: asyncio.Event) -> None:
        async with gate:
            _, writer = await asyncio.open_connection(HOST, self.port)
        head = f"POST {CHAT} HTTP/1.1\r\nHost: {HOST}\r\n" + "x-slow: " + "a" * 200
        for byte in head.encode():
            writer.write(bytes([byte]))
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
                break
            except TimeoutError:
                pass
        writer.close()

    async def garbage(self, raw: bytes) -> None:
        try:
            reader, writer = await asyncio.open_connection(HOST, self.port)
            writer.write(raw)
            answer = await asyncio.wait_for(reader.read(64), 5)
            writer.close()
        except (OSError, TimeoutError):
            return
        status = int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/1.1 ") else 0
        self.statuses[status] = self.statuses.get(status, 0) + 1

    async def go(self) -> None:
        stop, gate = asyncio.Event(), asyncio.Semaphore(256)
        slow = [asyncio.ensure_future(self.trickle(gate, stop)) for _ in range(self.slow)]
        await asyncio.sleep(2)
        self.ready.set()
        sent, pending = 0, set()
        while not self.release.is_set():
            task = asyncio.ensure_future(self.garbage(GARBAGE[sent % len(GARBAGE)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
            await asyncio.sleep(1 / self.per_second)
        stop.set()
        await asyncio.gather(*slow, *pending, return_exceptions=True)


def hostile(rd_port: int, reps: int, duration: float) -> list[Row]:
    warm_hits(rd_port)
    without, with_them, statuses = [], [], {}
    for i in range(reps):
        print(f"  [{i + 1}/{reps}] hits at C=16, without then with hostile clients", flush=True)
        without.append(wrk(rd_port, CHAT, "hit", 16, duration)["p99_ms"])
        clients = HostileClients(rd_port, 1000, 100)
        clients.start()
        clients.ready.wait(60)
        if clients.error is not None:
            raise clients.error
        with_them.append(wrk(rd_port, CHAT, "hit", 16, duration)["p99_ms"])
        clients.release.set()
        clients.join(60)
        for status, n in clients.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    ratio = statistics.median(h / w for h, w in zip(with_them, without, strict=True))
    return [
        (
            "1,000 slow clients and 100 malformed requests/s meanwhile: hit p99 (C=16) ≤ 2× without",
            f"{ratio:.2f}× ({statistics.median(with_them):.2f} ms with, {statistics.median(without):.2f} ms without)",
            ratio <= 2.0,
        ),
        (
            "malformed requests: answered 4xx (or closed), never a 500",
            ", ".join(f"{n} × {status or 'closed'}" for status, n in sorted(statuses.items())),
            500 not in statuses and bool(statuses),
        ),
    ]


def idle(rd_port: int, reps: int, duration: float) -> list[Row]:
    warm_hits(rd_port)
    without, held = [], []
    idlers = None
    for i in range(reps):
        print(f"  [{i + 1}/{reps}] hits at C=16, without then with {IDLE} idle connections", flush=True)
        without.append(wrk(rd_port, CHAT, "hit", 16, duration)["p99_ms"])
        idlers = IdleConnections(rd_port, IDLE)
        t0 = time.perf_counter()
        idlers.start()
        idlers.ready.wait(120)
        if idlers.error is not None:
            raise idlers.error
        opened_in = time.perf_counter() - t0
        held.append(wrk(rd_port, CHAT, "hit", 16, duration)["p99_ms"])
        idlers.release.set()
        idlers.join(60)
    ratio = statistics.median(h / w for h, w in zip(held, without, strict=True))
    return [
        (
            f"{IDLE} idle keep-alive connections held: hit p99 (C=16) ≤ 2× without",
            f"{ratio:.2f}× ({statistics.median(held):.2f} ms with, {statistics.median(without):.2f} ms without; "
            f"{IDLE} opened and answered in {opened_in:.1f} s)",
            ratio <= 2.0,
        ),
        (
            f"{IDLE} idle keep-alive connections: still answered after",
            f"{idlers.answered_after} of {idlers.sampled} sampled",
            idlers.answered_after == idlers.sampled,
        ),
    ]


PARTS = ("streams", "idle", "hostile")


def scenario(quick: bool, parts: tuple[str, ...] = PARTS) -> list[Row]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process and those it starts hold many
    if hard < IDLE + 1000:  # each process: this one's client side, Rubberduck's server side
        return [("connections scenario", f"needs an open-files limit of {IDLE + 1000}, hard limit {hard}", None)]
    cpus = Cpus()
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus.load)  # the clients here and wrk share the load core (bench/common.py Cpus)
    workdir = Path(tempfile.mkdtemp(prefix="rd-bench-connections-"))
    up_port, rd_port = free_ports(2)
    upstream = start_upstream(cpus, workdir, up_port, f"--ttft-ms={TTFT_MS}", f"--chunks={CHUNKS}",
                              f"--chunk-ms={GAP_MS}")  # fmt: skip
    rd = Rubberduck(cpus, workdir, "connections", {rd_port: f"http://{HOST}:{up_port}/v1"})
    try:
        rd.wait_ready()
        reps, duration = (1, 2) if quick else (3, 5)
        rows = streams(up_port, rd_port, reps) if "streams" in parts else []
        if "idle" in parts:
            rows += idle(rd_port, reps, duration)
        return rows + (hostile(rd_port, reps, duration) if "hostile" in parts else [])
    finally:
        rd.stop()
        upstream.terminate()
        upstream.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        os.sched_setaffinity(0, affinity)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round of each, shorter wrk runs")
    parser.add_argument("--parts", default=",".join(PARTS), help="which of them, comma-separated")
    args = parser.parse_args(argv)
    rows = scenario(args.quick, tuple(args.parts.split(",")))
    print("\n| target | measured | met |\n|---|---|---|")
    for target, measured, met in rows:
        print(f"| {target} | {measured} | {'—' if met is None else 'yes' if met else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
