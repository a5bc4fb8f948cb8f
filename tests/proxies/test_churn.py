"""Churn: proxies created, started, called, edited, stopped and deleted over and over by four clients at once.

The suite makes a short run; the long run by hand uses the same test with more cycles (all clients together):
RUBBERDUCK_CHURN_CYCLES=1000 python -m pytest -s tests/proxies/test_churn.py -k churn
"""

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connections

from proxies import services
from proxies.models import Proxy
from rubberduck_site.dataplane import build_runner
from tests.conftest import token_client, wait_until

CLIENTS = 4
CYCLES = int(os.environ.get("RUBBERDUCK_CHURN_CYCLES", "12"))
# A reconcile tick is 0.5 s: a proxy that serves and still says starting after this has lost its status.
RUNNING_WITHIN = 2.0
FAILURES = {"rpm_limit": 10_000, "errors": [{"status": 500, "rate": 0.0}]}


def status_of(api, proxy_id: int) -> dict:
    return api.get(f"/api/v1/proxies/{proxy_id}/").json()


def accepts(port: int) -> bool:
    try:
        socket.create_connection((django_settings.RUBBERDUCK_PROXY_HOST, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def chat(proxy: dict) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"churn {time.time()}"}]}
    response = httpx.post(proxy["base_url"] + "/chat/completions", json=body, headers={"authorization": "Bearer sk"})
    assert response.status_code == 200, response.text
    assert response.json()["choices"]


def fd_targets(pid: int | str = "self") -> list[str]:
    """What the process's file descriptors point at; sockets and pipes by kind (their inodes change)."""
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        targets.append(target.split(":[")[0])
    return sorted(targets)


def thread_names(pid: int | str = "self") -> list[str]:
    if pid == "self":
        return sorted(t.name for t in threading.enumerate())
    return sorted(Path(f"/proc/{pid}/task/{t}/comm").read_text().strip() for t in os.listdir(f"/proc/{pid}/task"))


def leaked(before: list[str], after: list[str]) -> list[str]:
    """The descriptors `after` holds beyond `before`. SQLite keeps a closed connection's descriptor of the database
    file while another connection of the process holds a lock on it (POSIX locks belong to the process), and gives
    it to the next connection it opens: a few such are no leak, however many cycles ran."""
    extra = list((Counter(after) - Counter(before)).elements())
    database = django_settings.DATABASES["default"]["NAME"]
    kept_by_sqlite = extra.count(database)
    return [t for t in extra if t != database] + ([database] * kept_by_sqlite if kept_by_sqlite > CLIENTS else [])


def settles(pid: int | str, fds: list[str], threads: list[str]) -> None:
    """Waits until `pid` holds no more file descriptors and threads than it did before (stops end in their own
    threads, and connections close on both sides a moment later)."""
    try:
        wait_until(lambda: not leaked(fds, fd_targets(pid)) and len(thread_names(pid)) <= len(threads))
    except AssertionError:
        raise AssertionError(
            f"fds leaked: {leaked(fds, fd_targets(pid))}\nthreads before {threads}\nafter {thread_names(pid)}"
        ) from None


@dataclass
class Figures:
    cycles: int = 0
    latencies: list[float] = field(default_factory=list)  # port accepting -> the API saying running, per start
    errors: list[str] = field(default_factory=list)


def until_running(api, proxy_id: int, port: int, figures: Figures) -> dict:
    """Polls the port and the API until the API says running. Fails when that was RUNNING_WITHIN or more after the
    port accepted connections, or when the API says error."""
    accepted = None  # since when the port accepts (a proxy deleted a moment ago may still hold it, then let go)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not accepts(port):
            accepted = None
        elif accepted is None:
            accepted = time.monotonic()
        proxy = status_of(api, proxy_id)
        now = time.monotonic()
        assert proxy["status"] != "error", f"proxy {proxy_id} on port {port}: {proxy['last_error']}"
        if proxy["status"] == "running":
            assert proxy["port"] == port, proxy
            latency = now - accepted if accepted is not None else 0.0
            figures.latencies.append(latency)
            assert latency < RUNNING_WITHIN, f"port {port} accepted {latency:.1f} s before the API said running"
            return proxy
        time.sleep(0.02)
    raise AssertionError(f"proxy {proxy_id} never served on port {port}: {status_of(api, proxy_id)}")


