"""PostgreSQL's planner knows what the owner's-proxies term of a list keeps (logs/migrations/0008)."""

import os

import psycopg

from tests.proxies.test_scale_out import manage, postgres_url  # noqa: F401 (postgres_url: a fixture)


def test_postgresql_estimates_how_many_entries_an_owners_proxies_hold(postgres_url, tmp_path):  # noqa: F811
    manage({**os.environ, "DATABASE_URL": postgres_url, "RUBBERDUCK_DATA_DIR": str(tmp_path)}, "migrate")
    with psycopg.connect(postgres_url.replace("postgres://", "postgresql://")) as db:
        db.execute("SET session_replication_role = replica")  # no proxy rows behind proxy_id: FKs not checked
        db.execute(
            "INSERT INTO logs_logentry (proxy_id, timestamp, ip, method, path, prompt_hash, status_code, latency_ms,"
            " cache, model) SELECT 1 + x % 3, now() - x * interval '1 second', '10.0.0.1', 'POST', '/v1/x', '', 200, 1.0,"
            " 'hit', '' FROM generate_series(1, 30000) x"
        )
        db.execute("ANALYZE logs_logentry")
        [[plan]] = db.execute(
            "EXPLAIN (FORMAT JSON) SELECT id FROM logs_logentry WHERE (proxy_id + 0) IN (1, 2)"
        ).fetchall()
    assert 15_000 <= plan[0]["Plan"]["Plan Rows"] <= 25_000  # 20,000 match (without the statistics: 300)
