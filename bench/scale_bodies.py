"""Scale scenario: big bodies. How much a real Rubberduck process (bench/rubberduck_proc.py) grows for each
request in flight with a 20 MB request body, a 50 MB answer (Content-Length, and chunked) and a 50 MB stream:
its resident memory sampled every few milliseconds while N such requests are in flight at once, the peak's growth
over the idle process divided by N, against the body's size. Target: at most 2× the body per request.

Quick leaves out the chunked answer. The upstream (a thread of this process) holds each request until all N have arrived, so they are in flight
together; answers go out in 1 MiB writes, read by clients that throw them away as they come.

    python -m bench.scale_bodies [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import orjson

from bench.common import HOST, Cpus, Rubberduck, free_ports, rss

MB = 1_000_000
SMALL = orjson.dumps(
    {
        "id": "chatcmpl-big",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
)


def big_answer(size: int) -> bytes:
    """A chat completion whose text makes it `size` bytes."""
    shell = orjson.loads(SMALL)
    shell["choices"][0]["message"]["content"] = ""
    empty = len(orjson.dumps(shell))
    shell["choices"][0]["message"]["content"] = "x" * (size - empty)
    return orjson.dumps(shell)


def big_stream(size: int) -> list[bytes]:
    """SSE frames of about 64 KiB of text each, `size` bytes in all with the end."""
    frame = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    frame += b'"delta":{"content":"' + b"x" * 65_000 + b'"},"finish_reason":null}]}\n\n'
    return [frame] * (size // len(frame)) + [b"data: [DONE]\n\n"]


class Upstream:
    """Answers `/req/...` small once `gather` requests are in (their bodies read and dropped), `/len/...` with a
    50 MB body and its Content-Length, `/chunked/...` with it chunked, `/sse/...` with a 50 MB stream."""

    def __init__(self, answer_size: int):
        self.answer = big_answer(answer_size)
        self.stream = big_stream(answer_size)
        self.barrier: threading.Barrier | None = None
        self.received: list[int] = []
        up = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                left, size = int(self.headers.get("content-length") or 0), 0
                while left:
                    part = self.rfile.read1(min(left, 1 << 20))
                    if not part:
                        break
                    size += len(part)
                    left -= len(part)
                up.received.append(size)
                kind = self.path.split("/")[1]
                if kind == "req" and up.barrier is not None:
                    try:
                        up.barrier.wait(60)
                    except threading.BrokenBarrierError:
                        pass
                if kind in ("req", "len"):
                    body = SMALL if kind == "req" else up.answer
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    view = memoryview(body)
                    for i in range(0, len(body), 1 << 20):
                        self.wfile.write(view[i : i + (1 << 20)])
                    return
                self.send_response(200)
                self.send_header("content-type", "application/json" if kind == "chunked" else "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                view = memoryview(up.answer)
                parts = [view[i : i + (1 << 20)] for i in range(0, len(up.answer), 1 << 20)]
                for part in parts if kind == "chunked" else up.stream:
                    self.wfile.write(f"{len(part):x}\r\n".encode() + bytes(part) + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Peak:
    """The highest resident size of a process while it is running (sampled every 2 ms)."""

    def __init__(self, pid: int):
        self.pid, self.peak = pid, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self):
        while not self.done.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.002)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


def ask(url: str, body: bytes) -> int:
    """POSTs `body`, reads the answer as it comes and drops it; the answer's size."""
    size = 0
    with httpx.Client(timeout=120) as client:
        headers = {"content-type": "application/json", "authorization": "Bearer sk-bench"}
        with client.stream("POST", url, content=body, headers=headers) as answer:
            answer.raise_for_status()
            for part in answer.iter_raw():
                size += len(part)
    return size


def chat(content: str) -> bytes:
    return orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]})


