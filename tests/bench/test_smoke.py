"""The benchmark's smoke run, for its correctness checks only: no timing is asserted.

`bench/run.py --quick --duration 1` starts the fake upstream, the yardstick and real Rubberduck processes
and checks, while it loads them, that hit load makes no upstream call, miss load makes one per request,
streams arrive whole and unbuffered, the cache stays within its bound and every request is logged.
It takes ~55 s on this 2-core machine; it needs wrk and is skipped without it.
"""

import shutil

import pytest

from tests.bench.runs import passed_run


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench installs it)")
def test_the_smoke_run_passes_its_correctness_checks(tmp_path):
    results = passed_run(tmp_path, "--quick", "--duration", "1", timeout=300)
    names = " ".join(name for name, _, _ in results["checks"])
    for expected in ("upstream calls/request = 0", "upstream calls/request = 1", "same events", "log entries"):
        assert expected in names
    for mode in ("hit", "miss"):  # the yardstick and Rubberduck loaded at once, checked like the other runs
        assert f"yardstick and rubberduck {mode} C=16, both at once: requests completed" in names
    assert "one busy proxy and four busy proxies hit C=16, both at once: requests completed" in names
    at_once = [value for name, value, _ in results["targets"] if name.startswith("for scale") and "at once" in name]
    assert len(at_once) == 3 and all(value.endswith(")") for value in at_once)  # hits, misses, four busy proxies
    cells = [row["cell"] for row in results["rows"]]
    assert "cache hit, 4×C=16: 4 yardstick threads of one process vs 1 (same GIL)" in cells
