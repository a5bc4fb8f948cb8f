"""`make run`'s server: daphne with the runner embedded; Ctrl-C stops it cleanly."""

import os
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

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
    with serving("--port", str(web)) as served:
        health = wait_until(lambda: _get(f"http://127.0.0.1:{web}/healthz"), timeout=20)
        assert health.json()["status"] == "ok"
        wait_until(lambda: Proxy.objects.get(pk=proxy.pk).status == "running", timeout=10)
        assert _get(f"http://127.0.0.1:{web}/api/v1/providers/").status_code in (401, 403)
        assets = docs_assets(_get(f"http://127.0.0.1:{web}/api/docs/").text)
        assert assets and all(_get(f"http://127.0.0.1:{web}{a}").status_code == 200 for a in assets)  # no CDN
        answer = httpx.get(f"http://127.0.0.1:{proxy_port}/v1/models", headers={"authorization": "Bearer sk-x"})
        assert answer.json()["data"][0]["id"] == "gpt-4o-mini"
    assert served["returncode"] == 0, served["output"]
    assert "Rubberduck stopped." in served["output"]
    assert Proxy.objects.get(pk=proxy.pk).status == "stopped"
    assert Proxy.objects.get(pk=proxy.pk).desired_state == "running"  # so it starts again next time


def test_serve_runs_its_web_threads_nicer_than_its_proxies(user, transactional_db, openai_upstream):
    """The API and the UI take the core only after the proxies' loops (D104): serve's main thread, which starts
    the web threads, is lowered; the runner's threads and every proxy loop they start, later ones too, are not."""
    web = free_port()
    first = Proxy.objects.create(
        owner=user, name="one", provider="openai", port=free_port(), upstream_url=openai_upstream.url + "/v1"
    )
    base = os.getpriority(os.PRIO_PROCESS, 0)
    with serving("--port", str(web), "--host", "127.0.0.1") as served:
        wait_until(lambda: _get(f"http://127.0.0.1:{web}/healthz"), timeout=20)
        wait_until(lambda: Proxy.objects.get(pk=first.pk).status == "running", timeout=10)
        before = threads_nice(served["pid"])
        assert before[served["pid"]] == min(19, base + settings.RUBBERDUCK_WEB_NICE)
        second = Proxy.objects.create(
            owner=user, name="two", provider="openai", port=free_port(), upstream_url=openai_upstream.url + "/v1"
        )
        wait_until(lambda: Proxy.objects.get(pk=second.pk).status == "running", timeout=10)
        assert _get(f"http://127.0.0.1:{second.port}/v1/models").status_code == 200  # its loop serves
        after = threads_nice(served["pid"])
    started = set(after) - set(before)
    assert base in {after[tid] for tid in started}  # the new proxy's loop: not lowered
    assert sum(1 for n in after.values() if n == base) > sum(1 for n in before.values() if n == base)


def threads_nice(pid: int) -> dict[int, int]:
    """Each thread's nice value (field 19 of /proc/PID/task/TID/stat), by thread id."""
    nice = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            nice[int(task.name)] = int((task / "stat").read_text().rsplit(")", 1)[1].split()[16])
        except (OSError, IndexError):
            continue  # the thread ended meanwhile
    return nice


def serve_env() -> dict:
    """The server subprocess uses the test database."""
    return {**os.environ, "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}"}


@contextmanager
def serving(*args):
    """`manage.py serve ARGS` in a subprocess, stopped with Ctrl-C on the way out; yields a dict that then holds
    its returncode and output."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", *args],
        env=serve_env(),
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    served = {"pid": process.pid}
    try:
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        served["output"] = process.communicate(timeout=30)[0].decode()
        served["returncode"] = process.returncode


def _get(url):
    try:
        return httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None


def test_serve_with_a_config_applies_it_for_the_user_before_serving(user, transactional_db, openai_upstream, tmp_path):
    proxy_port = free_port()
    config = tmp_path / "rubberduck.yaml"
    config.write_text(
        "version: 1\n"
        "proxies:\n"
        f"  - {{name: declared, provider: openai, model_name: m, port: {proxy_port}, upstream_url: '{openai_upstream.url}/v1'}}\n"
    )
    with serving("--port", str(free_port()), "--config", str(config), "--user", user.email) as served:
        wait_until(lambda: Proxy.objects.filter(owner=user, name="declared", status="running").exists(), timeout=20)
        answer = httpx.get(f"http://127.0.0.1:{proxy_port}/v1/models", headers={"authorization": "Bearer sk-x"})
        assert answer.json()["data"][0]["id"] == "gpt-4o-mini"
    assert served["returncode"] == 0, served["output"]
    assert "created: declared" in served["output"]


def test_serve_refuses_a_config_with_errors_and_does_not_start(user, transactional_db, tmp_path):
    config = tmp_path / "rubberduck.yaml"
    config.write_text("proxies:\n  - {name: bad, provider: nope, model_name: m}\n")
    command = [sys.executable, "manage.py", "serve", "--port", str(free_port()), "--config", str(config)]
    result = subprocess.run(command, env=serve_env(), cwd=settings.BASE_DIR, capture_output=True, timeout=60)
    assert result.returncode == 1
    assert b"proxies[0].provider: Unknown provider" in result.stderr
    assert not Proxy.objects.exists()
