"""Child processes for the benchmarks: run one to completion, timed, with its own peak memory.

Every step runs in a fresh process so that one step's caches, imports and memory never count in
another's figure. `run_child` polls the child's own high-water mark; `floor` and `app` are the
two children that are not `health` commands: one DuckDB scan, and the app driven by AppTest.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

FLOOR_SQL = (
    "CREATE TABLE floor AS SELECT account_id, date_trunc('week', event_time) AS week, event, "
    "count(*) AS n FROM read_parquet(?) GROUP BY ALL"
)

# A child process that times the floor scan inside DuckDB (no Python start-up in the figure).
FLOOR_CHILD = """
import sys, time, duckdb
con = duckdb.connect(":memory:")
con.execute("SET memory_limit = '3GB'")
con.execute("SET enable_progress_bar = false")
t = time.perf_counter()
con.execute(sys.argv[2], [sys.argv[1]])
print(time.perf_counter() - t)
"""

# A child process that drives the app with AppTest: cold start, then every page of the app's
# list (first open, warm reruns), then account drill-downs.
APP_CHILD = r"""
import json, statistics, sys, time
from streamlit.testing.v1 import AppTest
from pages import PAGES
app, accounts, reruns = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
out = {"pages": {}}
t = time.perf_counter(); at = AppTest.from_file(app, default_timeout=900).run()
out["cold_start"] = time.perf_counter() - t
assert not at.exception, at.exception
for page in [p.file for p in PAGES if p.url != "account"]:
    t = time.perf_counter(); at.switch_page(page).run(); first = time.perf_counter() - t
    assert not at.exception, (page, at.exception)
    warm = []
    for _ in range(reruns):
        t = time.perf_counter(); at.run(); warm.append(time.perf_counter() - t)
    out["pages"][page] = {"first": first, "warm": statistics.median(warm)}
drill = []
for i, account in enumerate(accounts):
    at.query_params["account"] = account
    t = time.perf_counter(); at.switch_page("pages/account.py").run()
    took = time.perf_counter() - t
    assert not at.exception, (account, at.exception)
    if i:  # the first one also warms the page's code and shared caches
        drill.append(took)
out["drill"] = statistics.median(drill) if drill else None
print(json.dumps(out))
"""


def run_child(args: list[str], log: Path, env: dict | None = None) -> tuple[float, float, str]:
    """Run a process to completion: (wall seconds, peak RSS in MB, its stdout).

    The peak is the child's own VmHWM, polled from /proc: the rusage of wait4 would not do, as
    Linux carries a parent's high-water mark into a child it forks (the harness may hold GBs of
    DuckDB pages after splitting the data), so every step would report at least that."""
    start = time.perf_counter()
    with open(log, "a") as err, tempfile.TemporaryFile() as out:
        err.write(f"\n$ {' '.join(args)}\n")
        err.flush()
        proc = subprocess.Popen(
            args, cwd=ROOT, stdout=out, stderr=err, env={**os.environ, **(env or {})}
        )
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _hwm_kb(proc.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"step failed ({proc.returncode}): {' '.join(args)}; see {log}")
    return wall, peak / 1024, text


def _hwm_kb(pid: int) -> int:
    """The process's peak resident memory so far (kB), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def health(*args: str) -> list[str]:
    """The command line of a `health` command in a child process."""
    return [PY, "-m", "health", *args]


def floor(events: Path, log: Path) -> tuple[float, float]:
    """The physical floor: one DuckDB group-by scan of the events file (seconds, peak MB)."""
    _, rss, out = run_child([PY, "-c", FLOOR_CHILD, str(events), FLOOR_SQL], log)
    return float(out.strip().splitlines()[-1]), rss


def app(db: Path, accounts: list[str], reruns: int, log: Path, users: Path) -> dict:
    """Every page's first open and warm rerun, and drill-downs, on `db` (AppTest)."""
    args = [PY, "-c", APP_CHILD, str(ROOT / "app.py"), json.dumps(accounts), str(reruns)]
    env = {"HEALTH_DB": str(db), "HEALTH_USERS": str(users)}
    _, rss, out = run_child(args, log, env)
    return {**json.loads(out.strip().splitlines()[-1]), "rss": rss}


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def drop(db: Path) -> None:
    """Remove a database, its events and action log, and its saved model (models/<stem>)."""
    for f in [*db.parent.glob(_stem(db) + ".*"), db.parent / "models" / _stem(db)]:
        if f.is_dir():
            shutil.rmtree(f)
        elif f.exists():
            f.unlink()


def fresh_copy(src: Path, dst: Path) -> Path:
    """A copy of a database, its events, action log and model, that a step may change freely."""
    drop(dst)
    for f in src.parent.glob(_stem(src) + ".*"):
        if f.suffix in (".lock", ".wal") or ".tmp-" in f.name:
            continue
        shutil.copy2(f, dst.parent / (_stem(dst) + f.name[len(_stem(src)) :]))
    models = src.parent / "models" / _stem(src)
    if models.is_dir():
        shutil.copytree(models, dst.parent / "models" / _stem(dst))
    return dst


def measure(name: str, runs: int, once, results: dict, floor=None) -> None:
    """Run `once()` -> (seconds, rss) `runs` times: the median time, the peak memory, and the
    load average after each run. With `floor` (-> (seconds, rss)), the floor runs just before
    each run and the step's ratio is the median of the pairs' ratios: the machine's speed drifts
    (a shared machine's floor moved 1.8 -> 4.3 s between two sittings), a pair's ratio less so.
    The floor's own row gathers every floor run."""
    times, peaks, load, ratios = [], [], [], []
    for _ in range(runs):
        base = floor()[0] if floor else None
        took, rss = once()
        times.append(took)
        peaks.append(rss)
        load.append(os.getloadavg()[0])  # other jobs on the machine: say how busy it was
        paired = ""
        if base:
            ratios.append(took / base)
            results["floor"]["runs"].append(base)
            results["floor"]["median"] = statistics.median(results["floor"]["runs"])
            paired = f", floor just before {base:.2f} s: {ratios[-1]:.1f}x"
        line = f"  {name}: {took:.2f} s, {rss:,.0f} MB, load {load[-1]:.1f}{paired}"
        print(line, file=sys.stderr)
    results[name] = {
        "median": statistics.median(times),
        "runs": times,
        "rss": max(peaks),
        "load_avg": load,
    }
    if ratios:
        results[name] |= {"ratio": statistics.median(ratios), "ratios": ratios}


def ratio(results: dict, name: str) -> float:
    """A step's time as a multiple of the floor: the median of its paired ratios when it was
    measured in pairs (measure's `floor`), else its median over the floor's."""
    r = results[name]
    return r.get("ratio", r["median"] / results["floor"]["median"])
