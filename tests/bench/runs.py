"""Running bench/run.py as its user would, for the bench's own correctness checks (no timing is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def passed_run(tmp_path: Path, *options: str, timeout: float) -> dict:
    """The results of `bench/run.py OPTIONS --json FILE`, once it is known that every one of its checks passed."""
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "bench/run.py", *options, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.exists(), run.stdout + run.stderr
    results = json.loads(out.read_text())
    failed = [(name, detail) for name, ok, detail in results["checks"] if not ok]
    assert failed == []
    assert run.returncode == 0
    return results
