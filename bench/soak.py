"""The soak: a real `manage.py serve` under mixed traffic for a long while, its memory and descriptors watched.

    bench/soak.py --minutes 30        # by hand (nice -n 10 on a shared machine)
    bench/soak.py --seconds 45        # the short run of `make test` (tests/bench/test_soak.py)

Starts the bench's fake upstream and `manage.py serve` on a data directory of its own (SQLite), then, until the
time is up, at once: cache hits and misses, streamed hits and misses, a proxy that injects errors and cuts
streams (its failures are answers, not errors), REST API calls (lists, logs pages, a failure config written,
a proxy created and deleted) and WebSocket clients on /ws/logs/ and /ws/stats/ that connect, read a while and
leave. Every `--sample` seconds it reads the server's resident memory and open file descriptors
(/proc/PID) and its log writer's counts (/healthz), and prints them as a table.

At the end it stops the traffic, waits for the writer and checks: log entries == proxy requests sent, no
error (an exception, an unexpected status, a stream that ended short where no cut was asked for), no log entry
dropped. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HOST, PY, ROOT, free_ports, wait_port  # noqa: E402
from bench.fake_upstream import stream_events  # noqa: E402

SETUP = """
from accounts.models import ApiToken
from accounts.services import user_create_verified
user = user_create_verified(email="soak@example.com", first_is_admin=True)
print(ApiToken.issue(user, "soak")[1])
"""
STREAM_CHUNKS = 10  # the fake upstream's deltas per stream
STREAM_EVENTS = len(stream_events(STREAM_CHUNKS))  # with its first, finish, usage and [DONE] events
FAILURES = {"errors": [{"status": 500, "rate": 0.1}], "stream": {"cut_after_events": 3, "rate": 0.2}}


def chat(text: str, stream: bool = False) -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "stream": stream}


class Soak:
    def __init__(self, seconds: float, sample: float, workdir: Path, memtrace: list[str] | None = None):
        self.memtrace = memtrace  # [OUT_DIR, START_S, EVERY_S] for bench/memtrace.py, or None
        self.seconds = seconds
        self.sample = sample
        self.workdir = workdir
        self.web, self.upstream_port = free_ports(2)
        self.requests = 0  # proxy requests sent (each must give one log entry)
        self.kinds: dict[str, int] = {}
        self.errors: list[str] = []
        self.api_calls = 0
        self.sockets = 0
        self.rows: list[tuple] = []
        self.token = ""
        self.proxies: dict[str, dict] = {}
        self.server: subprocess.Popen | None = None
        self.upstream: subprocess.Popen | None = None

    # processes

    def env(self) -> dict:
        return {**os.environ, "RUBBERDUCK_DATA_DIR": str(self.workdir), "REDIS_URL": "", "LOG_LEVEL": "WARNING",
                "DATABASE_URL": f"sqlite:///{self.workdir / 'rubberduck.sqlite3'}"}  # fmt: skip

    def start(self) -> None:
        self.upstream = subprocess.Popen(
            [PY, str(ROOT / "bench" / "fake_upstream.py"), "--port", str(self.upstream_port), "--ttft-ms", "5",
             "--chunks", str(STREAM_CHUNKS), "--chunk-ms", "2"],
        )  # fmt: skip
        manage = [PY, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], env=self.env(), cwd=ROOT, check=True)
        setup = subprocess.run([*manage, "shell", "--no-imports", "-c", SETUP], env=self.env(), cwd=ROOT, check=True,
                               capture_output=True, text=True)  # fmt: skip
        self.token = setup.stdout.strip().splitlines()[-1]
        self.log = open(self.workdir / "serve.log", "w")  # noqa: SIM115
        if self.memtrace:  # the server under bench/memtrace.py, which reports where its memory goes
            manage = [PY, str(ROOT / "bench" / "memtrace.py"), *self.memtrace, "manage.py"]
        self.server = subprocess.Popen([*manage, "serve", "--port", str(self.web)], env=self.env(), cwd=ROOT,
                                       stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        wait_port(self.web, 60)
        wait_port(self.upstream_port, 30)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGINT)
            self.server.wait(60)
        if self.upstream is not None:
            self.upstream.terminate()
            self.upstream.wait(10)

    # measuring

    def resources(self) -> tuple[float, int]:
        pid = self.server.pid
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
        return rss, len(os.listdir(f"/proc/{pid}/fd"))

    async def health(self, http: aiohttp.ClientSession) -> dict:
        async with http.get(f"http://{HOST}:{self.web}/healthz") as response:
            return await response.json()

    async def sampler(self, http: aiohttp.ClientSession, started: float, deadline: float) -> None:
        last = (started, 0)
        while True:
            now = time.monotonic()
            rss, fds = self.resources()
            logs = (await self.health(http)).get("logs", {})
            rps = (self.requests - last[1]) / (now - last[0]) if now - last[0] > 0.5 else 0.0
            last = (now, self.requests)
            row = (now - started, self.requests, rps, rss, fds, logs.get("queued", 0), logs.get("written", 0),
                   logs.get("dropped", 0), self.sockets, len(self.errors))  # fmt: skip
            self.rows.append(row)
            print(ROW.format(*row), flush=True)
            if now >= deadline:
                return
            await asyncio.sleep(min(self.sample, max(deadline - time.monotonic(), 0)))

    # traffic

    async def api(self, http: aiohttp.ClientSession, method: str, path: str, body=None, expect=(200,)) -> dict:
        url = f"http://{HOST}:{self.web}/api/v1{path}"
        async with http.request(method, url, json=body, headers={"Authorization": f"Token {self.token}"}) as r:
            self.api_calls += 1
            text = await r.text()
            if r.status not in expect:
                self.errors.append(f"API {method} {path}: {r.status} {text[:200]}")
            return json.loads(text) if text and r.content_type == "application/json" else {}

    async def make_proxies(self, http: aiohttp.ClientSession) -> None:
        for name in ("plain", "failing"):
            body = {"name": name, "provider": "openai", "model_name": "gpt-4o-mini",
                    "upstream_url": f"http://{HOST}:{self.upstream_port}/v1"}  # fmt: skip
            self.proxies[name] = await self.api(http, "POST", "/proxies/", body, expect=(201,))
        await self.api(http, "PUT", f"/proxies/{self.proxies['failing']['id']}/failures", FAILURES)
        for proxy in self.proxies.values():
            for _ in range(200):
                status = await self.api(http, "GET", f"/proxies/{proxy['id']}/")
                if status.get("status") == "running":
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"proxy {proxy['id']} did not start")

    async def proxy_call(self, http: aiohttp.ClientSession, proxy: str, kind: str, text: str, stream: bool) -> None:
        failing = proxy == "failing"
        url = self.proxies[proxy]["base_url"] + "/chat/completions"
        self.requests += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        try:
            async with http.post(url, json=chat(text, stream), headers={"Authorization": "Bearer sk-soak"}) as r:
                if r.status == 200:
                    payload = await r.read()
                    if stream and not failing and payload.count(b"data: ") != STREAM_EVENTS:
                        self.errors.append(f"{kind}: a stream ended short ({payload.count(b'data: ')} events)")
                elif not (failing and r.status == 500):
                    self.errors.append(f"{kind}: {r.status} {(await r.text())[:200]}")
        except aiohttp.ClientPayloadError:
            if not (failing and stream):  # a cut stream, as asked
                self.errors.append(f"{kind}: the answer was cut")
        except (TimeoutError, aiohttp.ClientError) as e:
            self.errors.append(f"{kind}: {e!r}")

    async def proxy_worker(self, http: aiohttp.ClientSession, n: int, deadline: float) -> None:
        rng = random.Random(n)
        while time.monotonic() < deadline:
            roll = rng.random()
            new = uuid.uuid4().hex
            if roll < 0.45:
                await self.proxy_call(http, "plain", "hit", f"hit {rng.randrange(50)}", False)
            elif roll < 0.65:
                await self.proxy_call(http, "plain", "miss", f"miss {new}", False)
            elif roll < 0.75:
                await self.proxy_call(http, "plain", "stream hit", f"stream {rng.randrange(20)}", True)
            elif roll < 0.85:
                await self.proxy_call(http, "plain", "stream miss", f"stream {new}", True)
            else:
                stream = rng.random() < 0.5
                await self.proxy_call(http, "failing", "failing", f"failing {rng.randrange(30)}", stream)
            await asyncio.sleep(0.002)

    async def api_worker(self, http: aiohttp.ClientSession, deadline: float) -> None:
        turn = 0
        while time.monotonic() < deadline:
            turn += 1
            await self.api(http, "GET", "/proxies/")
            await self.api(http, "GET", f"/logs/?proxy={self.proxies['plain']['id']}&page_size=50")
            await self.api(http, "PUT", f"/proxies/{self.proxies['failing']['id']}/failures", FAILURES)
            if turn % 10 == 0:  # a proxy started and deleted: the runner's start and stop paths, its port and pool
                body = {"name": f"churn-{turn}", "provider": "openai", "model_name": "m",
                        "upstream_url": f"http://{HOST}:{self.upstream_port}/v1"}  # fmt: skip
                made = await self.api(http, "POST", "/proxies/", body, expect=(201,))
                if "id" in made:
                    await self.api(http, "DELETE", f"/proxies/{made['id']}/", expect=(204, 202))
            await asyncio.sleep(0.2)

    async def socket_worker(self, http: aiohttp.ClientSession, n: int, deadline: float) -> None:
        rng = random.Random(1000 + n)
        while time.monotonic() < deadline:
            path = "/ws/logs/" if rng.random() < 0.5 else "/ws/stats/"
            try:
                async with http.ws_connect(f"ws://{HOST}:{self.web}{path}", headers={
                    "Authorization": f"Token {self.token}"}) as ws:  # fmt: skip
                    self.sockets += 1
                    until = time.monotonic() + rng.uniform(0.5, 5)
                    while time.monotonic() < until:
                        try:
                            message = await ws.receive(timeout=max(until - time.monotonic(), 0.01))
                        except TimeoutError:
                            break
                        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                            aiohttp.WSMsgType.ERROR):  # fmt: skip
                            self.errors.append(f"{path} closed by the server: {message.data}")
                            break
                    self.sockets -= 1
            except (TimeoutError, aiohttp.ClientError) as e:
                self.errors.append(f"{path}: {e!r}")
            await asyncio.sleep(rng.uniform(0.1, 1))

    async def run(self, concurrency: int) -> None:
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(limit=concurrency + 8)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            await self.make_proxies(http)
            started = time.monotonic()
            deadline = started + self.seconds
            print(HEADER, flush=True)
            await asyncio.gather(
                self.sampler(http, started, deadline),
                self.api_worker(http, deadline),
                *(self.proxy_worker(http, n, deadline) for n in range(concurrency)),
                *(self.socket_worker(http, n, deadline) for n in range(4)),
            )
            for _ in range(300):  # the writer drains what is queued
                logs = (await self.health(http)).get("logs", {})
                if logs.get("queued") == 0:
                    break
                await asyncio.sleep(0.1)
            self.final = await self.health(http)

    def entries(self) -> int:
        ids = [str(p["id"]) for p in self.proxies.values()]
        with sqlite3.connect(self.workdir / "rubberduck.sqlite3") as db:
            query = f"SELECT COUNT(*) FROM logs_logentry WHERE proxy_id IN ({','.join(ids)})"
            return db.execute(query).fetchone()[0]


HEADER = f"{'s':>6} {'requests':>9} {'req/s':>7} {'RSS MiB':>8} {'fds':>5} {'queued':>7} {'written':>9} {'dropped':>8} {'sockets':>7} {'errors':>6}"
ROW = "{:6.0f} {:9d} {:7.0f} {:8.1f} {:5d} {:7d} {:9d} {:8d} {:7d} {:6d}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, help="instead of --minutes")
    parser.add_argument("--sample", type=float, help="seconds between samples (default: a 20th of the run, 5-60 s)")
    parser.add_argument("--concurrency", type=int, default=8, help="proxy requests at once")
    parser.add_argument(
        "--memtrace",
        nargs=3,
        metavar=("OUT_DIR", "START_S", "EVERY_S"),
        help="run the server under bench/memtrace.py: tracemalloc growth reports in OUT_DIR",
    )
    args = parser.parse_args()
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    sample = args.sample or min(max(seconds / 20, 5), 60)
    with tempfile.TemporaryDirectory(prefix="rubberduck-soak-") as workdir:
        soak = Soak(seconds, sample, Path(workdir), args.memtrace)
        try:
            soak.start()
            asyncio.run(soak.run(args.concurrency))
        finally:
            soak.stop()
        entries = soak.entries()
        log = (soak.workdir / "serve.log").read_text()
    dropped = soak.final.get("logs", {}).get("dropped", 0)
    first, last = soak.rows[0], soak.rows[-1]
    print(f"\nproxy requests {soak.requests} ({', '.join(f'{k} {n}' for k, n in sorted(soak.kinds.items()))}); "
          f"API calls {soak.api_calls}; log entries {entries}; dropped {dropped}; errors {len(soak.errors)}")  # fmt: skip
    print(f"RSS {first[3]:.1f} -> {last[3]:.1f} MiB (max {max(r[3] for r in soak.rows):.1f}); "
          f"fds {first[4]} -> {last[4]} (max {max(r[4] for r in soak.rows)})")  # fmt: skip
    checks = {
        "log entries == requests": entries == soak.requests,
        "zero errors": not soak.errors,
        "no log entry dropped": dropped == 0,
        "the server exited cleanly": soak.server.returncode == 0,
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    for error in soak.errors[:10]:
        print("  error:", error)
    if not all(checks.values()):
        print(log[-3000:])
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
