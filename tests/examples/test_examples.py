"""The examples' own test suites, each run as its users run it: pytest in the example's directory, in a process of
its own, whose rubberduck pytest plugin starts a throwaway server for the session. They run offline, from the
recordings committed beside them (--rubberduck-record-mode=none: no upstream at all); and recording them afresh
from the fake upstreams asks the very calls those recordings hold."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SUFFIX = ".rubberduck.jsonl"
# This run's settings and server would otherwise reach the example's run: it starts its own.
NOT_PASSED_ON = {"DJANGO_SETTINGS_MODULE", "RUBBERDUCK_URL", "RUBBERDUCK_TOKEN"}


def run_suite(example: str, report: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict[str, int]]:
    env = {name: value for name, value in os.environ.items() if name not in NOT_PASSED_ON}
    # This checkout's server and client, whatever copy is installed.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "client"), *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junit-xml={report}", *args],
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


def recorded_keys(directory: Path) -> dict[str, list[str]]:
    """Each recording's entry keys, by file name."""
    return {
        path.name: [json.loads(line)["key"] for line in path.read_text().splitlines()[1:]]
        for path in sorted(directory.glob(f"*{SUFFIX}"))
    }


def test_it_passes_the_llm_apps_suite_offline_from_its_recordings(tmp_path):
    recordings = EXAMPLES / "llm_app" / "tests" / "recordings"
    committed = {path.name: path.read_bytes() for path in recordings.glob(f"*{SUFFIX}")}
    assert sorted(committed) == ["llm-app-tests-anthropic" + SUFFIX, "llm-app-tests-openai" + SUFFIX]

    done, counts = run_suite("llm_app", tmp_path / "report.xml", "--rubberduck-record-mode=none")

    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert counts == {"tests": 4, "failures": 0, "errors": 0, "skipped": 0}
    assert {path.name: path.read_bytes() for path in recordings.glob(f"*{SUFFIX}")} == committed  # replayed only


def test_it_records_the_calls_its_committed_recordings_hold(tmp_path):
    fresh = tmp_path / "recordings"
    args = ["--rubberduck-record-mode=all", f"--rubberduck-recordings={fresh}"]

    done, counts = run_suite("llm_app", tmp_path / "report.xml", *args)

    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert counts == {"tests": 4, "failures": 0, "errors": 0, "skipped": 0}
    assert recorded_keys(fresh) == recorded_keys(EXAMPLES / "llm_app" / "tests" / "recordings")
