"""What each client operation asks of the server, without doing any I/O (so sync and async share it).

An operation is a generator (a plan): it yields a `Call` and is sent back its `Answer`, or yields a `Pause` and is
sent None, and finally returns its result. `transport.py` runs plans over httpx, once blocking, once async.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from rubberduck_client.errors import RubberduckError, error_of

API = "/api/v1"
# A write the server answers 202 ("pending") is polled at its Location until it is settled, for at most this long.
PENDING_TIMEOUT = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # under the server's root, or an absolute URL the server gave (a next page, a Location)
    params: Mapping[str, str] | None = None
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # A 2xx answer's body goes to this file as it arrives (its Answer then has an empty body); the file is
    # replaced only once the whole body is in, so a failed download leaves what was there.
    download: Path | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    reason: str = ""

    def data(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Pause:
    seconds: float


Plan = Generator[Call | Pause, Answer | None, T]


def fetch(call: Call) -> Plan[Any]:
    """The call's JSON answer; raises RubberduckError on an error answer. A 202 with a Location is followed."""
    answer = yield call
    assert answer is not None
    waited, pause = 0.0, 0.05
    while answer.status == 202 and answer.headers.get("location"):
        if waited >= PENDING_TIMEOUT:
            message = f"Still pending after {PENDING_TIMEOUT:.0f} s: {call.method} {call.path}"
            raise RubberduckError(202, message, code="pending")
        yield Pause(pause)
        waited, pause = waited + pause, min(pause * 2, 0.5)
        answer = yield Call("GET", answer.headers["location"])
        assert answer is not None
    if answer.status >= 400:
        raise error_of(answer.status, answer.body, answer.reason)
    return answer.data()


# Proxies


def proxy_path(proxy_id: int, tail: str = "") -> str:
    return f"{API}/proxies/{proxy_id}/{tail}"


def list_proxies(**filters: str) -> Plan[list[dict]]:
    return (yield from fetch(Call("GET", f"{API}/proxies/", params=filters)))


def find_proxy(name: str) -> Plan[dict | None]:
    # The name is matched here too: a server without the ?name= filter answers every proxy.
    found = yield from list_proxies(name=name)
    return next((proxy for proxy in found if proxy["name"] == name), None)


def get_proxy(name: str) -> Plan[dict]:
    proxy = yield from find_proxy(name)
    if proxy is None:
        raise RubberduckError(404, f"You have no proxy named {name!r}.", code="not_found")
    return proxy


def refresh_proxy(proxy_id: int) -> Plan[dict]:
    return (yield from fetch(Call("GET", proxy_path(proxy_id))))


def create_proxy(fields: Mapping[str, Any]) -> Plan[dict]:
    """Creates a proxy and returns it once it serves."""
    proxy = yield from fetch(Call("POST", f"{API}/proxies/", json=dict(fields)))
    return (yield from serving(proxy))


def ensure_proxy(name: str, fields: Mapping[str, Any]) -> Plan[dict]:
    """The proxy named `name` with these settings (None: not given), serving: created, or changed where it
    differs."""
    fields = {key: value for key, value in fields.items() if value is not None}
    proxy = yield from find_proxy(name)
    if proxy is None:
        try:
            return (yield from create_proxy({"name": name, **fields}))
        except RubberduckError as e:
            # Taken meanwhile (another process ensuring it too): then it is that one.
            proxy = (yield from find_proxy(name)) if "name" in e.field_errors else None
            if proxy is None:
                raise
    changes = {key: value for key, value in fields.items() if proxy.get(key) != value}
    if changes:
        proxy = yield from update_proxy(proxy["id"], changes)
    return (yield from serving(proxy))


def update_proxy(proxy_id: int, changes: Mapping[str, Any]) -> Plan[dict]:
    return (yield from fetch(Call("PATCH", proxy_path(proxy_id), json=dict(changes))))


def serving(proxy: dict) -> Plan[dict]:
    """The proxy, started unless it runs."""
    if proxy["status"] == "running":
        return proxy
    return (yield from start_proxy(proxy["id"]))


def start_proxy(proxy_id: int) -> Plan[dict]:
    """The proxy once it runs (the server answers once it runs or failed); raises RubberduckError if it cannot."""
    proxy = yield from fetch(Call("POST", proxy_path(proxy_id, "start")))
    if proxy["status"] != "running":
        reason = f": {proxy['last_error']}" if proxy.get("last_error") else ""
        raise RubberduckError(None, f"Proxy {proxy['name']!r} is {proxy['status']}{reason}", code="not_running")
    return proxy


def stop_proxy(proxy_id: int, mode: str) -> Plan[dict]:
    return (yield from fetch(Call("POST", proxy_path(proxy_id, "stop"), json={"mode": mode})))


