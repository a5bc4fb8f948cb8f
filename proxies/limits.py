"""What a proxy's port takes from its clients, and the process's file descriptors.

ClientLimits are read from settings once by the runner and given to every proxy it starts (D50-D54): the body size
a request read whole may have, the size of a request's head, how long an idle connection stays open, and how long a
request may take to arrive. The protocol (proxies/protocol.py) and the app (proxies/app.py) apply them with integer
compares; a sweep once a second (proxies/protocol.py `sweep`) looks after the time limits.

Descriptors: a process serving proxies raises its soft RLIMIT_NOFILE to the hard limit at start (D56), and
DescriptorWatch says once per burst when they run out, and once when they are back (D57).
"""

from __future__ import annotations

import errno
import logging
import os
import resource
import threading
from dataclasses import dataclass

log = logging.getLogger("rubberduck.runner")


@dataclass(frozen=True, slots=True)
class ClientLimits:
    max_request_bytes: int = 32 * 1024 * 1024  # a body the proxy reads whole; larger: 413 (D50)
    max_head_bytes: int = 64 * 1024  # the request line and headers; larger: 431, then closed (D51)
    keep_alive_seconds: float = 75.0  # an idle connection, before its first request or between two (D52)
    client_timeout_seconds: float = 60.0  # from a request's first byte until its head and body are in (D53)

    @classmethod
    def from_settings(cls) -> ClientLimits:
        from django.conf import settings

        return cls(
            max_request_bytes=settings.RUBBERDUCK_MAX_REQUEST_BYTES,
            max_head_bytes=settings.RUBBERDUCK_MAX_HEADER_BYTES,
            keep_alive_seconds=settings.RUBBERDUCK_KEEP_ALIVE_SECONDS,
            client_timeout_seconds=settings.RUBBERDUCK_CLIENT_TIMEOUT_SECONDS,
        )


def raise_descriptor_limit() -> tuple[int, int]:
    """Raises this process's soft limit on open files to its hard one, where the system allows; logs the limit
    once and returns (soft, hard) as they are now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as e:
            log.warning("could not raise the open-files limit from %s to %s: %s", soft, target, e)
    log.info("open-files limit: %s (hard %s): about that many client connections in all", soft, hard)
    return soft, hard


class DescriptorWatch:
    """Whether the process can still open a file: the proxies' date clock probes it once a second. Running out is
    logged once per burst (not per refused connection), and so is getting them back; meanwhile uvloop (libuv)
    closes the connections it cannot accept and the proxies serve those they have (D57)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.out = False
        self.bursts = 0

    def probe(self) -> bool:
        """True when the process is out of descriptors now."""
        try:
            os.close(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            out = False
        except OSError as e:
            if e.errno not in (errno.EMFILE, errno.ENFILE):
                return False
            out = True
        if out != self.out:
            with self.lock:
                if out != self.out:
                    self.out = out
                    self.report(out)
        return out

    def report(self, out: bool) -> None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if out:
            self.bursts += 1
            log.error(
                "out of file descriptors (limit %s): new client connections are closed at once until some free up; "
                "those open are served (raise `ulimit -n`, or the hard limit, to take more)",
                soft,
            )
        else:
            log.warning("file descriptors available again: new client connections are accepted")


descriptors = DescriptorWatch()  # one per process: descriptors are the process's