def cycle(api, i: int, kind: int, ports: tuple[int, int], upstream: str, figures: Figures) -> None:
    """create -> start -> a call -> an edit -> stop -> delete. Every other kind moves the proxy to its second port;
    the others set failures and send the whole proxy back as a form would (its port unchanged). Every fourth is
    deleted while it serves, and the client's next cycle takes its port at once."""
    first, second = ports
    body = {"name": f"churn-{i}", "provider": "openai", "model_name": "m", "upstream_url": upstream, "port": first}
    created = api.post("/api/v1/proxies/", body, format="json")
    assert created.status_code == 201, created.content
    pid = created.json()["id"]
    started = api.post(f"/api/v1/proxies/{pid}/start")
    assert started.status_code == 200, started.content
    proxy = until_running(api, pid, first, figures)
    chat(proxy)

    if kind % 2 == 0:
        edited = api.patch(f"/api/v1/proxies/{pid}/", {"port": second}, format="json")
        assert edited.status_code == 200, edited.content
        proxy = until_running(api, pid, second, figures)
    else:
        put = api.put(f"/api/v1/proxies/{pid}/failures", FAILURES, format="json")
        assert put.status_code == 200, put.content
        form = {k: proxy[k] for k in ("name", "provider", "model_name", "port", "upstream_url", "tls", "description")}
        edited = api.patch(f"/api/v1/proxies/{pid}/", form, format="json")
        assert edited.status_code == 200, edited.content
        assert edited.json()["status"] == "running", edited.json()
        proxy = until_running(api, pid, first, figures)
    chat(proxy)
    assert status_of(api, pid)["status"] == "running"

    if kind % 4 != 3:
        stopped = api.post(f"/api/v1/proxies/{pid}/stop", {}, format="json")
        assert stopped.status_code == 200 and stopped.json()["status"] in ("stopping", "stopped"), stopped.content
        wait_until(lambda: status_of(api, pid)["status"] == "stopped")
    assert api.delete(f"/api/v1/proxies/{pid}/").status_code == 204


