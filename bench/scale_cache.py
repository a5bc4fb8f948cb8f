"""One proxy's cache at a million entries (`bench/run.py --scale`, or alone: `bench/scale_cache.py [--quick]`).

A child process (this file with --child) sets Django up on a new database (SQLite in a temporary dir, and
PostgreSQL on 127.0.0.1:5432 when reachable), bulk-builds the entries of one proxy, then:
- times ProxyStore.save of new entries at that size (the write cost D19 weighs), with the (proxy, key_hash) index
  and, for scale, with the layout before it (an index on (proxy, id) only);
- starts a real runner serving the proxy: seconds until it serves, and until its key filter is built behind it;
- reads the key memory: the filter's bytes and the process's RSS growth from before the start to after the build;
- reads stored keys through the proxy's ProxyCache on its own loop with the memory LRU emptied (each one a read
  from the database), and keys never stored (which the filter should answer).

Targets: key memory independent of the entries, start ≤ 1 s, a database hit's p50 ≤ 1 ms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the bench package

from bench.common import PY, ROOT  # noqa: E402
from bench.scale_proxies import table  # noqa: E402

Row = tuple[str, str, bool | None]
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
BODY = b'{"id":"chatcmpl-bench","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,' + (
    b'"message":{"role":"assistant","content":"' + b"x" * 120 + b'"},"finish_reason":"stop"}]}'
)


DETAILS = ("POST", "/v1/chat/completions", "gpt-4o-mini", False)  # method, path, model, stream


def bench_key(i: int) -> str:
    import hashlib

    return hashlib.sha256(f"bench entry {i}".encode()).hexdigest()


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# ---------------------------------------------------------------- the child: one database, one proxy


def child(rows: int, samples: int) -> dict:
    import asyncio
    import random

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0, interactive=False)

    from accounts.services import user_create_verified
    from bench.common import free_ports
    from proxies.cache import Cached
    from proxies.key_filter import key_hash
    from proxies.models import CacheEntry, Proxy
    from proxies.services import proxy_create
    from proxies.store import INSERT, ProxyStore
    from rubberduck_site.dataplane import build_runner

    user = user_create_verified(email="bench@example.com", password="bench-password-123", first_is_admin=True)
    proxy = proxy_create(owner=user, port=free_ports(1)[0], name="big", provider="openai",
                         upstream_url="http://127.0.0.1:9/v1")  # fmt: skip
    Proxy.objects.filter(id=proxy.id).update(desired_state=Proxy.Desired.STOPPED, status=Proxy.Status.STOPPED)
    result: dict = {"vendor": connection.vendor, "rows": rows}

    # bulk build, as the store writes rows
    headers = json.dumps([["content-type", "application/json"]])
    created = connection.ops.adapt_datetimefield_value(timezone.now())
    started = time.perf_counter()
    for start in range(0, rows, 20_000):
        batch = [(proxy.id, k, key_hash(k), 200, headers, BODY, None, None, len(BODY), created, *DETAILS, 0)
                 for k in map(bench_key, range(start, min(rows, start + 20_000)))]  # fmt: skip
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # COPY: executemany sends a million statements
                columns = INSERT[INSERT.index("(") : INSERT.index(")") + 1]
                with cursor.cursor.copy(f"COPY {CacheEntry._meta.db_table} {columns} FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                cursor.executemany(INSERT, batch)
    result["build_seconds"] = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE proxies_cacheentry")

    # the write cost at this size
    answer = Cached(200, (("content-type", "application/json"),), BODY, None, None)
    store = ProxyStore(proxy.id)

    def per_entry(save, batches: int = 30, size: int = 64) -> float:
        times = []
        for _ in range(batches):
            entries = {uuid.uuid4().hex + uuid.uuid4().hex: answer for _ in range(size)}
            t0 = time.perf_counter()
            save(entries)
            times.append((time.perf_counter() - t0) / size)
        return percentile(times, 0.5) * 1e6

    result["save_us"] = per_entry(store.save)
    table = CacheEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX cache_entry_proxy_key_hash")
        cursor.execute(f"CREATE INDEX bench_proxy_rows ON {table} (proxy_id, id)")

    def old_layout(entries):  # what D19's store did: insert, then read its new rows' ids back
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {table}")
            last = cursor.fetchone()[0]
            cursor.executemany(INSERT, [(proxy.id, k, 0, 200, headers, BODY, None, None, len(BODY), created, *DETAILS, 0)
                                        for k in entries])  # fmt: skip
            cursor.execute(f"SELECT id, key FROM {table} WHERE proxy_id = %s AND id > %s ORDER BY id", (proxy.id, last))
            cursor.fetchall()

    result["save_old_layout_us"] = per_entry(old_layout)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX bench_proxy_rows")
        cursor.execute(f"CREATE INDEX cache_entry_proxy_key_hash ON {table} (proxy_id, key_hash)")

    # start a real runner serving the proxy
    runner = build_runner()
    rss_before = rss_bytes()
    Proxy.objects.filter(id=proxy.id).update(desired_state=Proxy.Desired.RUNNING, status=Proxy.Status.STARTING)
    t0 = time.perf_counter()
    runner.start(embedded=True)  # its first reconcile starts the proxy
    while Proxy.objects.get(id=proxy.id).status != Proxy.Status.RUNNING:
        time.sleep(0.005)
    result["start_seconds"] = time.perf_counter() - t0
    running = runner.running[proxy.id]
    cache, loop = running.server.app.cache, running.server.loop
    cache.store.built.wait(600)
    result["filter_seconds"] = time.perf_counter() - t0
    time.sleep(0.5)
    result["rss_growth"] = rss_bytes() - rss_before
    result["filter_bytes"] = cache.store.filter.nbytes

    async def timed(key: str):
        t = time.perf_counter()
        entry = await cache.get(key)
        return time.perf_counter() - t, entry is not None

    def read(keys: list[str]) -> tuple[list[float], int]:
        runner.lru.clear(proxy.id)
        found = [asyncio.run_coroutine_threadsafe(timed(k), loop).result() for k in keys]
        return [t for t, _ in found], sum(hit for _, hit in found)

    read([bench_key(random.randrange(rows)) for _ in range(200)])  # warm-up
    hits, hit_count = read([bench_key(random.randrange(rows)) for _ in range(samples)])
    never = [uuid.uuid4().hex * 2 for _ in range(samples)]
    misses, miss_count = read(never)
    result.update(
        hit_p50_ms=percentile(hits, 0.5) * 1e3,
        hit_p99_ms=percentile(hits, 0.99) * 1e3,
        hits_found=hit_count,
        samples=samples,
        miss_p50_ms=percentile(misses, 0.5) * 1e3,
        misses_found=miss_count,
        misses_to_db=sum(map(cache.store.may_hold, never)),
    )
    runner.shutdown("force")
    return result


# ---------------------------------------------------------------- the parent


def run_child(rows: int, samples: int, database_url: str | None, workdir: Path) -> dict:
    env = {**os.environ, "RUBBERDUCK_DATA_DIR": str(workdir), "DJANGO_SETTINGS_MODULE": "rubberduck_site.settings"}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    out = subprocess.run([PY, __file__, "--child", str(rows), str(samples)], cwd=ROOT, env=env, check=True,
                         stdout=subprocess.PIPE, text=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def postgres_database() -> str | None:
    """A new, empty PostgreSQL database (dropped by drop_postgres), or None when PostgreSQL is not reachable."""
    try:
        import psycopg

        name = f"rubberduck_scale_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f"CREATE DATABASE {name}")
    except Exception:
        return None
    return name


def drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def rows_of(r: dict) -> list[Row]:
    db = "SQLite" if r["vendor"] == "sqlite" else "PostgreSQL"
    n = f"{r['rows']:,}"
    mib = 2**20
    return [
        (f"key memory independent of the entries ({db}, {n} entries)",
         f"filter {r['filter_bytes'] / mib:.2f} MiB (at most 2 MiB, whatever the entries); RSS +"
         f"{r['rss_growth'] / mib:.1f} MiB from before the start to the filter built", r["filter_bytes"] <= 2 * mib),
        (f"a proxy starts in ≤ 1 s ({db}, {n} entries)",
         f"{r['start_seconds']:.3f} s (its key filter built behind it by {r['filter_seconds']:.2f} s)",
         r["start_seconds"] <= 1.0),
        (f"a hit read from the database: p50 ≤ 1 ms ({db}, {n} entries)",
         f"{r['hit_p50_ms']:.3f} ms (p99 {r['hit_p99_ms']:.3f}; {r['hits_found']} of {r['samples']} hit)",
         r["hit_p50_ms"] <= 1.0 and r["hits_found"] == r["samples"]),
        (f"for scale: a key never stored ({db}, {n} entries)",
         f"p50 {r['miss_p50_ms']:.3f} ms; {r['misses_to_db']} of {r['samples']} asked the database (false positives), "
         f"{r['misses_found']} found", None if r["misses_found"] == 0 else False),
        (f"for scale: storing a new entry at {n} entries ({db})",
         f"{r['save_us']:.1f} µs (index on (proxy, key_hash)); {r['save_old_layout_us']:.1f} µs with the layout "
         f"before it (index on (proxy, id)); bulk build {r['rows'] / r['build_seconds']:,.0f} rows/s", None),
    ]  # fmt: skip


def scenario(quick: bool) -> list[Row]:
    rows, samples = (100_000, 500) if quick else (1_000_000, 2000)
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rubberduck-scale-cache-") as tmp:
        out += rows_of(run_child(rows, samples, None, Path(tmp)))
    print(table(out), file=sys.stderr, flush=True)  # SQLite's, while PostgreSQL's are built
    name = postgres_database()
    if name is None:
        return [*out, ("PostgreSQL", "no server on 127.0.0.1:5432, or no psycopg installed: not measured", None)]
    try:
        with tempfile.TemporaryDirectory(prefix="rubberduck-scale-cache-") as tmp:
            out += rows_of(run_child(rows, samples, f"postgres://postgres@127.0.0.1:5432/{name}", Path(tmp)))
    finally:
        drop_postgres(name)
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubberduck_site.settings")
        print(json.dumps(child(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        print(table(scenario("--quick" in sys.argv[1:])))