def in_flight(pid: int, n: int, url: str, bodies: list[bytes]) -> tuple[int, list[int]]:
    """The peak resident size while `n` requests run at once, and each answer's size."""
    sizes: list[int] = [0] * n

    def one(i):
        sizes[i] = ask(url, bodies[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    with Peak(pid) as peak:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return peak.peak, sizes


def measure(upstream: Upstream, kind: str, n: int, bodies: list[bytes]) -> tuple[int, int, list[int], int, int]:
    """A fresh Rubberduck process (freed memory an earlier measure left with the allocator would hide growth),
    warmed with one small request of `kind`: its idle and peak resident size with `n` requests in flight."""
    workdir = Path(tempfile.mkdtemp(prefix="rd-bench-bodies-"))
    port = free_ports(1)[0]
    rd = Rubberduck(Cpus(), workdir, "rubberduck", {port: f"{upstream.url}/{kind}/v1"})
    try:
        pid = rd.wait_ready()["pid"]
        url = f"http://{HOST}:{port}/v1/chat/completions"
        upstream.barrier = None
        ask(url, chat(f"warm {uuid.uuid4().hex}"))
        time.sleep(0.3)
        held: list[int] = []  # the resident size once all `n` are in flight, waiting for their answers
        upstream.barrier = threading.Barrier(n, action=lambda: held.append(rss(pid))) if kind == "req" else None
        idle = rss(pid)
        peak, sizes = in_flight(pid, n, url, bodies)
        cached = rd.call("stats")["lru_entries"]
    finally:
        rd.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return idle, peak, sizes, cached, held[0] if held else 0


def scenario(quick: bool) -> list[tuple[str, str, bool | None]]:
    n = 4  # quick or not, so their figures compare; with 2 the two peaks coincide more often (2.0×, D61)
    request_size, answer_size = 20 * MB, 50 * MB
    rows: list[tuple[str, str, bool | None]] = []
    upstream = Upstream(answer_size)
    try:
        filler = "y" * (request_size - len(chat("")) - 8)
        bodies = [chat(f"{i}{uuid.uuid4().hex[:7]}" + filler) for i in range(n)]
        idle, peak, _, _, held = measure(upstream, "req", n, bodies)
        per = (peak - idle) / n
        arrived = sorted(upstream.received[-n:]) == sorted(len(b) for b in bodies)
        rows.append(
            (
                f"a 20 MB request in flight (×{n} at once): peak RSS growth ≤ 2× its body, forwarded intact",
                f"{per / MB:.1f} MB each = {per / request_size:.2f}× (idle {idle / MB:.0f} MB, peak {peak / MB:.0f} MB)"
                + ("" if arrived else ", NOT intact"),
                per <= 2 * request_size and arrived,
            )
        )
        rows.append(
            (
                "for scale: the same, all sent and waiting for their answers",
                f"{(held - idle) / n / MB:.1f} MB each = {(held - idle) / n / request_size:.2f}×",
                None,
            )
        )
        kinds = (("len", "with Content-Length"), ("chunked", "chunked"), ("sse", "as a stream"))
        for kind, what in kinds[::2] if quick else kinds:
            bodies = [chat(f"{kind} {uuid.uuid4().hex}") for _ in range(n)]
            idle, peak, sizes, cached, _ = measure(upstream, kind, n, bodies)
            per = (peak - idle) / n
            whole = all(s >= answer_size - 100_000 for s in sizes)
            rows.append(
                (
                    f"a 50 MB answer {what} in flight (×{n} at once): peak RSS growth ≤ 2× its body, passed whole, "
                    "not cached",
                    f"{per / MB:.1f} MB each = {per / answer_size:.2f}× (idle {idle / MB:.0f} MB, "
                    f"peak {peak / MB:.0f} MB), {cached} cached" + ("" if whole else ", NOT whole"),
                    per <= 2 * answer_size and whole and cached == 0,
                )
            )
    finally:
        upstream.stop()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="no chunked answer (it lies between the other two)")
    args = parser.parse_args(argv)
    rows = scenario(args.quick)
    width = max(len(target) for target, _, _ in rows)
    for target, measured, met in rows:
        mark = "—" if met is None else "met" if met else "NOT MET"
        print(f"{target:<{width}}  {measured}  [{mark}]")
    return 0 if all(met is not False for _, _, met in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
