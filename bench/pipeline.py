"""The pipeline benchmark: every step in its own process, timed against the physical floor.

    python bench/pipeline.py --accounts 4000 [--events-per-account K] [--runs 3] [--quick]

It generates a demo company (N accounts at the demo's density, about 2,150 events each, or
scaled to K), then times, each in a fresh process: `load`, a full `refresh`, `load` of one new
day, `load` of the whole folder re-exported with one new day (the daily export that carries the
history), the refresh after the new day, the one-shot `score`, and the app (a warm page rerun
and an account drill-down, through Streamlit's AppTest). The floor is one DuckDB scan of the same
events file, grouped by account, week and event, measured in the same run. Each figure is the
median of the runs, with the peak resident memory of its process and its ratio to the floor.
The table goes to bench/results.md (the README's Performance section quotes it), then the
targets of issue 18 with their bar and goal, as ratios to the floor of the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DEMO_DENSITY = 2150  # events per account at the demo profile's density

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

# A child process that drives the app with AppTest: cold first run, warm reruns, drill-downs.
APP_CHILD = r"""
import json, statistics, sys, time
from streamlit.testing.v1 import AppTest
app, accounts, reruns = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
pages = ["pages/accounts.py", "pages/portfolio.py", "pages/features.py", "pages/segments.py",
         "pages/journey.py", "pages/model.py", "pages/alignment.py", "pages/data.py"]
out = {"pages": {}}
t = time.perf_counter(); at = AppTest.from_file(app, default_timeout=600).run()
out["cold_start"] = time.perf_counter() - t
assert not at.exception, at.exception
for page in pages:
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
    Linux carries a parent's high-water mark into a child it forks (this harness holds GBs of
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
    return [PY, "-m", "health", *args]


def generate(folder: Path, accounts: int, per_account: int | None, log: Path) -> dict:
    """Write the demo folder (in a child process) and return its counts."""
    scale = 1.0 if per_account is None else per_account / DEMO_DENSITY
    code = (
        "import sys; from pathlib import Path; from health.demo import generate; "
        "generate(Path(sys.argv[1]), n_accounts=int(sys.argv[2]), events_scale=float(sys.argv[3]))"
    )
    wall, rss, _ = run_child([PY, "-c", code, str(folder), str(accounts), str(scale)], log)
    meta = json.loads((folder.parent / f"{folder.name}.truth" / "profile.json").read_text())
    return {"seconds": wall, "rss": rss, **meta["counts"], "scale": scale}


def split_last_day(full: Path, base: Path, day: Path) -> dt.date:
    """`base`: everything but the last day's events; `day`: the other files plus that day only."""
    for folder in (base, day):
        folder.mkdir(parents=True, exist_ok=True)
        for f in full.iterdir():
            if f.name != "events.parquet":
                shutil.copy2(f, folder / f.name)
    con = duckdb.connect(":memory:")
    src = str(full / "events.parquet")
    last = con.execute("SELECT max(event_time)::date FROM read_parquet(?)", [src]).fetchall()[0][0]
    for folder, cond in ((base, "event_time::date < ?"), (day, "event_time::date = ?")):
        target = str(folder / "events.parquet").replace("'", "''")
        con.execute(
            f"COPY (SELECT * FROM read_parquet(?) WHERE {cond} ORDER BY account_id, event_time) "
            f"TO '{target}' (FORMAT parquet)",
            [src, last],
        )
    con.close()
    return last


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def drop(db: Path) -> None:
    """Remove a database, its action log and its saved model (models/<stem> beside it)."""
    for f in [*db.parent.glob(_stem(db) + ".*"), db.parent / "models" / _stem(db)]:
        if f.is_dir():
            shutil.rmtree(f)
        elif f.exists():
            f.unlink()


def fresh_copy(src: Path, dst: Path) -> Path:
    """A copy of a database, its action log and its model, that a step may change freely."""
    drop(dst)
    for f in src.parent.glob(_stem(src) + ".*"):
        if f.suffix in (".lock", ".wal") or ".tmp-" in f.name:
            continue
        shutil.copy2(f, dst.parent / (_stem(dst) + f.name[len(_stem(src)) :]))
    models = src.parent / "models" / _stem(src)
    if models.is_dir():
        shutil.copytree(models, dst.parent / "models" / _stem(dst))
    return dst


def measure(name: str, runs: int, once, results: dict) -> None:
    """Run `once()` -> (seconds, rss) `runs` times; keep the median time and the peak memory."""
    times, peaks = [], []
    for _ in range(runs):
        took, rss = once()
        times.append(took)
        peaks.append(rss)
        print(f"  {name}: {took:.2f} s, {rss:,.0f} MB", file=sys.stderr, flush=True)
    results[name] = {"median": statistics.median(times), "runs": times, "rss": max(peaks)}


