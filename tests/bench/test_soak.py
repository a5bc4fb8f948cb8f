"""The soak's short run, for its correctness checks only: `bench/soak.py --seconds 45` (the by-hand run is
`--minutes 30`) puts mixed traffic on a real `manage.py serve` (hits, misses, streams, injected failures, API
calls, WebSocket clients coming and going) and checks log entries == requests, zero errors and no entry dropped.
Its memory and descriptor figures are printed, not asserted."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_logs_every_request_with_zero_errors_through_45_seconds_of_mixed_traffic():
    run = subprocess.run(
        [sys.executable, "bench/soak.py", "--seconds", "45", "--sample", "9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )
    print(run.stdout[-4000:], run.stderr[-4000:])
    assert "ok   log entries == requests" in run.stdout
    assert "ok   zero errors" in run.stdout
    assert "ok   no log entry dropped" in run.stdout
    assert run.returncode == 0
    requests = next(line for line in run.stdout.splitlines() if line.startswith("proxy requests"))
    for kind in ("hit", "miss", "stream hit", "stream miss", "failing"):  # every kind of traffic ran
        assert f"{kind} " in requests
