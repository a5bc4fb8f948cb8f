"""The scale bench's data (bench/scale.py): a fresh database with N log entries, generated inside the database.

Run as a script with RUBBERDUCK_DATA_DIR (and DATABASE_URL for PostgreSQL) set: migrates, creates the bench's
user (the first account: staff, so its proxies may reach the loopback upstream) with 8 proxies and a token,
another user with one proxy, then inserts the rows with one INSERT … SELECT over a generated series per
batch (a recursive CTE on SQLite, generate_series on PostgreSQL): the database builds every row itself, so
10 M rows take a minute or two rather than the hours an ORM loop would. Row x of N is newest last, spaced
evenly over SPAN_DAYS ending now; its columns are drawn from a hash of x, so every count is exact and
repeatable. Then the roll-ups: 1 m buckets of the last two days, 15 m and 1 h buckets of everything.

Prints one JSON line: the token, the proxies, the time range, and the exact count of every filter combination
the bench asks for (SQL COUNTs here, before the server starts, so the bench can check the API's answers).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubberduck_site.settings")

SPAN_DAYS = 29  # under the default 30 days of retention, so the server keeps them all
PROXIES = 8
BATCH = 200_000
RARE_IP = "192.0.2.1"  # one row in 100,000

# The columns of row x, from h = a hash of x (the same expression on both databases).
HASH = "((x * 2654435761) % 4294967296)"
STATUS = f"""CASE WHEN ({HASH} / 256) % 1000 < 30 THEN 500 WHEN ({HASH} / 256) % 1000 < 40 THEN 502
 WHEN ({HASH} / 256) % 1000 < 80 THEN 429 WHEN ({HASH} / 256) % 1000 < 100 THEN 400
 WHEN ({HASH} / 256) % 1000 < 105 THEN 101 ELSE 200 END"""
FAILURE = f"""CASE WHEN ({HASH} / 256) % 1000 < 30 THEN 'error' WHEN ({HASH} / 256) % 1000 < 40 THEN 'timeout'
 WHEN ({HASH} / 256) % 1000 < 80 THEN 'rate_limit' WHEN ({HASH} / 256) % 1000 >= 105
 AND ({HASH} / 262144) % 1000 = 0 THEN 'stream_cut' ELSE NULL END"""
CACHE = f"CASE WHEN ({HASH} / 4096) % 100 < 40 THEN 'hit' WHEN ({HASH} / 4096) % 100 < 90 THEN 'miss' ELSE 'bypass' END"
# The bench user's 8 proxies get 19 rows of 20, the other user's proxy the 20th.
PROXY = f"CASE WHEN x % 20 = 19 THEN {{other}} ELSE {{first}} + ({HASH} / 65536) % {PROXIES} END"


def ip(concat: str) -> str:
    return f"CASE WHEN x % 100000 = 7 THEN '{RARE_IP}' ELSE {concat} END"


SQLITE = """WITH RECURSIVE n(x) AS (SELECT %(lo)s UNION ALL SELECT x + 1 FROM n WHERE x < %(hi)s - 1)
INSERT INTO logs_logentry (id, proxy_id, timestamp, ip, method, path, prompt_hash, status_code, latency_ms, cache,
 failure, model, prompt_tokens, completion_tokens, cost_usd, client_messages, upstream_messages)
SELECT x + 1, {proxy}, strftime('%%Y-%%m-%%d %%H:%%M:%%f', %(start)s + x * %(step)s, 'unixepoch') || '000',
 {ip}, 'POST', '/v1/chat/completions', printf('%%064x', x), {status}, 5.0 + x %% 97, {cache}, {failure},
 'gpt-4o-mini', 11, 7, 0.0000105, NULL, NULL FROM n"""

POSTGRES = """INSERT INTO logs_logentry (id, proxy_id, timestamp, ip, method, path, prompt_hash, status_code, latency_ms,
 cache, failure, model, prompt_tokens, completion_tokens, cost_usd, client_messages, upstream_messages)
