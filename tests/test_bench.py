"""The pipeline benchmark runs end to end at a tiny size and writes every row of its table.

No timings are asserted: a loaded CI machine makes any threshold flaky.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import APP_DIR


def test_the_benchmark_writes_its_table(tmp_path):
    out = tmp_path / "results.md"
    cmd = [sys.executable, str(APP_DIR / "bench" / "pipeline.py"), "--accounts", "30"]
    cmd += ["--runs", "1", "--quick", "--workdir", str(tmp_path / "work"), "--out", str(out)]
    subprocess.run(cmd, cwd=APP_DIR, check=True, capture_output=True, timeout=600)
    table = out.read_text()
    for row in (
        "| floor |",
        "| load |",
        "| refresh (full) |",
        "| load (one new day) |",
        "| load (re-export with one new day) |",
        "| load of the same folder re-exported with one new day |",
        "| peak memory, load |",
        "| peak memory, refresh |",
        "| peak memory, app |",
        "| every page, first open / warm rerun",
        "| segments |",
        "| renewals |",
        "| refresh (after one new day) |",
        "| load + refresh (full) |",
        "| refresh after one day ÷ full refresh |",
        "| app: slowest warm page rerun",
        "| app: account drill-down |",
        "| mart_account_features |",
        "| refresh_scores |",
        "| publish |",
    ):
        assert row in table, row
    # Every step's run is paired with a floor measured just before it: its ratio is the pairs'.
    report = json.loads((tmp_path / "work" / "results.json").read_text())
    res = report["results"]
    for name, r in res.items():
        if name != "floor":
            assert len(r["ratios"]) == len(r["runs"]) == 1, name
            assert r["ratio"] > 0
    assert len(res["floor"]["runs"]) == 1 + sum(
        len(r["runs"]) for n, r in res.items() if n != "floor"
    )
    assert "a floor measured just before it" in table
