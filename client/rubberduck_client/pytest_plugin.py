"""Rubberduck in a test suite (a pytest11 plugin): fixtures for a server, a client and throwaway proxies, and a
marker that injects failures for one test.

- `rubberduck_server` (session): the server of --rubberduck-url / $RUBBERDUCK_URL, or, when none is given, a
  throwaway local one started for the session (temp data dir, free port, fresh token) and stopped at its end.
- `rubberduck` (session): a `Rubberduck` client for it (token: --rubberduck-token / $RUBBERDUCK_TOKEN).
- `rubberduck_proxy` (test): `rubberduck_proxy(provider="openai", model_name=..., upstream_url=...)` creates a
  uniquely named proxy (or `name=...`), serving; every proxy it made is deleted after the test.
- `@pytest.mark.rubberduck_failures(errors={429: 1.0}, proxy="name")`: the failure config (the keywords of
  `Proxy.failing`, or a config mapping as the first argument) applied while the test runs and the previous one
  restored after it. Without `proxy`, it applies to every proxy `rubberduck_proxy` makes in the test.
- `--rubberduck-record-mode=none|once|all` (recordings.py): each proxy the suite uses answers from its recording
  in `--rubberduck-recordings` (default `tests/recordings` under the rootdir), or records into it;
  `rubberduck_recordings` (session) is that run's `Recordings`, None without the option.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rubberduck_client.errors import RubberduckError
from rubberduck_client.failures import failure_config
from rubberduck_client.local_server import LocalServer
from rubberduck_client.recordings import MODES, Recordings
from rubberduck_client.sync import Proxy, Rubberduck

MARKER = "rubberduck_failures"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rubberduck")
    group.addoption(
        "--rubberduck-url",
        help="A running Rubberduck server (default: $RUBBERDUCK_URL; else one is started for the session).",
    )
    group.addoption("--rubberduck-token", help="Its API token (default: $RUBBERDUCK_TOKEN).")
    group.addoption(
        "--rubberduck-server-cmd",
        help="The `rubberduck` program that starts a throwaway server "
        "(default: $RUBBERDUCK_SERVER_CMD, else `rubberduck`); it is given `serve --port P` and "
        "`token create EMAIL --create-user`.",
    )
    group.addoption(
        "--rubberduck-record-mode",
        choices=MODES,
        help="Proxies answer from recordings: none = replay only (a call not recorded fails), once = replay a "
        "proxy that has a recording and record one that has none, all = record every proxy afresh. "
        "Default: no recordings (each proxy caches as it is set to).",
    )
    group.addoption(
        "--rubberduck-recordings",
        metavar="DIR",
        help="Where the recordings are, one <proxy name>.rubberduck.jsonl a proxy (default: tests/recordings "
        "under the rootdir).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(config=None, *, proxy=None, errors=..., timeout=..., ...): Rubberduck failures for this test "
        "(on the proxy named `proxy`, else on every proxy rubberduck_proxy makes); restored after it.",
    )


@dataclass(frozen=True)
class RubberduckServer:
    url: str
    token: str | None
    local: LocalServer | None = None  # when the plugin started it


def option(config: pytest.Config, name: str, env: str) -> str | None:
    return config.getoption(name) or os.environ.get(env) or None


def server_command(config: pytest.Config) -> list[str]:
    given = option(config, "rubberduck_server_cmd", "RUBBERDUCK_SERVER_CMD")
    if given:
        return shlex.split(given)
    beside = Path(sys.executable).with_name("rubberduck")  # the venv's, even when its bin/ is not on PATH
    found = str(beside) if beside.exists() else shutil.which("rubberduck")
    if found is None:
        raise pytest.UsageError(
            "Rubberduck: give --rubberduck-url (or $RUBBERDUCK_URL), or install the server so that the "
            "`rubberduck` command can start one (or point --rubberduck-server-cmd at it)."
        )
    return [found]


@pytest.fixture(scope="session")
def rubberduck_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RubberduckServer]:
    url = option(pytestconfig, "rubberduck_url", "RUBBERDUCK_URL")
    if url:
        yield RubberduckServer(url, option(pytestconfig, "rubberduck_token", "RUBBERDUCK_TOKEN"))
        return
    local = LocalServer(server_command(pytestconfig), tmp_path_factory.mktemp("rubberduck"))
    with local:
        yield RubberduckServer(local.url, local.token, local)


@pytest.fixture(scope="session")
def rubberduck(rubberduck_server: RubberduckServer) -> Iterator[Rubberduck]:
    with Rubberduck(rubberduck_server.url, rubberduck_server.token) as client:
        yield client


def recordings_dir(config: pytest.Config) -> Path:
    given = config.getoption("rubberduck_recordings")
    return Path(given).resolve() if given else config.rootpath / "tests" / "recordings"


@pytest.fixture(scope="session")
def rubberduck_recordings(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Iterator[Recordings | None]:
    """With --rubberduck-record-mode: the run's recordings. A proxy already on the server with a recording is
    attached now (its previous cache mode restored at the end); each proxy rubberduck_proxy makes, when made.
    Changed recordings are written when the session ends."""
    mode = pytestconfig.getoption("rubberduck_record_mode")
    if mode is None:
        yield None
        return
    recordings = Recordings(mode, recordings_dir(pytestconfig))
    client: Rubberduck = request.getfixturevalue("rubberduck")
    on_disk = set(recordings.names_on_disk())
    for proxy in client.proxies() if on_disk else []:
        if proxy.name in on_disk:
            recordings.attach(proxy, keep=True)
    yield recordings
    pytestconfig.stash[written_key] = recordings.finish()


written_key = pytest.StashKey[list[Path]]()


@pytest.fixture(scope="session", autouse=True)
def _rubberduck_recordings_session(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> None:
    # Before the first test, so that a proxy on the server replays from its first call on.
    if pytestconfig.getoption("rubberduck_record_mode"):
        request.getfixturevalue("rubberduck_recordings")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    written = config.stash.get(written_key, None)
    if written:
        terminalreporter.write_line(f"rubberduck: wrote {len(written)} recording(s): {', '.join(map(str, written))}")


@dataclass
class MarkedFailures:
    """The test's rubberduck_failures markers: applied to named proxies around the test's call, and to the
    proxies rubberduck_proxy makes as they are made."""

    client: Rubberduck
    markers: list[pytest.Mark]
    applied: list[tuple[Proxy, dict[str, Any]]] = field(default_factory=list)
    used: set[int] = field(default_factory=set)

    @staticmethod
    def config_of(mark: pytest.Mark) -> dict[str, Any]:
        kwargs = {key: value for key, value in mark.kwargs.items() if key != "proxy"}
        return failure_config(*mark.args[:1], **kwargs)

    def for_new(self, proxy: Proxy) -> None:
        for index, mark in enumerate(self.markers):
            if mark.kwargs.get("proxy") in (None, proxy.name):
                proxy.set_failures(self.config_of(mark))
                self.used.add(index)

    def apply_named(self, factory_used: bool) -> None:
        for index, mark in enumerate(self.markers):
            name = mark.kwargs.get("proxy")
            if name is None or index in self.used:
                continue
            try:
                proxy = self.client.get_proxy(name)
            except RubberduckError as e:
                if e.status != 404:
                    raise
                if factory_used:
                    continue  # rubberduck_proxy may make it during the test
                pytest.fail(f"{MARKER} applied to nothing: no proxy named {name!r}")
            self.applied.append((proxy, proxy.failures()))
            proxy.set_failures(self.config_of(mark))
            self.used.add(index)

    def restore(self) -> None:
        for proxy, previous in reversed(self.applied):
            try:
                proxy.set_failures(previous)
            except RubberduckError as e:
                if e.status != 404:  # a proxy the test deleted has nothing to restore
                    raise
        self.applied.clear()

    def unused(self) -> list[str]:
        """What each marker that applied to nothing expected."""
        return [
            f"no proxy named {mark.kwargs['proxy']!r}"
            if mark.kwargs.get("proxy")
            else "no proxy made by rubberduck_proxy"
            for index, mark in enumerate(self.markers)
            if index not in self.used
        ]


marked_failures_key = pytest.StashKey[MarkedFailures]()


@pytest.fixture(autouse=True)
def _rubberduck_failures(request: pytest.FixtureRequest) -> None:
    """Only for tests with the marker: gets the client (starting the server if need be) before the test."""
    markers = list(request.node.iter_markers(MARKER))
    if markers:
        client = request.getfixturevalue("rubberduck")
        request.node.stash[marked_failures_key] = MarkedFailures(client, markers)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # Around the test's body, after every fixture is set up: proxies made by fixtures are there to be found.
    marked = item.stash.get(marked_failures_key, None)
    if marked is None:
        return (yield)
    try:
        marked.apply_named(factory_used="rubberduck_proxy" in getattr(item, "fixturenames", ()))
        result = yield
    finally:
        marked.restore()
    if marked.unused():
        pytest.fail(f"{MARKER} applied to nothing: {'; '.join(marked.unused())}")
    return result


@pytest.fixture
def rubberduck_proxy(
    rubberduck: Rubberduck,
    request: pytest.FixtureRequest,
    _rubberduck_failures: None,
    rubberduck_recordings: Recordings | None,
) -> Iterator[Callable[..., Proxy]]:
    made: list[tuple[Proxy, str]] = []  # each with its recording's name
    unnamed: list[Proxy] = []
    marked = request.node.stash.get(marked_failures_key, None)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:60]

    def make(provider: str = "openai", *, name: str | None = None, **settings: Any) -> Proxy:
        proxy = rubberduck.create_proxy(name or f"{stem}-{secrets.token_hex(3)}", provider=provider, **settings)
        # An unnamed proxy's recording is named after the test (its own name is drawn anew each run).
        if name is None:
            unnamed.append(proxy)
        recording = name or (stem if len(unnamed) == 1 else f"{stem}-{len(unnamed)}")
        made.append((proxy, recording))
        if marked is not None:
            marked.for_new(proxy)
        if rubberduck_recordings is not None:
            rubberduck_recordings.attach(proxy, recording)
        return proxy

    yield make
    for proxy, recording in made:
        if rubberduck_recordings is not None:
            try:
                rubberduck_recordings.detach(proxy, recording, stop=True)
            except RubberduckError as e:
                if e.status != 404:  # deleted by the test: nothing to take
                    raise
        proxy.delete(missing_ok=True)
