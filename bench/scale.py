"""`bench/run.py --scale` (or this file): the logs at tens of millions of rows, through the real server.

Builds a fresh database of --rows log entries (10 M unless given; bench/bulk_logs.py, generated inside the
database), on SQLite or, with --database postgres, on a new PostgreSQL database (DATABASE_URL
postgres://postgres@127.0.0.1:5432/<fresh db>, dropped afterwards). Then starts the real server
(`manage.py serve`: daphne, the runner embedded, one proxy on the fake upstream) and times, through HTTP:

- the logs list's first page and next page for every filter combination of bench/bulk_logs.py (alone, then
  at ten calls a second while wrk loads the proxy with cache hits: hit p99 with and without them);
- the dashboard's metrics calls;
- an export of about a million rows (first byte, rows/s, the server's memory growth);
- a purge of about a million rows through the API, then a retention of about as many, each while wrk loads
  the proxy (hit p99 against before; new entries keep being written; no "database is locked").

Correctness is checked as it goes (totals against the exact counts of the builder, the export's row count,
what the purge deleted...); then every `bench/scale_*.py` module with a `scenario(quick)` adds its own rows.
Prints one table of target / measured / met. Exit status 1 when a correctness check fails.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the bench package

from bench.common import (  # noqa: E402
    BENCH,
    CHAT,
    HIT_BODY,
    HOST,
    PY,
    ROOT,
    Cpus,
    ensure_wrk,
    free_ports,
    post,
    rss,
    start_upstream,
    wait_port,
    wrk,
    wrk_result,
    wrk_start,
)

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
Row = tuple[str, str, bool | None]


def pick(values: list[float], q: float) -> float | None:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


class Api:
    """Keep-alive HTTP to the server with the bench user's token; each call timed."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection(HOST, port, timeout=600)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | list | None, float]:
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=600)
            raise
        elapsed = (time.perf_counter() - t0) * 1000.0
        return response.status, json.loads(raw) if raw else None, elapsed

    def get(self, path: str, params: dict | None = None):
        return self.call("GET", path + ("?" + urllib.parse.urlencode(params) if params else ""))


