"""The pipeline benchmark: every step in its own process, timed against the physical floor.

    python bench/pipeline.py --accounts 4000 [--events-per-account K] [--runs 3] [--quick]
                             [--no-incremental] [--workdir DIR] [--out FILE]

It generates a demo company (N accounts at the demo's density, about 2,150 events each, or
scaled to K), then times, each in a fresh process (bench/harness.py): `load`, a full `refresh`,
`load` of one new day, `load` of the whole folder re-exported with one new day (the daily export
that carries the history), the refresh after the new day, the one-shot `score`, and the app
(every page's first open and warm rerun, and account drill-downs, through Streamlit's AppTest).
The floor is one DuckDB scan of the same events file, grouped by account, week and event,
measured in the same run: first on its own, then once right before each run of each step, and a
step's ratio is the median of its runs' ratios to the floor just before them (a shared machine's
speed drifts between sittings; within a pair much less). Each figure is the median of the runs,
with the peak resident memory of its process, its ratio to the floor and the machine's load
average. The table goes to
bench/results.md (the README's Performance section quotes it), with the targets of issue 18,
their bar and goal, as ratios to the floor of the same run."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
from functools import partial
from pathlib import Path

import duckdb
import harness
from harness import PY, ROOT, drop, fresh_copy, health, measure, run_child

DEMO_DENSITY = 2150  # events per account at the demo profile's density


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

    def load():
        drop(db)
        return run_child(health("load", str(base), "--db", str(db)), log)[:2]

    def refresh(source: Path, name: str, load_first: Path | None = None):
        def once():
            fresh_copy(source, db)
            if load_first:
                run_child(health("load", str(load_first), "--db", str(db)), log)
            prof = work / "profile.json"
            cmd = health("refresh", "--db", str(db), "--profile", str(prof))
            wall, rss, _ = run_child(cmd, log)
            profiles.append({"source": name, **json.loads(prof.read_text())})
            return wall, rss

        return once

    def load_onto(folder: Path):
        def once():
            fresh_copy(refreshed, db)
            return run_child(health("load", str(folder), "--db", str(db)), log)[:2]

        return once

    def score():
        out = work / "scores.csv"
        cmd = health("score", "--data", str(base), "--as-of", str(last - dt.timedelta(days=1)))
        return run_child([*cmd, "--out", str(out)], log)[:2]

    print("floor…", file=sys.stderr, flush=True)
    floor = partial(harness.floor, full / "events.parquet", log)
    measure("floor", args.runs, floor, res)
    # Each step's run comes right after a floor of its own: its ratio is the pairs' median.
    paired = partial(measure, floor=floor)
    paired("load", args.runs, load, res)
    fresh_copy(db, loaded)
    paired("refresh (full)", args.runs, refresh(loaded, "full"), res)
    fresh_copy(db, refreshed)
    paired("load (one new day)", args.runs, load_onto(day), res)
    # The daily export that carries the whole history again, and the new day.
    paired("load (re-export with one new day)", args.runs, load_onto(full), res)
    if args.no_incremental:  # the app reads the full refresh, as of the day before
        fresh_copy(refreshed, db)
    else:  # the app reads the last run's database: the new day loaded and refreshed
        incremental = refresh(refreshed, "incremental", load_first=day)
        paired("refresh (after one new day)", args.runs, incremental, res)
    if not args.quick:
        paired("score (one shot)", args.runs, score, res)
    con = duckdb.connect(str(db), read_only=True)
    top = "SELECT account_id FROM mart_account_overview ORDER BY arr DESC NULLS LAST LIMIT 6"
    ids = [r[0] for r in con.execute(top).fetchall()]
    con.close()
    print("app…", file=sys.stderr, flush=True)
    app = harness.app(db, ids, 2 if args.quick else 5, log, work / "users.toml")
    info["profiles"] = profiles
    info["load_average_end"] = os.getloadavg()
    return {"info": info, "results": res, "app": app, "work": str(work)}


def median_profile(profiles: list[dict], source: str) -> dict[str, float]:
    # A step that ran beside the others (health/pipeline/refresh.py BESIDE) is in `steps` as the
    # wait for it; its own seconds are a row of their own.
    rows = [
        p["steps"] | {f"{k} (beside, own)": v["wall"] for k, v in p.get("beside", {}).items()}
        for p in profiles
        if p["source"] == source
    ]
    if not rows:
        return {}
    return {k: statistics.median(r.get(k, 0.0) for r in rows) for k in rows[0]}


def table(report: dict) -> str:
    """The markdown the README quotes: every step, the refresh profile, targets, pages."""
    info, res, app = report["info"], report["results"], report["app"]
    lines = [
        f"{info['accounts']:,} accounts, {info['events']:,} events "
        f"({info['events_last_day']:,} on the last day, {info['as_of']}); {info['cpus']} cores; "
        f"median of {info['runs']} run(s); DuckDB memory_limit {info['memory_limit']}; "
        "load average: the 1-minute figure as each run ended.",
        "",
        "| step | median (s) | × floor | peak RSS (MB) | load average |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in res.items():
        avg = statistics.median(r.get("load_avg") or [float("nan")])
        lines.append(
            f"| {name} | {r['median']:.2f} | {harness.ratio(res, name):.1f} | {r['rss']:,.0f} "
            f"| {avg:.1f} |"
        )
    both = res["load"]["median"] + res["refresh (full)"]["median"]
    both_x = harness.ratio(res, "load") + harness.ratio(res, "refresh (full)")
    lines.append(f"| load + refresh (full) | {both:.2f} | {both_x:.1f} | | |")
    if "refresh (after one new day)" in res:
        inc = res["refresh (after one new day)"]["median"] / res["refresh (full)"]["median"]
        lines.append(f"| refresh after one day ÷ full refresh | {inc:.0%} | | | |")
    warm = max(app["pages"].items(), key=lambda kv: kv[1]["warm"])
    lines.append(
        f"| app: slowest warm page rerun ({Path(warm[0]).stem}) | {warm[1]['warm']:.3f} | | "
        f"{app['rss']:,.0f} | |"
    )
    drill = "n/a" if app["drill"] is None else f"{app['drill']:.3f}"
    lines.append(f"| app: account drill-down | {drill} | | | |")
    lines += ["", "Refresh profile (median seconds per step; full refresh, then after one day):"]
    full, inc_p = (median_profile(info["profiles"], s) for s in ("full", "incremental"))
    lines += ["", "| refresh step | full (s) | after one day (s) |", "|---|---:|---:|"]
    for step, secs in sorted(full.items(), key=lambda kv: -kv[1]):
        if secs < 0.005 and inc_p.get(step, 0.0) < 0.005:
            continue  # the staging views: nothing to build
        lines.append(f"| {step} | {secs:.2f} | {inc_p.get(step, 0.0):.2f} |")
    lines += ["", *targets(report), ""]
    lines += ["App pages (AppTest, seconds): first open, then median warm rerun:", ""]
    lines += ["| page | first | warm | meets |", "|---|---:|---:|---|"]
    for page, t in app["pages"].items():
        meets = _met(max(t["first"] / 2, t["warm"] / 0.3), 1, 0.5)
        lines.append(f"| {Path(page).stem} | {t['first']:.3f} | {t['warm']:.3f} | {meets} |")
    return "\n".join(lines) + "\n"


# Issue 18's targets as ratios to the floor: (measure, result, bar, goal).
TARGETS = (
    ("load of the same folder re-exported with one new day", "load (re-export with one new day)"),
    ("refresh after one new day (saved model)", "refresh (after one new day)"),
    ("full refresh including training", "refresh (full)"),
    ("load", "load"),
)
BARS = {"load (re-export with one new day)": (3, 1), "refresh (after one new day)": (3, 1.5)}
BARS |= {"refresh (full)": (12, 6), "load": (3, 2)}


def _met(value: float, bar: float, goal: float) -> str:
    return "goal" if value <= goal else "bar" if value <= bar else "no"


def targets(report: dict) -> list[str]:
    """The issue's table: each measure against its bar and goal, and which it meets."""
    res, app = report["results"], report["app"]
    fl = res["floor"]["median"]
    lines = [
        f"Targets (issue 18), {report['info']['accounts']:,} accounts; each run's ratio to "
        f"a floor measured just before it (median floor {fl:.2f} s), medians of the pairs:",
        "",
        "| measure | now | × floor | bar | goal | meets |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, key in TARGETS:
        if key not in res:
            continue  # a step this run left out
        (bar, goal), ratio = BARS[key], harness.ratio(res, key)
        lines.append(
            f"| {label} | {res[key]['median']:.2f} s | {ratio:.1f} | ≤ {bar:g}× | ≤ {goal:g}× "
            f"| {_met(ratio, bar, goal)} |"
        )
        if key == "refresh (after one new day)":
            share = res[key]["median"] / res["refresh (full)"]["median"]
            lines.append(
                f"| … as a share of the full refresh | {share:.0%} | | ≤ 20 % | ≤ 10 % "
                f"| {_met(share, 0.2, 0.1)} |"
            )
    pages = app["pages"]
    first, warm = (max(pages, key=lambda p, k=k: pages[p][k]) for k in ("first", "warm"))
    f_s, w_s = pages[first]["first"], pages[warm]["warm"]
    lines.append(
        f"| every page, first open / warm rerun (slowest: {Path(first).stem} / "
        f"{Path(warm).stem}) | {f_s:.2f} s / {w_s * 1000:.0f} ms | | ≤ 2 s / ≤ 300 ms "
        f"| ≤ 1 s / ≤ 150 ms | {_met(max(f_s / 2, w_s / 0.3), 1, 0.5)} |"
    )
    for kind, keys in (("load", ("load",)), ("refresh", ("refresh (full)",)), ("app", ())):
        peak = max([res[k]["rss"] for k in res if k.startswith(keys)] if keys else [app["rss"]])
        lines.append(
            f"| peak memory, {kind} | {peak / 1024:.2f} GB | | ≤ 4 GB | ≤ 2 GB "
            f"| {_met(peak / 1024, 4, 2)} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=4000)
    parser.add_argument("--events-per-account", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip the one-shot score step")
    parser.add_argument(
        "--no-incremental", action="store_true", help="skip the refresh after one new day"
    )
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
