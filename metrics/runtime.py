"""Wires the logs/metrics side into a runner: roll-ups, the live log stream and Prometheus, all fed by its
log writer (nothing on the proxies' request path)."""

from __future__ import annotations

from logs.live import publish_rows
from metrics import prometheus
from metrics.rollup import Rollup


def attach(runner) -> Rollup:
    rollup = Rollup(runner)
    rollup.attach(runner.writer)
    runner.writer.sinks.append(publish_rows)
    runner.writer.sinks.append(prometheus.observe_rows)
    return rollup
