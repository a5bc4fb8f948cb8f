"""An export under the real server (daphne, `manage.py serve`) streams: its first bytes leave before its last
rows are read. Django's ASGI handler reads a synchronous iterator whole into a list before the first byte;
the export gives it an async iterator that reads a chunk of rows at a time (logs/export.py)."""

from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import ApiToken
from tests.conftest import wait_until
from tests.factories import ProxyFactory
from tests.test_serve import _get, free_port, serving

pytestmark = pytest.mark.django_db(transaction=True)

ROWS, DELETED = 400_000, 100_000


def test_an_export_under_daphne_sends_its_first_rows_before_it_reads_the_last(user):
    if connection.vendor != "sqlite":
        pytest.skip("writes its rows with SQLite's recursive CTE")
    proxy = ProxyFactory(owner=user)
    start = (timezone.now() - timedelta(days=6)).strftime("%Y-%m-%d %H:%M:%S")  # within retention
    with connection.cursor() as cursor:  # ROWS entries, one a second, newest last
        cursor.execute(
            f"WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < {ROWS - 1}) "
            "INSERT INTO logs_logentry (proxy_id, timestamp, ip, method, path, prompt_hash, status_code, latency_ms,"
            " cache, failure, model) SELECT %s, datetime(%s, '+' || x || ' seconds'), '10.0.0.1',"
            " 'POST', '/v1/chat/completions', '', 200, 5.0, 'miss', NULL, '' FROM n",
            [proxy.id, start],
        )
    _, key = ApiToken.issue(user, "export")
    connection.close()
    web = free_port()
    with serving("--port", str(web)) as served:
        wait_until(lambda: _get(f"http://127.0.0.1:{web}/healthz"), timeout=30)
        with httpx.stream(
            "GET",
            f"http://127.0.0.1:{web}/api/v1/logs/export?format=csv",
            headers={"Authorization": f"Token {key}"},
            timeout=120,
        ) as response:
            body = response.iter_raw()
            first = next(body)
            # The oldest entries, the export's last rows, go now: a stream has not read them yet, a list built
            # before the first byte has them already.
            with connection.cursor() as cursor:
                cursor.execute(
                    "DELETE FROM logs_logentry WHERE timestamp < datetime(%s, %s)", [start, f"+{DELETED} seconds"]
                )
            connection.close()
            lines = first.count(b"\n") + sum(chunk.count(b"\n") for chunk in body)
    assert response.status_code == 200
    assert first.startswith(b"id,timestamp,proxy,")
    assert first.count(b"\r\n") < ROWS  # a first part, not the whole file
    assert lines - 1 == ROWS - DELETED, "the export held rows deleted after its first bytes were sent"
    assert "synchronous iterators" not in served.get("output", "")


def test_the_export_stays_a_synchronous_stream_under_wsgi(api, user):
    """The test client (WSGI): the same chunks, iterated in turn."""
    response = api.get("/api/v1/logs/export", {"format": "json"})
    assert response.status_code == 200 and response.streaming and not response.is_async
    assert b"".join(response.streaming_content) == b"[]\n"
