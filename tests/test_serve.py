"""`make run`'s server: daphne with the runner embedded; Ctrl-C stops it cleanly."""

import os
import signal
import socket
import subprocess
import sys

import httpx
from django.conf import settings

from proxies.models import Proxy
from tests.conftest import wait_until
from tests.test_api_schema import docs_assets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_ui_api_and_proxies_and_stops_cleanly_on_ctrl_c(user, transactional_db, openai_upstream):
    web, proxy_port = free_port(), free_port()
    proxy = Proxy.objects.create(
        owner=user,
        name="served",
        provider="openai",
        model_name="m",
        port=proxy_port,
        upstream_url=openai_upstream.url + "/v1",
        status="starting",
    )
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(web)],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        health = wait_until(lambda: _get(f"http://127.0.0.1:{web}/healthz"), timeout=20)
        assert health.json()["status"] == "ok"
        wait_until(lambda: Proxy.objects.get(pk=proxy.pk).status == "running", timeout=10)
        assert _get(f"http://127.0.0.1:{web}/api/v1/providers/").status_code in (401, 403)
        assets = docs_assets(_get(f"http://127.0.0.1:{web}/api/docs/").text)
        assert assets and all(_get(f"http://127.0.0.1:{web}{a}").status_code == 200 for a in assets)  # no CDN
        answer = httpx.get(f"http://127.0.0.1:{proxy_port}/v1/models", headers={"authorization": "Bearer sk-x"})
        assert answer.json()["data"][0]["id"] == "gpt-4o-mini"
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    assert "Rubberduck stopped." in output
    assert Proxy.objects.get(pk=proxy.pk).status == "stopped"
    assert Proxy.objects.get(pk=proxy.pk).desired_state == "running"  # so it starts again next time


def _get(url):
    try:
        return httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