def bench(args) -> dict:
    work = Path(args.workdir or tempfile.mkdtemp(prefix="health-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "bench.log"
    full, base, day = work / "data", work / "base", work / "day"
    if not (full / "events.parquet").exists():
        print(f"generating {args.accounts:,} accounts into {full}…", file=sys.stderr, flush=True)
        gen = generate(full, args.accounts, args.events_per_account, log)
    else:
        meta = json.loads((work / "data.truth" / "profile.json").read_text())
        gen = {"seconds": None, "rss": None, **meta["counts"]}
    last = split_last_day(full, base, day)
    con = duckdb.connect(":memory:")
    count = "SELECT count(*) FROM read_parquet(?)"
    n_events = con.execute(count, [str(full / "events.parquet")]).fetchall()[0][0]
    n_day = con.execute(count, [str(day / "events.parquet")]).fetchall()[0][0]
    con.close()
    info = {
        "accounts": args.accounts,
        "events": n_events,
        "events_last_day": n_day,
        "as_of": str(last),
        "runs": args.runs,
        "generate": gen,
        "cpus": os.cpu_count(),
        "memory_limit": os.environ.get("HEALTH_MEMORY_LIMIT", "3GB"),
    }
    res: dict = {}
    loaded, refreshed, db = work / "loaded.duckdb", work / "refreshed.duckdb", work / "run.duckdb"
    profiles: list[dict] = []

    def floor():
        wall, rss, out = run_child(
            [PY, "-c", FLOOR_CHILD, str(full / "events.parquet"), FLOOR_SQL], log
        )
        return float(out.strip().splitlines()[-1]), rss

    def load():
        drop(db)
        wall, rss, _ = run_child(health("load", str(base), "--db", str(db)), log)
        return wall, rss

    def refresh(source: Path):
        def once():
            fresh_copy(source, db)
            prof = work / "profile.json"
            wall, rss, _ = run_child(
                health("refresh", "--db", str(db), "--profile", str(prof)), log
            )
            profiles.append({"source": _stem(source), **json.loads(prof.read_text())})
            return wall, rss

        return once

    def load_day():
        fresh_copy(refreshed, db)
        return run_child(health("load", str(day), "--db", str(db)), log)[:2]

    def load_reexport():
        fresh_copy(refreshed, db)  # the whole history again, and the new day
        return run_child(health("load", str(full), "--db", str(db)), log)[:2]

    def incremental():
        fresh_copy(refreshed, db)
        run_child(health("load", str(day), "--db", str(db)), log)
        prof = work / "profile.json"
        wall, rss, _ = run_child(health("refresh", "--db", str(db), "--profile", str(prof)), log)
        profiles.append({"source": "incremental", **json.loads(prof.read_text())})
        return wall, rss

    def score():
        out = work / "scores.csv"
        cmd = health("score", "--data", str(base), "--as-of", str(last - dt.timedelta(days=1)))
        return run_child([*cmd, "--out", str(out)], log)[:2]

    print("floor…", file=sys.stderr, flush=True)
    measure("floor", args.runs, floor, res)
    measure("load", args.runs, load, res)
    fresh_copy(db, loaded)
    measure("refresh (full)", args.runs, refresh(loaded), res)
    fresh_copy(db, refreshed)
    measure("load (one new day)", args.runs, load_day, res)
    measure("load (re-export with one new day)", args.runs, load_reexport, res)
    measure("refresh (after one new day)", args.runs, incremental, res)
    if not args.quick:
        measure("score (one shot)", args.runs, score, res)
    fresh_copy(refreshed, db)
    run_child(health("load", str(day), "--db", str(db)), log)
    run_child(health("refresh", "--db", str(db)), log)
    ids = (
        duckdb.connect(str(db), read_only=True)
        .execute(
            "SELECT account_id FROM mart_account_overview ORDER BY arr DESC NULLS LAST LIMIT 6"
        )
        .fetchall()
    )
    reruns = 2 if args.quick else 5
    app_args = [
        PY,
        "-c",
        APP_CHILD,
        str(ROOT / "app.py"),
        json.dumps([r[0] for r in ids]),
        str(reruns),
    ]
    env = {"HEALTH_DB": str(db), "HEALTH_USERS": str(work / "users.toml")}
    _, app_rss, out = run_child(app_args, log, env)
    app = json.loads(out.strip().splitlines()[-1])
    info["profiles"] = profiles
    return {"info": info, "results": res, "app": {**app, "rss": app_rss}, "work": str(work)}


def median_profile(profiles: list[dict], source: str) -> dict[str, float]:
    rows = [p["steps"] for p in profiles if p["source"] == source]
    if not rows:
        return {}
    return {k: statistics.median(r.get(k, 0.0) for r in rows) for k in rows[0]}


def table(report: dict) -> str:
    """The markdown the README quotes."""
    info, res, app = report["info"], report["results"], report["app"]
    fl = res["floor"]["median"]
    lines = [
        f"{info['accounts']:,} accounts, {info['events']:,} events "
        f"({info['events_last_day']:,} on the last day, {info['as_of']}); {info['cpus']} cores; "
        f"median of {info['runs']} run(s); DuckDB memory_limit {info['memory_limit']}.",
        "",
        "| step | median (s) | × floor | peak RSS (MB) |",
        "|---|---:|---:|---:|",
    ]
    for name, r in res.items():
        lines.append(f"| {name} | {r['median']:.2f} | {r['median'] / fl:.1f} | {r['rss']:,.0f} |")
    both = res["load"]["median"] + res["refresh (full)"]["median"]
    lines.append(f"| load + refresh (full) | {both:.2f} | {both / fl:.1f} | |")
    inc = res["refresh (after one new day)"]["median"] / res["refresh (full)"]["median"]
    lines.append(f"| refresh after one day ÷ full refresh | {inc:.0%} | | |")
    warm = max(app["pages"].items(), key=lambda kv: kv[1]["warm"])
    lines.append(
        f"| app: slowest warm page rerun ({Path(warm[0]).stem}) | {warm[1]['warm']:.3f} | | "
        f"{app['rss']:,.0f} |"
    )
    drill = app["drill"]
    lines.append(
        f"| app: account drill-down | {drill:.3f} | | |"
        if drill is not None
        else "| app: account drill-down | n/a | | |"
    )
    lines += [
        "",
        "Refresh profile (median seconds per step; full refresh, then after one day):",
        "",
    ]
    full, inc_p = (
        median_profile(info["profiles"], "loaded"),
        median_profile(info["profiles"], "incremental"),
    )
    lines += ["| refresh step | full (s) | after one day (s) |", "|---|---:|---:|"]
    for step, secs in sorted(full.items(), key=lambda kv: -kv[1]):
        if secs < 0.005 and inc_p.get(step, 0.0) < 0.005:
            continue  # the staging views: nothing to build
        lines.append(f"| {step} | {secs:.2f} | {inc_p.get(step, 0.0):.2f} |")
    lines += ["", *targets(report), ""]
    lines += ["", "App pages (AppTest, seconds): first open, then median warm rerun:", ""]
    lines += ["| page | first | warm |", "|---|---:|---:|"]
    for page, t in app["pages"].items():
        lines.append(f"| {Path(page).stem} | {t['first']:.3f} | {t['warm']:.3f} |")
    return "\n".join(lines) + "\n"


# Issue 18's targets: (measure, result, bar, goal) as ratios to the floor, or seconds for pages.
TARGETS = (
    (
        "load of the same folder re-exported with one new day",
        "load (re-export with one new day)",
        3,
        1,
    ),
    ("refresh after one new day (saved model)", "refresh (after one new day)", 3, 1.5),
    ("full refresh including training", "refresh (full)", 12, 6),
    ("load", "load", 3, 2),
)


def targets(report: dict) -> list[str]:
    """The issue's table: each measure against its bar and goal, and which it meets."""
    res, app = report["results"], report["app"]
    fl = res["floor"]["median"]

    def met(value: float, bar: float, goal: float) -> str:
        return "goal" if value <= goal else "bar" if value <= bar else "no"

    lines = [
        f"Targets (issue 18), {report['info']['accounts']:,} accounts; ratios to the floor "
        f"({fl:.2f} s) of this run, medians:",
        "",
        "| measure | now | × floor | bar | goal | meets |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, key, bar, goal in TARGETS:
        ratio = res[key]["median"] / fl
        lines.append(
            f"| {label} | {res[key]['median']:.2f} s | {ratio:.1f} | ≤ {bar:g}× | ≤ {goal:g}× "
            f"| {met(ratio, bar, goal)} |"
        )
        if key == "refresh (after one new day)":
            share = res[key]["median"] / res["refresh (full)"]["median"]
            lines.append(
                f"| … as a share of the full refresh | {share:.0%} | | ≤ 20 % | ≤ 10 % "
                f"| {met(share, 0.2, 0.1)} |"
            )
    first = max(t["first"] for t in app["pages"].values())
    warm = max(t["warm"] for t in app["pages"].values())
    lines.append(
        f"| slowest page, first open / warm rerun | {first:.2f} s / {warm * 1000:.0f} ms | "
        f"| ≤ 2 s / ≤ 300 ms | ≤ 1 s / ≤ 150 ms | {met(max(first / 2, warm / 0.3), 1, 0.5)} |"
    )
    peak = max([r["rss"] for r in res.values()] + [app["rss"]]) / 1024
    lines.append(
        f"| peak memory (any step) | {peak:.2f} GB | | ≤ 4 GB | ≤ 2 GB | {met(peak, 4, 2)} |"
    )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=4000)
    parser.add_argument("--events-per-account", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip the one-shot score step")
    parser.add_argument("--workdir", help="keep data and databases here (reuses generated data)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    args = parser.parse_args(argv)
    report = bench(args)
    text = table(report)
    Path(args.out).write_text(text)
    # The full figures (every run, every page) stay with the data, not in the repo.
    (Path(report["work"]) / "results.json").write_text(json.dumps(report, indent=1, default=str))
    print(text)


if __name__ == "__main__":
    main()
