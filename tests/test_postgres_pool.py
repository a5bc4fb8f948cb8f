"""`manage.py serve` on PostgreSQL: API calls take pooled connections instead of opening a backend each (D109)."""

import os
import subprocess
import sys

import httpx
import psycopg
import pytest
from django.conf import settings

from tests.conftest import wait_until
from tests.proxies.test_scale_out import manage, postgres_url  # noqa: F401 (fixture)
from tests.test_serve import _get, free_port

pytestmark = pytest.mark.services

TOKEN = """
from accounts.models import ApiToken
from accounts.services import user_create_verified
print(ApiToken.issue(user_create_verified(email="pool@example.com"))[1])
"""
CALLS = 40


def sessions(url: str) -> int:
    """Backends PostgreSQL has started for the database so far (pg_stat_database.sessions, PostgreSQL 14+)."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as db:
        db.execute("SELECT pg_stat_clear_snapshot()")
        return db.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [name]).fetchone()[0]


def test_api_calls_reuse_pooled_postgresql_connections(postgres_url, tmp_path):  # noqa: F811
    env = {**os.environ, "DATABASE_URL": postgres_url, "RUBBERDUCK_DATA_DIR": str(tmp_path)}
    manage(env, "migrate", "-v0")
    token = manage(env, "shell", "--no-imports", "-c", TOKEN).strip()
    web = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(web)],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{web}"
        wait_until(lambda: (r := _get(base + "/healthz")) and r.status_code == 200, timeout=30, interval=0.2)
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}) as api:
            assert api.get("/api/v1/logs/").status_code == 200  # the pool has grown to what one call needs
            before = sessions(postgres_url)
            answers = [api.get("/api/v1/logs/").status_code for _ in range(CALLS)]
            started = sessions(postgres_url) - before
    finally:
        server.terminate()
        server.wait(30)
    assert answers == [200] * CALLS
    # Each call opened a backend without the pool; with it a few at most (the pool tops itself up, and the
    # `sessions` reading itself is one).
    assert started <= 5, started