class Scale:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.rows: list[Row] = []
        self.checks: list[tuple[str, bool, str]] = []
        self.extra: dict = {}
        self.duration = 2.0 if self.quick else 5.0
        self.database_cpus = ""  # where PostgreSQL ran while measured, for the report (database_apart)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, bool(ok), detail))
        if not ok:
            print(f"  CHECK FAILED: {name}: {detail}", flush=True)

    def target(self, name: str, value: str, ok: bool | None) -> None:
        self.rows.append((name, value, ok))
        print(f"  {name}: {value} ({'—' if ok is None else 'met' if ok else 'NOT MET'})", flush=True)

    # ------------------------------------------------------------ setup

    def environment(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            RUBBERDUCK_DATA_DIR=str(self.workdir / "data"),
            DJANGO_SETTINGS_MODULE="rubberduck_site.settings",
            RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS="1",
            RUBBERDUCK_RETENTION_SECONDS="3",  # so that the retention part starts soon after it is set
        )
        (self.workdir / "data").mkdir()
        if self.args.database == "postgres":
            self.pg_name = f"rubberduck_scale_{uuid.uuid4().hex[:8]}"
            if not (self.args.data and (Path(self.args.data) / "built.json").exists()):
                self.pg_create()
            env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{self.pg_name}"
        return env

    def prepare(self) -> None:
        """The data: built here, or copied from a kept build (--data DIR: made there on the first run, reused
        after, so a re-measurement skips the build; the purge and retention change only the copy)."""
        kept = Path(self.args.data) / "built.json" if self.args.data else None
        if kept is not None and kept.exists():
            built = json.loads(kept.read_text())
            if (built["rows"], built["database"]) != (self.args.rows, self.args.database):
                raise SystemExit(f"{kept} holds {built['rows']:,} rows on {built['database']}")
            self.data, self.up_port, self.proxy_port = built["data"], built["up_port"], built["proxy_port"]
            if self.args.database == "postgres":
                self.pg_create(template=built["pg_name"])
            else:
                shutil.copytree(Path(self.args.data) / "data", self.workdir / "data", dirs_exist_ok=True)
            os.sync()  # the copy's gigabytes written back now, not while the bench measures
            print(f"data: {self.args.rows:,} rows copied from {self.args.data}", flush=True)
            return
        self.build()
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            built = {"rows": self.args.rows, "database": self.args.database, "data": self.data}
            built |= {"up_port": self.up_port, "proxy_port": self.proxy_port}
            if self.args.database == "postgres":
                built["pg_name"] = f"{self.pg_name}_kept"
                self.pg_execute(f"CREATE DATABASE {built['pg_name']} TEMPLATE {self.pg_name}")
            else:
                shutil.copytree(self.workdir / "data", kept.parent / "data", dirs_exist_ok=True)
            kept.write_text(json.dumps(built))

    @contextmanager
    def database_apart(self):
        """PostgreSQL stands for a server on another machine, as the fake upstream does for a provider: its
        processes go to the load core, so that its work does not take the server's core from the proxy."""
        if self.args.database != "postgres":
            yield
            return
        with self.cpus.database_on_load_core() as moved:
            self.database_cpus = f"; PostgreSQL on CPU {sorted(self.cpus.load)}" if moved else "; PostgreSQL unpinned"
            yield

    def pg_execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql)

    def pg_create(self, template: str | None = None) -> None:
        self.pg_execute(f"CREATE DATABASE {self.pg_name}" + (f" TEMPLATE {template}" if template else ""))

    def build(self) -> None:
        export_rows = min(1_000_000, self.args.rows // 4)
        purge_rows = min(1_000_000, self.args.rows // 4)
        print(f"building {self.args.rows:,} log entries on {self.args.database}", flush=True)
        t0 = time.monotonic()
        out = subprocess.run(
            [
                PY,
                str(BENCH / "bulk_logs.py"),
                f"--rows={self.args.rows}",
                f"--port={self.proxy_port}",
                f"--upstream=http://{HOST}:{self.up_port}/v1",
                f"--export-rows={export_rows}",
                f"--purge-rows={purge_rows}",
            ],  # fmt: skip
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"building the data failed:\n{out.stderr[-3000:]}")
        self.data = json.loads(out.stdout.strip().splitlines()[-1])
        took = time.monotonic() - t0
        rate = self.args.rows / max(took, 1e-9)
        self.target(
            f"build {self.args.rows:,} rows (+ roll-ups, PostgreSQL's VACUUM ANALYZE, exact counts)",
            f"{took:.0f} s ({rate:,.0f} rows/s; insert {self.data['insert_s']} s)",
            None,
        )

    def plans(self) -> None:
        out = subprocess.run(
            [PY, str(BENCH / "query_plans.py")],
            cwd=ROOT,
            env=self.env,
            input=json.dumps(self.data),
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            self.check("query plans read", False, out.stderr[-2000:])
            return
        plans = json.loads(out.stdout.strip().splitlines()[-1])
        self.extra["plans"] = plans
        bad = [f"{name} ({kind})" for name, kinds in plans.items() for kind, p in kinds.items() if not p["indexed"]]
        scans = [f"{name} (count)" for name, kinds in plans.items() if kinds["count"].get("bounded_scan")]
        total = sum(len(kinds) for kinds in plans.values())
        self.target(
            f"EXPLAIN ({self.args.database}): pages and counts of every combination read through an index, no sort",
            f"{total - len(bad)} of {total}"
            + (f"; not: {', '.join(bad)}" if bad else "")
            + (f"; counts reading the table up to 10,001 matches: {', '.join(scans)}" if scans else ""),
            not bad,
        )

    def start_server(self) -> None:
        self.server_log = open(self.workdir / "server.log", "w")  # noqa: SIM115
        self.server = subprocess.Popen(
            [PY, "manage.py", "serve", "--port", str(self.server_port), "--host", HOST],
            cwd=ROOT,
            env=self.env,
            stdout=self.server_log,
            stderr=subprocess.STDOUT,
            preexec_fn=self.cpus.server_preexec(),
        )
        wait_port(self.server_port, timeout=120)
        wait_port(self.proxy_port, timeout=60)
        self.api = Api(self.server_port, self.data["token"])
        self.bounded_by_time: list[str] = []
        self.list_round({"first": [], "next": []}, verify=True)  # before any traffic adds entries to the counts
        self.target(
            "list totals counted within the count's time budget",
            f"{len(self.data['combos']) - len(self.bounded_by_time)} of {len(self.data['combos'])}"
            + (f"; a lower bound from the page: {', '.join(self.bounded_by_time)}" if self.bounded_by_time else ""),
            None,
        )
        post(self.proxy_port, CHAT, HIT_BODY)  # stored: the hit load's answer
        wrk(self.proxy_port, CHAT, "hit", 16, 1)  # warm

    def server_output(self) -> str:
        self.server_log.flush()
        return (self.workdir / "server.log").read_text(errors="replace")

    # ------------------------------------------------------------ the list

    def list_round(self, latencies: dict, verify: bool) -> None:
        """Every combination once: its first page, then its next page."""
        for name, params in self.data["combos"].items():
            status, body, elapsed = self.api.get("/api/v1/logs/", params)
            latencies["first"].append(elapsed)
            latencies.setdefault(name, []).append(elapsed)
            if status != 200:
                self.check(f"list {name}: 200", False, f"{status} {body}")
                continue
            if verify:
                self.verify_page(name, body)
            if body["next"]:
                url = urllib.parse.urlsplit(body["next"])
                status, page, elapsed = self.api.get(f"{url.path}?{url.query}")
                latencies["next"].append(elapsed)
                latencies.setdefault(f"{name} (next)", []).append(elapsed)
                if verify:
                    older = page["results"] and page["results"][0]["id"] < body["results"][-1]["id"]
                    self.check(f"list {name}: the next page continues the first", status == 200 and older, "")

    def verify_page(self, name: str, body: dict) -> None:
        expected = self.data["counts"][name]
        if body["total_is_lower_bound"] and body["total"] < min(expected, 10_000):
            # The count ran out of its time budget: the total is what the page read.
            ok = body["total"] == min(len(body["results"]) + 1, expected) and body["next"] is not None
            self.bounded_by_time.append(name)
        elif expected > 10_000:
            ok = body["total"] == 10_000 and body["total_is_lower_bound"] is True
        else:
            ok = body["total"] == expected and body["total_is_lower_bound"] is False
        self.check(f"list {name}: total", ok and body["count"] == body["total"], f"{body['total']} for {expected}")
        results = body["results"]
        self.check(f"list {name}: a full first page", len(results) == min(50, expected), f"{len(results)}")
        keys = [(r["timestamp"], r["id"]) for r in results]
        self.check(f"list {name}: newest first", keys == sorted(keys, reverse=True), "")

    def lists(self) -> None:
        rounds = 3 if self.quick else 25
        print(f"logs list: {len(self.data['combos'])} filter combinations × {rounds} rounds", flush=True)
        latencies: dict[str, list[float]] = {"first": [], "next": []}
        self.list_round({"first": [], "next": []}, verify=False)  # warms the server's code
        for _ in range(rounds):
            self.list_round(latencies, verify=False)
        worst = max(
            (name for name in latencies if name not in ("first", "next")), key=lambda n: pick(latencies[n], 0.99)
        )
        first, following = pick(latencies["first"], 0.99), pick(latencies["next"], 0.99)
        n = len(self.data["combos"])
        self.target(
            f"logs first page, {n} filter combinations: p99 ≤ 50 ms",
            f"{ms(first)} (p50 {ms(pick(latencies['first'], 0.5))}; slowest: {worst}, "
            f"p99 {ms(pick(latencies[worst], 0.99))})",
            first <= 50,
        )
        self.target(
            f"logs next page, {n} filter combinations: p99 ≤ 20 ms",
            f"{ms(following)} (p50 {ms(pick(latencies['next'], 0.5))})",
            following <= 20,
        )
        self.extra["list"] = {name: {"p50": pick(v, 0.5), "p99": pick(v, 0.99)} for name, v in latencies.items()}

    def metrics(self) -> None:
        calls = [{"window": "1m"}, {"window": "15m"}, {"window": "1h"}]
        calls += [{**c, "proxy": self.data["proxies"][0]} for c in calls]
        latencies = []
        for i in range(5 if self.quick else 40):
            for params in calls:
                status, body, elapsed = self.api.get("/api/v1/metrics/", params)
                if i == 0:
                    self.check(f"metrics {params}: 200 with buckets", status == 200 and bool(body), str(status))
                    if params == {"window": "1h"}:
                        self.check(
                            "metrics 1h: the roll-ups hold the week's requests",
                            sum(b["requests"] for b in body) > 0,
                            "",
                        )
                latencies.append(elapsed)
        p99 = pick(latencies, 0.99)
        self.target("dashboard metrics calls (1m/15m/1h, all and one proxy): p99 ≤ 50 ms", ms(p99), p99 <= 50)

    def hits_during_api(self) -> None:
        """wrk's hit p99 alone, then with the list and metrics calls going at ten a second."""
        base = wrk(self.proxy_port, CHAT, "hit", 16, self.duration)
        stop = threading.Event()
        api_latencies: list[float] = []

        def calls():
            api = Api(self.server_port, self.data["token"])
            combos = list(self.data["combos"].values())
            i = 0
            while not stop.is_set():
                if i % 5 == 4:
                    _, _, elapsed = api.get("/api/v1/metrics/", {"window": "15m"})
                else:
                    _, _, elapsed = api.get("/api/v1/logs/", combos[i % len(combos)])
                api_latencies.append(elapsed)
                i += 1
                stop.wait(0.1)

        thread = threading.Thread(target=calls, daemon=True)
        thread.start()
        during = wrk(self.proxy_port, CHAT, "hit", 16, self.duration)
        stop.set()
        thread.join()
        ratio = during["p99_ms"] / base["p99_ms"]
        self.check("hit load: no errors", base["errors"] + during["errors"] == 0, f"{base} {during}")
        self.target(
            "proxy hit p99 while the list and metrics are called (10/s): ≤ 1.5× without",
            f"{ratio:.2f}× ({during['p99_ms']:.1f} vs {base['p99_ms']:.1f} ms; API p99 meanwhile "
            f"{ms(pick(api_latencies, 0.99))})",
            ratio <= 1.5,
        )
        self.base_hit_p99 = base["p99_ms"]

    # ------------------------------------------------------------ export

    def export(self) -> None:
        params = {**self.data["ranges"]["export"], "format": "csv"}
        expected = self.data["counts"]["export"]
        print(f"export of {expected:,} rows", flush=True)
        pid = self.server.pid
        before = rss(pid)
        peak = [before]
        done = threading.Event()

        def watch():
            while not done.is_set():
                peak[0] = max(peak[0], rss(pid))
                done.wait(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        conn = http.client.HTTPConnection(HOST, self.server_port, timeout=600)
        t0 = time.perf_counter()
        conn.request(
            "GET",
            "/api/v1/logs/export?" + urllib.parse.urlencode(params),
            headers={"Authorization": f"Token {self.data['token']}"},
        )
        response = conn.getresponse()
        first = response.read1(65536)
        first_byte = time.perf_counter() - t0
        lines = first.count(b"\n")
        while chunk := response.read1(1 << 20):
            lines += chunk.count(b"\n")
        took = time.perf_counter() - t0
        done.set()
        watcher.join()
        conn.close()
        rows = lines - 1
        growth = (peak[0] - before) / 2**20
        self.check("export: 200, every row of the range", response.status == 200 and rows == expected, f"{rows}")
        self.target(f"export of {rows:,} rows: first byte ≤ 1 s", f"{first_byte * 1000:.0f} ms", first_byte <= 1)
        self.target(f"export of {rows:,} rows: ≥ 100,000 rows/s", f"{rows / took:,.0f} rows/s", rows / took >= 1e5)
        self.target(f"export of {rows:,} rows: server memory growth ≤ 30 MiB", f"{growth:.1f} MiB", growth <= 30)

    # ------------------------------------------------------------ purge and retention

    def newest_id(self, api: Api) -> int | None:
        _, body, _ = api.get("/api/v1/logs/", {"page_size": 1})
        return body["results"][0]["id"] if body and body["results"] else None

    def under_load(self, label: str, work) -> dict:
        """Runs `work()` on a thread while wrk loads the proxy in windows of `duration` seconds; the newest log
        entry's id is read once a second meanwhile (it must keep growing: entries are still written)."""
        result: dict = {}
        finished = threading.Event()

        def run():
            try:
                result["value"] = work()
            except Exception as e:  # reported as a failed check
                result["error"] = repr(e)
            finally:
                finished.set()

        api = Api(self.server_port, self.data["token"])
        ids = [self.newest_id(api)]
        t0 = time.monotonic()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        windows = []
        while not finished.is_set():
            load = wrk_start(self.proxy_port, CHAT, "hit", 16, self.duration)
            while load.poll() is None:
                time.sleep(1.0)
                ids.append(self.newest_id(api))
            windows.append(wrk_result(load))
        took = time.monotonic() - t0
        thread.join()
        grew = sum(1 for a, b in zip(ids, ids[1:], strict=False) if b is not None and (a is None or b > a))
        worst = max(w["p99_ms"] for w in windows)
        ratio = worst / self.base_hit_p99
        self.check(f"{label}: no error", "error" not in result, result.get("error", ""))
        self.check(f"{label}: hit load without errors", all(w["errors"] == 0 for w in windows), "")
        self.check(
            f"{label}: new entries written meanwhile (the newest id grew in most seconds)",
            grew >= (len(ids) - 1) // 2 and grew > 0,
            f"grew in {grew} of {len(ids) - 1} seconds",
        )
        self.target(
            f"proxy hit p99 during the {label}: ≤ 2× before",
            f"{ratio:.2f}× (worst {self.duration:g} s window {worst:.1f} ms, median "
            f"{statistics.median(w['p99_ms'] for w in windows):.1f} ms, vs {self.base_hit_p99:.1f} ms; "
            f"{len(windows)} windows, {took:.0f} s)",
            ratio <= 2,
        )
        return result

    def purge(self) -> None:
        expected = self.data["counts"]["purge"]
        print(f"purge of {expected:,} rows under hit load", flush=True)
        api = Api(self.server_port, self.data["token"])
        result = self.under_load(
            f"purge of {expected:,} rows",
            lambda: api.call("DELETE", "/api/v1/logs/?" + urllib.parse.urlencode(self.data["ranges"]["purge"])),
        )
        if "value" in result:
            status, body, elapsed = result["value"]
            deleted = (body or {}).get("deleted")
            self.check("purge: deleted exactly the range", status == 200 and deleted == expected, f"{body}")
            self.target(f"purge of {expected:,} rows: took", f"{elapsed / 1000:.1f} s", None)

    def retention(self) -> None:
        """Retention set so that about as many rows as the purge took are past it; applied by the runner."""
        start, step, rows = self.data["start"], self.data["step"], self.data["rows"]
        target = min(1_000_000, rows // 4)
        # The rows older than the cutoff: the purged ones and about `target` more.
        oldest_kept = start + 2 * target / 0.95 * step
        days = max(1, int((time.time() - oldest_kept) / 86400))
        cutoff = time.time() - days * 86400
        api = Api(self.server_port, self.data["token"])
        until = {"until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cutoff - 60))}
        # Rows are evenly spaced from `start`: those before the cutoff, less the purged ones (a count through the
        # API would be a lower bound past its time budget).
        past = max(0, int((cutoff - start) / step) - self.data["counts"]["purge"])
        print(f"retention of {days} days: about {past:,} entries past it", flush=True)
        _, settings, _ = api.get("/api/v1/settings/")

        def expire():
            status, body, _ = api.call("PUT", "/api/v1/settings/", {**settings, "log_retention_days": days})
            if status != 200:
                raise RuntimeError(f"settings: {status} {body}")
            t0 = time.monotonic()
            watch = Api(self.server_port, self.data["token"])
            while True:
                _, page, _ = watch.get("/api/v1/logs/", {**until, "page_size": 1})
                if page["total"] == 0:
                    return time.monotonic() - t0
                if time.monotonic() - t0 > 1800:
                    raise RuntimeError(f"retention still has {page['total']} entries to delete")
                time.sleep(0.5)

        result = self.under_load(f"retention of about {past:,} rows", expire)
        if "value" in result:
            self.target("retention: done in", f"{result['value']:.1f} s", None)

    def locks(self) -> None:
        output = self.server_output()
        locked = output.count("database is locked")
        self.check("no 'database is locked' in the server's output", locked == 0, f"{locked} times")
        self.check("no traceback in the server's output", "Traceback" not in output, output[-2000:])

    # ------------------------------------------------------------ others' scenarios, the table

    def scenarios(self) -> None:
        wanted = self.args.scenarios
        for path in sorted(BENCH.glob("scale_*.py")):
            if wanted != "all" and path.stem.removeprefix("scale_") not in wanted.split(","):
                continue
            module = importlib.import_module(f"bench.{path.stem}")
            scenario = getattr(module, "scenario", None)
            if not callable(scenario):
                continue
            print(f"scenario {path.stem}", flush=True)
            try:
                rows = scenario(self.quick)
            except Exception as e:
                self.check(f"scenario {path.stem} ran", False, repr(e))
                continue
            for name, value, ok in rows:
                self.target(name, value, ok)

    def report(self) -> str:
        lines = [
            f"Rubberduck scale bench: {self.args.rows:,} log entries on {self.args.database}; {self.cpus.describe()}"
            + self.database_cpus,
            "",
            "| target | measured | met |",
            "|---|---|---|",
        ]
        for name, value, ok in self.rows:
            lines.append(f"| {name} | {value} | {'—' if ok is None else 'yes' if ok else 'NO'} |")
        failed = [c for c in self.checks if not c[1]]
        lines += ["", f"correctness checks: {len(self.checks) - len(failed)} of {len(self.checks)} passed"]
        lines += [f"  FAILED {n}: {d}" for n, _, d in failed]
        return "\n".join(lines)

    def run(self) -> int:
        self.cpus = Cpus()
        os.sched_setaffinity(0, self.cpus.load)
        self.workdir = Path(tempfile.mkdtemp(prefix="rubberduck-scale-"))
        self.up_port, self.server_port, self.proxy_port = free_ports(3)
        self.server = None
        procs = []
        try:
            self.env = self.environment()
            self.prepare()
            if self.args.build_only:
                shutil.rmtree(self.workdir, ignore_errors=True)
                return 0
            procs.append(start_upstream(self.cpus, self.workdir, self.up_port))
            self.plans()
            with self.database_apart():
                self.start_server()
                self.lists()
                self.metrics()
                self.hits_during_api()
                self.export()
                self.purge()
                self.retention()
            self.locks()
        finally:
            if self.server is not None:
                self.server.terminate()
                try:
                    self.server.wait(30)
                except subprocess.TimeoutExpired:
                    self.server.kill()
            for p in procs:
                p.terminate()
                p.wait(10)
            if getattr(self, "pg_name", None):
                self.pg_execute(f"DROP DATABASE IF EXISTS {self.pg_name} WITH (FORCE)")
        self.scenarios()
        text = self.report()
        print("\n" + text)
        if self.args.json:
            Path(self.args.json).write_text(
                json.dumps({"targets": self.rows, "checks": self.checks, "extra": self.extra, "table": text}, indent=2)
            )
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return 0 if all(ok for _, ok, _ in self.checks) else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=10_000_000, help="log entries to build (default 10 M)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--scenarios", default="all", help="the bench/scale_*.py scenarios run after the logs: all, none, or names"
    )
    parser.add_argument("--data", help="keep the built data in this dir on the first run, copy it from there after")
    parser.add_argument(
        "--build-only", action="store_true", help="with --data: build and keep the data, measure nothing"
    )


def scale(args) -> int:
    return Scale(args).run()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter load windows")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary dir (server log, SQLite)")
    args = parser.parse_args(argv)
    ensure_wrk()
    return scale(args)


if __name__ == "__main__":
    sys.exit(main())
