"""`bench/run.py --db-load`: the database under load (SQLite by default).

C=64 mixed load (every other request a unique body, so cache stores and log rows both write) for
--duration seconds (30 unless given) on one proxy, while a thread in the same process calls the API every
50 ms: the proxies list, the logs list and its next page in turn. Then: no "database is locked" anywhere, log
entries == requests the proxy served, and each API call's p99 (target < 200 ms).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from bench.common import CHAT, HIT_BODY, HOST, Cpus, Rubberduck, free_ports, post, start_upstream, wrk


def db_load(args) -> int:
    duration = args.duration if args.duration != 5.0 else 30.0
    cpus = Cpus()
    workdir = Path(tempfile.mkdtemp(prefix="rubberduck-dbload-"))
    up_port, rd_port = free_ports(2)
    upstream = start_upstream(cpus, workdir, up_port)
    rd = Rubberduck(cpus, workdir, "rubberduck", {rd_port: f"http://{HOST}:{up_port}/v1"})
    try:
        rd.wait_ready()
        post(rd_port, CHAT, HIT_BODY)
        rd.call("api_start")
        load = wrk(rd_port, CHAT, "mixed", 64, duration)
        api = rd.call("api_stop")
        final = rd.call("drain")
    finally:
        rd.stop()
        upstream.terminate()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    served = final["proxies"][str(rd_port)]["requests"]
    entries = final["log_entries"][str(rd_port)]
    results = {
        "duration_s": duration,
        "wrk_requests": load["requests"],
        "rps": round(load["rps"]),
        "p99_ms": load["p99_ms"],
        "requests_served": served,
        "log_entries": entries,
        "lock_errors": final["lock_errors"],
        "db_job_errors": final["executor_errors"],
        "api_calls": api["calls"],
        "api_failures": api["failures"],
        "api_p50_ms": api["p50_ms"],
        "api_p99_ms": api["p99_ms"],
        "api_by_call": api["by_call"],
    }
    checks = {
        "no 'database is locked'": final["lock_errors"] == 0 and final["executor_errors"]["locked"] == 0,
        "no failed db jobs": final["executor_errors"]["count"] == 0,
        "log entries == requests served": entries == served and served >= load["requests"],
        "no HTTP errors": load["status"] + load["timeout"] == 0,
        "API calls all 200, each kind called": api["failures"] == 0
        and all(c["calls"] for c in api["by_call"].values()),
    }
    print(json.dumps(results, indent=2))
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    for name, call in api["by_call"].items():
        p99 = call["p99_ms"]
        met = p99 is not None and p99 < 200
        print(f"{'met ' if met else 'NOT MET'} API {name} p99 < 200 ms: {p99 if p99 is None else round(p99, 1)} ms")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "checks": checks}, indent=2))
    return 0 if all(checks.values()) else 1