def delete_proxy(proxy_id: int, missing_ok: bool = False) -> Plan[None]:
    try:
        yield from fetch(Call("DELETE", proxy_path(proxy_id)))
    except RubberduckError as e:
        if not (missing_ok and e.status == 404):
            raise


def clone_proxy(proxy_id: int, name: str | None) -> Plan[dict]:
    body = {"name": name} if name else {}
    proxy = yield from fetch(Call("POST", proxy_path(proxy_id, "clone"), json=body))
    return (yield from serving(proxy))


# Cache (recordings: docs/recordings.md)

CACHE_PAGE_SIZE = "500"  # the most the server gives a page
RECORDING_TYPE = "application/x-ndjson"


def clear_cache(proxy_id: int) -> Plan[int]:
    answer = yield from fetch(Call("DELETE", proxy_path(proxy_id, "cache")))
    return answer["deleted"]


def cache_entries(proxy_id: int, filters: Mapping[str, Any]) -> Plan[list[dict]]:
    """Every cached entry matching the filters (`model` exact, `path` and `q` substrings), all pages."""
    params = {key: str(value) for key, value in filters.items() if value not in (None, "")}
    page = yield from fetch(
        Call("GET", proxy_path(proxy_id, "cache/"), params={"page_size": CACHE_PAGE_SIZE, **params})
    )
    entries = list(page["results"])
    while page["next"]:
        page = yield from fetch(Call("GET", page["next"]))
        entries += page["results"]
    return entries


def delete_cache_entry(proxy_id: int, key: str) -> Plan[None]:
    yield from fetch(Call("DELETE", proxy_path(proxy_id, f"cache/{key}")))


def export_cache(proxy_id: int, path: str | os.PathLike[str]) -> Plan[Path]:
    """The proxy's recording (every entry, sorted by key) streamed into the file at `path`."""
    target = Path(path)
    yield from fetch(Call("GET", proxy_path(proxy_id, "cache/export"), download=target))
    return target


def import_cache(proxy_id: int, path: str | os.PathLike[str]) -> Plan[dict]:
    """A recording file into the proxy's cache: {added, replaced, unchanged}."""
    body = Path(path).read_bytes()
    call = Call("POST", proxy_path(proxy_id, "cache/import"), content=body, headers={"content-type": RECORDING_TYPE})
    return (yield from fetch(call))


# Failures


def get_failures(proxy_id: int) -> Plan[dict]:
    return (yield from fetch(Call("GET", proxy_path(proxy_id, "failures"))))


def set_failures(proxy_id: int, config: Mapping[str, Any]) -> Plan[dict]:
    return (yield from fetch(Call("PUT", proxy_path(proxy_id, "failures"), json=dict(config))))


def swap_failures(proxy_id: int, config: Mapping[str, Any]) -> Plan[dict]:
    """Sets the config and returns the one it replaced."""
    previous = yield from get_failures(proxy_id)
    yield from set_failures(proxy_id, config)
    return previous


def reset_all() -> Plan[None]:
    """Every proxy's failures off (like Toxiproxy's reset)."""
    for proxy in (yield from list_proxies()):
        yield from set_failures(proxy["id"], {})


# Logs and declarations


def logs(filters: Mapping[str, Any]) -> Plan[list[dict]]:
    """Every entry matching the filters, newest first (all pages)."""
    params = {key: query_value(value) for key, value in filters.items() if value is not None}
    page = yield from fetch(Call("GET", f"{API}/logs/", params={"page_size": "500", **params}))
    entries = list(page["results"])
    while page["next"]:
        page = yield from fetch(Call("GET", page["next"]))
        entries += page["results"]
    return entries


def query_value(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def apply(document: Mapping[str, Any] | str | os.PathLike[str], prune: bool, dry_run: bool) -> Plan[dict]:
    """POSTs a declaration document (a mapping, or a YAML or JSON file sent as it is); answers what changed."""
    params = {"prune": str(prune).lower(), "dry_run": str(dry_run).lower()}
    if isinstance(document, Mapping):
        call = Call("POST", f"{API}/apply", params=params, json=dict(document))
    else:
        path = Path(document)
        kind = "application/json" if path.suffix.lower() == ".json" else "application/yaml"
        call = Call("POST", f"{API}/apply", params=params, content=path.read_bytes(), headers={"content-type": kind})
    return (yield from fetch(call))


def providers() -> Plan[list[dict]]:
    return (yield from fetch(Call("GET", f"{API}/providers/")))


def health() -> Plan[dict]:
    return (yield from fetch(Call("GET", "/healthz")))
