"""PostgreSQL's plans of the logs list: the planner knows what the owner's-proxies term keeps (logs/migrations/0008),
a filter's count reads its index alone (0009), and filters rare together are checked in the index (0010)."""

import os

import psycopg

from tests.proxies.test_scale_out import manage, postgres_url  # noqa: F401 (postgres_url: a fixture)


def entries(url: str, tmp_path) -> psycopg.Connection:
    """The migrated database with 30,000 entries over proxies 1-3, one in a hundred a 502 timeout from another
    address; vacuumed, as autovacuum does a table grown by inserts."""
    manage({**os.environ, "DATABASE_URL": url, "RUBBERDUCK_DATA_DIR": str(tmp_path)}, "migrate")
    db = psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True)
    db.execute("SET session_replication_role = replica")  # no proxy rows behind proxy_id: FKs not checked
    db.execute(
        "INSERT INTO logs_logentry (proxy_id, timestamp, ip, method, path, prompt_hash, status_code, latency_ms,"
        " cache, model, failure) SELECT 1 + x % 3, now() - x * interval '1 second',"
        " CASE WHEN x % 100 = 0 THEN '10.0.0.2' ELSE '10.0.0.1' END, 'POST', '/v1/x', '',"
        " CASE WHEN x % 100 = 0 THEN 502 ELSE 200 END, 1.0, 'hit', '',"
        " CASE WHEN x % 100 = 0 THEN 'timeout' END FROM generate_series(1, 30000) x"
    )
    db.execute("VACUUM ANALYZE logs_logentry")
    return db


def test_postgresql_estimates_how_many_entries_an_owners_proxies_hold(postgres_url, tmp_path):  # noqa: F811
    with entries(postgres_url, tmp_path) as db:
        [[plan]] = db.execute(
            "EXPLAIN (FORMAT JSON) SELECT id FROM logs_logentry WHERE (proxy_id + 0) IN (1, 2)"
        ).fetchall()
    assert 15_000 <= plan[0]["Plan"]["Plan Rows"] <= 25_000  # 20,000 match (without the statistics: 300)


def test_a_count_of_a_filter_reads_its_index_alone_on_postgresql(postgres_url, tmp_path):  # noqa: F811
    """The owner's-proxies check comes from the filter's index (D110): no visit to the table per entry."""
    with entries(postgres_url, tmp_path) as db:
        for where, index in [
            ("failure = 'timeout'", "log_failure_time"),
            ("status_code = 502 AND status_code > 200", "log_status_time"),
            ("ip = '10.0.0.2'", "log_ip_time"),
        ]:
            [[plan]] = db.execute(
                "EXPLAIN (FORMAT JSON) SELECT COUNT(*) FROM (SELECT id FROM logs_logentry"
                f" WHERE (proxy_id + 0) IN (1, 2) AND {where} LIMIT 10001) AS bounded"
            ).fetchall()
            scans = [node for node in walk(plan[0]["Plan"]) if "Relation Name" in node]
            assert [(s["Node Type"], s.get("Index Name")) for s in scans] == [("Index Only Scan", index)], where


def test_a_page_of_filters_rare_together_reads_no_entry_that_does_not_match(postgres_url, tmp_path):  # noqa: F811
    """5xx and bypassed entries, each common, none both: the newest-first walk through the hour finds none in
    a filter's index (D113), where it read every bypassed entry of the hour from the table to find none."""
    with entries(postgres_url, tmp_path) as db:
        db.execute("UPDATE logs_logentry SET status_code = 503 WHERE id % 10 IN (1, 2, 3)")
        db.execute("UPDATE logs_logentry SET cache = 'bypass' WHERE id % 10 IN (5, 6, 7)")
        db.execute("VACUUM ANALYZE logs_logentry")
        [[plan]] = db.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM logs_logentry WHERE (proxy_id + 0) IN (1, 2)"
            " AND status_code >= 500 AND status_code <= 599 AND cache = 'bypass'"
            " AND timestamp >= now() - interval '2 hours' AND timestamp < now() - interval '1 hour'"
            " ORDER BY timestamp DESC, id DESC LIMIT 51"
        ).fetchall()
    [scan] = [node for node in walk(plan[0]["Plan"]) if "Relation Name" in node]
    assert scan["Index Name"] in ("log_status_time", "log_cache_time"), scan
    assert (scan["Actual Rows"], scan.get("Rows Removed by Filter", 0)) == (0, 0), scan  # a check in the table: >0


def walk(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)