SELECT x + 1, {proxy}, to_timestamp(%(start)s + x * %(step)s), {ip}, 'POST', '/v1/chat/completions',
 lpad(to_hex(x), 64, '0'), {status}, 5.0 + x %% 97, {cache}, {failure}, 'gpt-4o-mini', 11, 7, 0.0000105, NULL, NULL
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) AS x"""

# The filter combinations the bench times (the query strings of GET /api/v1/logs/); {p}: a proxy's id.
COMBOS = {
    "none": {},
    "proxy": {"proxy": "{p}"},
    "status=200": {"status": "200"},
    "status=5xx": {"status": "5xx"},
    "status=429": {"status": "429"},
    "cache=hit": {"cache": "hit"},
    "cache=bypass": {"cache": "bypass"},
    "failure=none": {"failure": "none"},
    "failure=timeout": {"failure": "timeout"},
    "failure=stream_cut": {"failure": "stream_cut"},
    "failure=hang (none match)": {"failure": "hang"},
    "ip (common)": {"ip": "10.0.0.17"},
    "ip (rare)": {"ip": RARE_IP},
    "last hour": {"since": "{hour_ago}"},
    "a day a week ago": {"since": "{week_ago}", "until": "{week_ago_plus_day}"},
    "proxy+status=5xx+cache=miss": {"proxy": "{p}", "status": "5xx", "cache": "miss"},
    "proxy+failure=timeout+last day": {"proxy": "{p}", "failure": "timeout", "since": "{day_ago}"},
    "status=4xx+ip (common)": {"status": "4xx", "ip": "10.0.0.17"},
    "ip (rare)+failure=none": {"ip": RARE_IP, "failure": "none"},
    "cache=bypass+status=5xx+a day a week ago": {
        "cache": "bypass",
        "status": "5xx",
        "since": "{week_ago}",
        "until": "{week_ago_plus_day}",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--port", type=int, required=True, help="the first proxy's port (the others follow it)")
    parser.add_argument("--upstream", required=True, help="the proxies' upstream URL")
    parser.add_argument("--export-rows", type=int, default=0, help="about how many rows the export range holds")
    parser.add_argument("--purge-rows", type=int, default=0, help="about how many rows the purge range holds")
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    from accounts.models import ApiToken
    from accounts.services import user_create_verified
    from proxies.models import Proxy

    user = user_create_verified(email="scale@example.com", password="scale-password-123", first_is_admin=True)
    other = user_create_verified(email="other@example.com", password="other-password-123")
    _, key = ApiToken.issue(user, "scale")
    # Created stopped (the bench starts the ones it loads): ids consecutive on a fresh database.
    # The first proxy serves the bench's hit load; the others stay stopped (ids consecutive on a fresh database).
    mine = [
        Proxy.objects.create(
            owner=user,
            name=f"scale-{i}",
            port=args.port + i,
            upstream_url=args.upstream,
            provider="openai",
            desired_state=Proxy.Desired.RUNNING if i == 0 else Proxy.Desired.STOPPED,
        ).id
        for i in range(PROXIES)
    ]
    theirs = Proxy.objects.create(
        owner=other,
        name="other",
        port=args.port + PROXIES,
        upstream_url=args.upstream,
        provider="openai",
        desired_state=Proxy.Desired.STOPPED,
    ).id
    assert mine == list(range(mine[0], mine[0] + PROXIES)), mine
    now = time.time()
    start, step = now - SPAN_DAYS * 86400, SPAN_DAYS * 86400 / max(1, args.rows)
    vendor = connection.vendor
    template = SQLITE if vendor == "sqlite" else POSTGRES
    concat = "'10.0.0.' || ((" + HASH + " / 1048576) % 256)"
    columns = {
        "proxy": PROXY.format(first=mine[0], other=theirs),
        "ip": ip(concat),
        "status": STATUS,
        "cache": CACHE,
        "failure": FAILURE,
    }
    sql = template.format(**{k: v.replace("%", "%%") for k, v in columns.items()})  # literal % among params
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")
        indexes = drop_indexes(cursor, vendor)  # built once at the end: sorted, not row by row
        for lo in range(0, args.rows, BATCH):
            with django_atomic():
                cursor.execute(sql, {"lo": lo, "hi": min(args.rows, lo + BATCH), "start": start, "step": step})
        for sql in indexes:
            cursor.execute(sql)
        if vendor == "postgresql":
            cursor.execute("SELECT setval(pg_get_serial_sequence('logs_logentry', 'id'), %s)", [args.rows + 1])
    inserted = time.monotonic()
    rollups(connection, now)
    if vendor == "postgresql":
        # The statistics and the VACUUM autovacuum gives a table grown by inserts (PostgreSQL 13+): its index-only
        # scans then read no table pages for the visibility of rows. SQLite gets none: the product leaves its
        # database without statistics (D118).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
    analysed = time.monotonic()
    end = datetime.fromtimestamp(now, tz=UTC)
    marks = {
        "hour_ago": end - timedelta(hours=1),
        "day_ago": end - timedelta(days=1),
        "week_ago": end - timedelta(days=7),
        "week_ago_plus_day": end - timedelta(days=6),
    }
    combos = {
        name: {k: v.format(p=mine[0], **{m: t.isoformat() for m, t in marks.items()}) for k, v in params.items()}
        for name, params in COMBOS.items()
    }
    # The export's range: the newest rows of the data (written before the server started); the purge's: the oldest.
    mine_share = 19 / 20
    ranges = {
        "export": {
            "since": (end - timedelta(seconds=args.export_rows / mine_share * step)).isoformat(),
            "until": end.isoformat(),
        },
        "purge": {"until": datetime.fromtimestamp(start + args.purge_rows / mine_share * step, tz=UTC).isoformat()},
    }
    counts = {name: expected_count(user, params) for name, params in {**combos, **ranges}.items()}
    print(
        json.dumps(
            {
                "token": key,
                "proxies": mine,
                "other_proxy": theirs,
                "start": start,
                "step": step,
                "rows": args.rows,
                "combos": combos,
                "ranges": ranges,
                "counts": counts,
                "insert_s": round(inserted - started, 1),
                "rollup_analyze_s": round(analysed - inserted, 1),
                "counts_s": round(time.monotonic() - analysed, 1),
            }
        ),
        flush=True,
    )


def drop_indexes(cursor, vendor: str) -> list[str]:
    """Drops the log table's secondary indexes; returns the statements that make them again."""
    if vendor == "sqlite":
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'logs_logentry' "
                       "AND sql IS NOT NULL")  # fmt: skip
    else:
        cursor.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'logs_logentry' AND "
                       "NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)")  # fmt: skip
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in found]


