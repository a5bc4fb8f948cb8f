"""Writes on proxies (the control plane). The runner picks up desired state; `nudge` makes it immediate, and
`wait_applied` waits until the running proxy has acted on a write."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
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


# Edits of these fields make the runner restart the proxy.
RESTARTING = ("port", "tls", "provider")


def proxy_update(*, proxy: Proxy, **fields) -> Proxy:
    """Writes only the edited fields: a whole row would put back the status this request read, and the runner may
    have written another since."""
    restarts = any(name in RESTARTING and value != getattr(proxy, name) for name, value in fields.items())
    for name, value in fields.items():
        setattr(proxy, name, value)
    with change(proxy):
        proxy.save(update_fields=[*fields, "updated_at"])
        if restarts:
            Proxy.objects.filter(pk=proxy.pk, desired_state=Proxy.Desired.RUNNING).update(status=Proxy.Status.STARTING)
    return proxy


def proxy_start(*, proxy: Proxy) -> Proxy:
    """Asks for the proxy to run (wait_applied with `steady`: until it runs or failed to start)."""
    with change(proxy):
        proxy.desired_state = Proxy.Desired.RUNNING
        proxy.save(update_fields=["desired_state", "updated_at"])
        # Decided on the row as it is now: the runner may have started the proxy since this request read it.
        Proxy.objects.filter(pk=proxy.pk).exclude(status=Proxy.Status.RUNNING).update(
            status=Proxy.Status.STARTING, last_error=None
        )
    return proxy


def proxy_stop(*, proxy: Proxy, mode: str = "graceful") -> Proxy:
    """Asks for the proxy to stop (graceful: in-flight requests finish; force: they are cut)."""
    with change(proxy):
        proxy.desired_state = Proxy.Desired.STOPPED
        proxy.stop_mode = mode
        proxy.save(update_fields=["desired_state", "stop_mode", "updated_at"])
        # Decided on the row as it is now: the runner may have stopped the proxy since this request read it. One
        # that failed to start or that no runner took serves nothing: stopped at once.
        rows = Proxy.objects.filter(pk=proxy.pk)
        rows.filter(Q(status=Proxy.Status.ERROR) | Q(runner_id="")).update(status=Proxy.Status.STOPPED)
        rows.exclude(status=Proxy.Status.STOPPED).update(status=Proxy.Status.STOPPING)
    return proxy


@contextmanager
def change(proxy: Proxy) -> Iterator[None]:
    """A write that the runner serving the proxy acts on: made in one transaction with the proxy's next revision;
    then the runner is nudged and `proxy` read back, its `revision` the one to wait for (wait_applied)."""
    with transaction.atomic():
        yield
        Proxy.objects.filter(pk=proxy.pk).update(revision=F("revision") + 1)
    nudge()
    proxy.refresh_from_db()


# While waiting, how often the row is read again (a runner in this process wakes the wait at once).
APPLY_POLL_SECONDS = 0.02


def wait_applied(proxy: Proxy, *, steady: bool = False, timeout: float | None = None) -> bool:
    """Waits until the proxy has applied the revision `proxy` was read at (Proxy.has_applied) and, if `steady`,
    is no longer starting or stopping (a start or a stop), for at most `timeout` (RUBBERDUCK_APPLY_WAIT_SECONDS);
    says whether it has. `proxy` is read again meanwhile; one deleted meanwhile serves nothing."""
    revision = proxy.revision
    deadline = time.monotonic() + (settings.RUBBERDUCK_APPLY_WAIT_SECONDS if timeout is None else timeout)
    runner = local_runner()
    while not (proxy.has_applied(revision) and (proxy.is_steady() or not steady)):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if runner is not None:
            runner.wait_tick(min(left, APPLY_POLL_SECONDS))
        else:
            time.sleep(min(left, APPLY_POLL_SECONDS))
        try:
            proxy.refresh_from_db()
        except Proxy.DoesNotExist:
            return True
    return True


def proxy_delete(*, proxy: Proxy, attempts: int = 5) -> None:
    """Deletes the proxy with its log entries, cache entries and metrics. On PostgreSQL the runner may commit more of
    these between the delete of the proxy's rows and its own (they fail the foreign key at commit): deleting again
    takes them too."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                Proxy.objects.filter(pk=proxy.pk).delete()
            break
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    nudge()


def proxy_cache_clear(*, proxy: Proxy) -> int:
    """Deletes the proxy's stored answers; the runner serving it drops those it holds in memory on its tick."""
    with change(proxy):
        deleted, _ = CacheEntry.objects.filter(proxy=proxy).delete()
        Proxy.objects.filter(pk=proxy.pk).update(cache_cleared_at=timezone.now(), cache_cleared_extra=0)
    return deleted


def proxy_failures_set(*, proxy: Proxy, config: dict) -> Proxy:
    proxy.failures = config
    with change(proxy):
        proxy.save(update_fields=["failures", "updated_at"])
    return proxy


# What a clone copies of its proxy: everything a user set, except its name and port.
CLONED_FIELDS = (
    "provider",
    "model_name",
    "upstream_url",
    "tls",
    "replay",
    "cache_mode",
    "description",
    "tags",
    "failures",
)


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