def churn(user, ports: list[tuple[int, int]], upstream: str, cycles: int) -> Figures:
    """`cycles` cycles over CLIENTS threads, each with its own API client and pair of ports."""
    figures = Figures()
    clients = [token_client(user) for _ in range(CLIENTS)]
    lock = threading.Lock()

    def client(k: int) -> None:
        try:
            for i in range(k, cycles, CLIENTS):
                cycle(clients[k], i, i // CLIENTS + k, ports[k], upstream, figures)
                with lock:
                    figures.cycles += 1
        except BaseException as e:  # reported by the main thread
            figures.errors.append(f"client {k}: {type(e).__name__}: {e}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(k,), name=f"churn-client-{k}") for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert figures.errors == [], "\n".join(figures.errors)
    assert figures.cycles == cycles
    return figures


def port_pairs() -> list[tuple[int, int]]:
    """Ports that no program holds, below the ephemeral range: there, the test's and the runner's own connections
    (to PostgreSQL, say) take ports as they open, and one that takes a proxy's port keeps it from binding. In a
    window of 25 of this test run's own (tests/conftest.py gives each run 100 ports from 20000 on)."""
    ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    low = min(10000 + (django_settings.RUBBERDUCK_PORT_RANGE[0] - 20000) // 100 * 25, ephemeral - 25)
    free = [p for p in range(low, low + 25) if services.port_is_bindable(p)]
    return [(free[2 * k], free[2 * k + 1]) for k in range(CLIENTS)]


def churn_counted(user, upstream: str, processes: dict[str, int | str]) -> None:
    """A warm-up cycle per client (pools, threads and connections that stay for good), then CYCLES cycles; then each
    process must settle back to the file descriptors and threads it had after the warm-up."""
    ports = port_pairs()
    churn(user, ports, upstream, CLIENTS)
    connections.close_all()
    before = {name: (fd_targets(pid), thread_names(pid)) for name, pid in processes.items()}
    started = time.monotonic()
    figures = churn(user, ports, upstream, CYCLES)
    seconds = time.monotonic() - started
    connections.close_all()
    counts = []
    for name, pid in processes.items():
        fds, threads = before[name]
        settles(pid, fds, threads)
        counts.append(
            f"{name}: fds {len(fds)} -> {len(fd_targets(pid))}, threads {len(threads)} -> {len(thread_names(pid))}"
        )
    print(
        f"\nchurn: {figures.cycles} cycles in {seconds:.1f} s, {len(figures.latencies)} starts, the API said running at"
        f" most {max(figures.latencies) * 1000:.0f} ms after the port accepted; {'; '.join(counts)}"
    )


def test_it_churns_with_the_embedded_runner_without_a_stuck_status_or_a_leak(
    user, runner, openai_upstream, caplog, settings
):
    settings.RUBBERDUCK_METRICS_SAMPLE_SECONDS = 0.1  # roll-ups sample while proxies are deleted
    churn_counted(user, openai_upstream.url + "/v1", {"test process": "self"})
    assert Proxy.objects.count() == 0
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []


def test_it_churns_with_a_separate_runproxies_process_without_a_stuck_status_or_a_leak(
    user, transactional_db, openai_upstream
):
    db_path = django_settings.DATABASES["default"]["NAME"]
    log_path = Path(db_path).with_suffix(".runproxies.log")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "RUBBERDUCK_RECONCILE_SECONDS": "0.3",
        "RUBBERDUCK_METRICS_SAMPLE_SECONDS": "0.1",
        "RUBBERDUCK_GRACEFUL_STOP_SECONDS": "5",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runproxies"], env=env, cwd=django_settings.BASE_DIR, stdout=log, stderr=log
        )
    try:
        wait_until(lambda: "started" in log_path.read_text(), timeout=60)  # its imports take seconds under load
        churn_counted(user, openai_upstream.url + "/v1", {"runproxies": process.pid, "test process": "self"})
    finally:
        process.terminate()
        process.wait(timeout=30)
        output = log_path.read_text()
        log_path.unlink()
        print(output)  # shown when the test fails
    assert process.returncode == 0, output
    for sign in ("Traceback", "IntegrityError", "could not start"):
        assert sign not in output, output


# The lost status, step by step.

NAMES = itertools.count()


def create(api, **fields) -> dict:
    body = {"name": f"p{next(NAMES)}", "provider": "openai", "model_name": "m", **fields}
    response = api.post("/api/v1/proxies/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def ticking_runner(transactional_db, settings):
    """A runner that reconciles only when the test says (no loop of its own), so a race can be played in order."""
    settings.RUBBERDUCK_GRACEFUL_STOP_SECONDS = 5
    runner = build_runner()
    yield runner
    runner.shutdown("force")


@pytest.mark.parametrize(
    "edit",
    [
        lambda proxy: services.proxy_failures_set(proxy=proxy, config=FAILURES),
        lambda proxy: services.proxy_update(proxy=proxy, description="edited"),
        lambda proxy: services.proxy_start(proxy=proxy),
    ],
    ids=["put-failures", "patch", "start"],
)
def test_it_says_running_after_an_edit_that_read_the_proxy_before_the_runner_started_it(
    api, ticking_runner, openai_upstream, edit
):
    proxy = create(api, upstream_url=openai_upstream.url + "/v1")
    read_by_the_edit = Proxy.objects.get(pk=proxy["id"])  # what the API request read: status starting
    ticking_runner.reconcile()
    assert status_of(api, proxy["id"])["status"] == "running"
    edit(read_by_the_edit)
    ticking_runner.reconcile()
    assert status_of(api, proxy["id"])["status"] == "running"
    assert accepts(proxy["port"])


def test_it_says_running_after_a_patch_that_sends_the_port_unchanged(api, make_proxy, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    edited = api.patch(f"/api/v1/proxies/{proxy['id']}/", {"port": proxy["port"], "name": "renamed"}, format="json")
    assert edited.status_code == 200
    wait_until(lambda: status_of(api, proxy["id"])["status"] == "running", timeout=3)
    assert status_of(api, proxy["id"])["name"] == "renamed"


def test_it_makes_the_status_of_every_proxy_it_serves_true_on_each_tick(api, ticking_runner, openai_upstream):
    proxy = create(api, upstream_url=openai_upstream.url + "/v1")
    ticking_runner.reconcile()
    Proxy.objects.filter(pk=proxy["id"]).update(status=Proxy.Status.STARTING)  # a write that went astray
    ticking_runner.reconcile()
    assert status_of(api, proxy["id"])["status"] == "running"


def test_it_starts_a_new_proxy_on_the_port_of_one_deleted_a_moment_ago(api, ticking_runner, openai_upstream):
    upstream = openai_upstream.url + "/v1"
    old = create(api, upstream_url=upstream)
    ticking_runner.reconcile()
    assert accepts(old["port"])
    assert api.delete(f"/api/v1/proxies/{old['id']}/").status_code == 204
    new = create(api, upstream_url=upstream, port=old["port"])
    ticking_runner.reconcile()  # the old one is still stopping on that port

    def settled():  # a tick each time, then the new proxy's status
        ticking_runner.reconcile()
        return status_of(api, new["id"])["status"] != "starting"

    wait_until(settled)
    proxy = status_of(api, new["id"])
    assert proxy["status"] == "running", proxy
    chat(proxy)
