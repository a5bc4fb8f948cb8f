"""The data plane of a process, composed: a runner whose log writer feeds the logs and metrics side (roll-ups
in the rows' own transaction, then the live log stream and Prometheus), nothing of it on a request path.
Used by `serve`, `runproxies`, the bench and the tests."""

from __future__ import annotations

from logs.live import publish_rows
from logs.writer import LogWriter
from metrics import prometheus
from metrics.rollup import Rollup
from proxies.runner import Runner


def build_runner(**options) -> Runner:
    """A runner (Runner's keyword options), not started."""
    writer = LogWriter()
    runner = Runner(writer, **options)
    Rollup(runner).attach(writer)
    writer.sinks.append(publish_rows)
    writer.sinks.append(prometheus.observe_rows)
    return runner