def django_atomic():
    from django.db import transaction

    return transaction.atomic()


def expected_count(user, params: dict) -> int:
    """The exact count, with the API's own filters (selectors) but counting everything."""
    from logs.selectors import log_entries, parse_filters

    return log_entries(owner=user, filters=parse_filters(params)).count()


def rollups(connection, now: float) -> None:
    """The roll-up buckets of the generated rows, as the writer and the folds would have made them."""
    vendor = connection.vendor
    minute = "strftime('%Y-%m-%d %H:%M:00', timestamp)" if vendor == "sqlite" else "date_trunc('minute', timestamp)"
    cols = "requests, cache_hits, errors, cost_usd, latency_ms_sum, in_flight, running_proxies, stopped_proxies"
    counts = (
        "COUNT(*), SUM(CASE WHEN cache = 'hit' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN status_code >= 400 OR failure IS NOT NULL THEN 1 ELSE 0 END), SUM(cost_usd), SUM(latency_ms)"
    )
    since = int(now - 2 * 86400)
    since_sql = (
        f"strftime('%Y-%m-%d %H:%M:%S', {since}, 'unixepoch')" if vendor == "sqlite" else f"to_timestamp({since})"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO metrics_metricbucket (owner_id, proxy_id, {connection.ops.quote_name('window')}, start, "
            f"{cols}) SELECT p.owner_id, l.proxy_id, '1m', {minute.replace('timestamp', 'l.timestamp')}, "
            f"{counts.replace('cache', 'l.cache').replace('status_code', 'l.status_code')}, 0, 0, 0 "
            f"FROM logs_logentry l JOIN proxies_proxy p ON p.id = l.proxy_id WHERE l.timestamp >= {since_sql} "
            f"GROUP BY p.owner_id, l.proxy_id, {minute.replace('timestamp', 'l.timestamp')}"
        )
        cursor.execute(
            f"INSERT INTO metrics_metricbucket (owner_id, proxy_id, {connection.ops.quote_name('window')}, start, "
            f"{cols}) SELECT owner_id, NULL, '1m', start, SUM(requests), SUM(cache_hits), SUM(errors), "
            "SUM(cost_usd), SUM(latency_ms_sum), 0, 0, 0 FROM metrics_metricbucket WHERE proxy_id IS NOT NULL "
            "GROUP BY owner_id, start"
        )
        for window, seconds in (("15m", 900), ("1h", 3600)):
            if vendor == "sqlite":
                bucket = (
                    f"strftime('%Y-%m-%d %H:%M:%S', (CAST(strftime('%s', l.timestamp) AS INTEGER) / {seconds}) "
                    f"* {seconds}, 'unixepoch')"
                )
            else:
                bucket = f"to_timestamp(floor(extract(epoch FROM l.timestamp) / {seconds}) * {seconds})"
            for owner_group, proxy_col in (("l.proxy_id", "l.proxy_id"), ("", "NULL")):
                group = f"p.owner_id, {owner_group + ', ' if owner_group else ''}{bucket}"
                cursor.execute(
                    f"INSERT INTO metrics_metricbucket (owner_id, proxy_id, {connection.ops.quote_name('window')}, "
                    f"start, {cols}) SELECT p.owner_id, {proxy_col}, '{window}', {bucket}, "
                    f"{counts.replace('cache', 'l.cache').replace('status_code', 'l.status_code')}, 0, 0, 0 "
                    f"FROM logs_logentry l JOIN proxies_proxy p ON p.id = l.proxy_id GROUP BY {group}"
                )


if __name__ == "__main__":
    main()
