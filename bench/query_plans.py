"""The query plans of the logs list for every filter combination (bench/scale.py runs it on its database).

Run as a script with the scale bench's environment (RUBBERDUCK_DATA_DIR, DATABASE_URL) and its data's JSON
(bench/bulk_logs.py) on stdin. For each combination: EXPLAIN of the first page, of a next page and of the
bounded count, exactly as the API runs them (logs.selectors), and whether each reads through an index
without sorting the matches (no full scan of the log table, no sort of it). Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubberduck_site.settings")


def explain(query: tuple[str, tuple]) -> list[str]:
    from django.db import connection

    sql, params = query
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return [row[-1] for row in cursor.fetchall()]
        cursor.execute(f"EXPLAIN {sql}", params)
        return [row[0] for row in cursor.fetchall()]


def scans(lines: list[str], vendor: str) -> bool:
    """Reads the log table whole, in storage order."""
    if vendor == "sqlite":
        return any(line.startswith("SCAN") and "logs_logentry" in line and "INDEX" not in line for line in lines)
    return "Seq Scan on logs_logentry" in "\n".join(lines)


def indexed(lines: list[str], vendor: str, *, bounded: bool = False) -> bool:
    """Reads the log table through an index and never sorts its rows. A bounded count (`bounded`) may read the
    table in storage order: it stops at COUNT_LIMIT + 1 matches, which come that fast where no index serves
    (the filter matches most entries, e.g. `failure=none`)."""
    if scans(lines, vendor) and not bounded:
        return False
    if vendor == "sqlite":
        for line in lines:
            if "TEMP B-TREE" in line:
                return False
        return True
    # An Incremental Sort over the time index only orders the few entries of one timestamp by id.
    return not any(line.strip().removeprefix("->").strip().startswith("Sort  (") for line in lines)


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from logs.raw import entry_columns
    from logs.selectors import count_query, matching, page_query, parse_filters

    data = json.loads(sys.stdin.read())
    user = get_user_model().objects.get(email="scale@example.com")
    out = {}
    for name, params in data["combos"].items():
        filters = parse_filters(params)
        plans = {
            "first page": explain(page_query(matching(owner=user, filters=filters), 51, entry_columns())),
            "next page": explain(
                page_query(matching(owner=user, filters=filters, after=(timezone.now(), 10**12)), 51, entry_columns())
            ),
            "count": explain(count_query(matching(owner=user, filters=filters, ordered=False))),
        }
        out[name] = {
            kind: {
                "indexed": indexed(lines, connection.vendor, bounded=kind == "count"),
                "bounded_scan": kind == "count" and scans(lines, connection.vendor),
                "plan": lines,
            }
            for kind, lines in plans.items()
        }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
