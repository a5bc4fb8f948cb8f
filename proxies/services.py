"""Writes on proxies (the control plane). The runner picks up desired state; `nudge` makes it immediate."""

from __future__ import annotations

import itertools
import socket
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from proxies.models import CacheEntry, Proxy
from proxies.runner import local_runner


class NoFreePort(Exception):
    pass


def port_is_bindable(port: int, host: str | None = None) -> bool:
    """True when no other program holds `port` right now."""
    host = host or settings.RUBBERDUCK_PROXY_HOST
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_assign() -> int:
    """The lowest port of the configured range that no proxy uses and no program holds."""
    low, high = settings.RUBBERDUCK_PORT_RANGE
    taken = set(Proxy.objects.values_list("port", flat=True))
    for port in range(low, high + 1):
        if port not in taken and port_is_bindable(port):
            return port
    raise NoFreePort(f"No free port between {low} and {high}.")


def nudge() -> None:
    runner = local_runner()
    if runner is not None:
        runner.nudge()


def proxy_create(*, owner, port: int | None = None, **fields) -> Proxy:
    with transaction.atomic():
        proxy = Proxy.objects.create(
            owner=owner,
            port=port or port_assign(),
            desired_state=Proxy.Desired.RUNNING,
            status=Proxy.Status.STARTING,
            **fields,
        )
    nudge()
    return proxy


def proxy_update(*, proxy: Proxy, **fields) -> Proxy:
    for name, value in fields.items():
        setattr(proxy, name, value)
    if "port" in fields and proxy.desired_state == Proxy.Desired.RUNNING:
        proxy.status = Proxy.Status.STARTING
    proxy.save()
    nudge()
    return proxy


def proxy_start(*, proxy: Proxy, wait: float = 10.0) -> Proxy:
    """Asks for the proxy to run; returns once its status is running or error (or `wait` runs out)."""
    proxy.desired_state = Proxy.Desired.RUNNING
    if proxy.status != Proxy.Status.RUNNING:
        proxy.status = Proxy.Status.STARTING
        proxy.last_error = None
    proxy.save()
    nudge()
    return wait_for_status(proxy, {Proxy.Status.RUNNING, Proxy.Status.ERROR}, wait)


def proxy_stop(*, proxy: Proxy, mode: str = "graceful", wait: float = 2.0) -> Proxy:
    """Asks for the proxy to stop (graceful: in-flight requests finish; force: they are cut)."""
    proxy.desired_state = Proxy.Desired.STOPPED
    proxy.stop_mode = mode
    proxy.status = (
        Proxy.Status.STOPPED if proxy.status in (Proxy.Status.ERROR, Proxy.Status.STOPPED) else Proxy.Status.STOPPING
    )
    proxy.save()
    nudge()
    return wait_for_status(proxy, {Proxy.Status.STOPPED}, wait)


def wait_for_status(proxy: Proxy, statuses: set[str], wait: float) -> Proxy:
    deadline = time.monotonic() + wait
    while proxy.status not in statuses and time.monotonic() < deadline:
        time.sleep(0.05)
        proxy.refresh_from_db()
    return proxy


def proxy_delete(*, proxy: Proxy) -> None:
    proxy.delete()
    nudge()


def proxy_cache_clear(*, proxy: Proxy) -> int:
    deleted, _ = CacheEntry.objects.filter(proxy=proxy).delete()
    Proxy.objects.filter(pk=proxy.pk).update(cache_cleared_at=timezone.now())
    runner = local_runner()
    if runner is not None:
        runner.clear_cache(proxy.pk)
    return deleted


def proxy_failures_set(*, proxy: Proxy, config: dict) -> Proxy:
    proxy.failures = config
    proxy.save()
    nudge()
    return proxy


# What a clone copies of its proxy: everything a user set, except its name and port.
CLONED_FIELDS = ("provider", "model_name", "upstream_url", "tls", "replay", "description", "tags", "failures")


def name_free(owner, base: str) -> str:
    """`base`, or the first of "base-2", "base-3", ... that none of the owner's proxies is named."""
    taken = set(Proxy.objects.filter(owner=owner).values_list("name", flat=True))
    max_length = Proxy._meta.get_field("name").max_length
    for n in itertools.count(1):
        suffix = "" if n == 1 else f"-{n}"
        name = base[: max_length - len(suffix)] + suffix
        if name not in taken:
            return name


def proxy_clone(*, proxy: Proxy, name: str) -> Proxy:
    """A new running proxy with the settings of `proxy`, a new name and a free port."""
    return proxy_create(owner=proxy.owner, name=name, **{field: getattr(proxy, field) for field in CLONED_FIELDS})
