"""The examples' own test suites, each run as its users run it: pytest in the example's directory, in a process of
its own, whose rubberduck pytest plugin starts a throwaway server for the session."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# This run's settings and server would otherwise reach the example's run: it starts its own.
NOT_PASSED_ON = {"DJANGO_SETTINGS_MODULE", "RUBBERDUCK_URL", "RUBBERDUCK_TOKEN"}


def run_suite(example: str, report: Path) -> tuple[subprocess.CompletedProcess, dict[str, int]]:
    env = {name: value for name, value in os.environ.items() if name not in NOT_PASSED_ON}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junit-xml={report}"],
        cwd=EXAMPLES / example,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    suite = ElementTree.parse(report).getroot().find("testsuite") if report.exists() else None
    counts = (
        {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")} if suite is not None else {}
    )
    return done, counts


def test_it_passes_the_llm_apps_suite(tmp_path):
    done, counts = run_suite("llm_app", tmp_path / "report.xml")

    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert counts == {"tests": 4, "failures": 0, "errors": 0, "skipped": 0}
