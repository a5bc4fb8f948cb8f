"""The scale bench on small data, for its correctness checks only: no timing is asserted.

`bench/run.py --scale --rows 2000 --quick --scenarios none` builds 2,000 entries, starts the real server and checks what it
measures at 10 M rows: every filter combination's total against the exact count, its first and next pages, the
metrics calls, an export of every row of its range, a purge that deletes exactly its range and a retention, both
while the proxy serves hits and its entries keep being written, and no "database is locked".
"""

import shutil

import pytest

from tests.bench.runs import passed_run


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench installs it)")
def test_the_scale_run_on_small_data_passes_its_correctness_checks(tmp_path):
    # The other scale scenarios' correctness has tests of its own (test_client_limits, test_big_bodies,
    # test_store, test_many_proxies): this one is the logs'.
    options = ("--scale", "--rows", "2000", "--quick", "--scenarios", "none")
    results = passed_run(tmp_path, *options, timeout=600)
    names = " ".join(name for name, _, _ in results["checks"])
    for expected in ("list ip (rare): total", "export: 200, every row", "purge: deleted exactly the range",
                     "new entries written meanwhile", "no 'database is locked'"):  # fmt: skip
        assert expected in names
    targets = [name for name, _, _ in results["targets"]]
    assert any(name.startswith("logs first page") for name in targets)
    assert any(name.startswith("EXPLAIN (sqlite)") for name in targets)
