"""The event layer benchmark: the daily tables built by DuckDB and by Spark (local mode).

    python bench/events.py --accounts 1000 4000 10000 [--spark-up-to 4000] [--workdir DIR]

For each size it generates a demo company (about 2,150 events per account), loads it, and
times on each engine: the full event layer (validation where the engine does it, manifest,
the four daily tables) and the event layer after one new day (the last day rolled up alone).
Spark's session start is timed apart. It also gives the event layer's output: rows and bytes
(as zstd Parquet) of the daily tables, what the rest of the refresh reads instead of events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from health import db, events  # noqa: E402
from health.demo import generate  # noqa: E402
from health.ingest.loader import load  # noqa: E402


def _layer(path: Path, engine, as_of: dt.date | None = None) -> tuple[float, dt.date]:
    """Seconds for one event-layer run (manifest, then the daily tables) in a write copy."""
    con = db.connect(path, read_only=False)
    try:
        start = time.perf_counter()
        manifest = engine.manifest(con)
        as_of = as_of or events.latest_day(manifest)
        con.execute("CREATE OR REPLACE TABLE params AS SELECT ?::DATE AS as_of", [as_of])
        events.refresh_events(con, as_of, engine, manifest)
        return time.perf_counter() - start, as_of
    finally:
        con.close()


def _reset(path: Path) -> None:
    con = db.connect(path, read_only=False)
    for name in (*events.DAILY, events.MANIFEST):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    con.execute("DELETE FROM meta WHERE key = 'daily_through'")
    con.close()


def _output(path: Path, work: Path) -> tuple[int, int, int]:
    """Events in, rows out of the daily tables, and their bytes as zstd Parquet."""
    con = db.connect(path, read_only=False)
    rows = size = 0
    for name in events.DAILY:
        rows += con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        target = work / f"{name}.parquet"
        con.execute(f"COPY {name} TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        size += target.stat().st_size
    n = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    return n, rows, size


def bench(accounts: int, work: Path, spark) -> dict:
    """Time both engines (Spark when `spark` is given) on one demo size."""
    from health.events.spark import SparkEvents

    folder = work / f"demo-{accounts}"
    if not folder.exists():
        generate(folder, profile="demo", n_accounts=accounts)
    path = work / f"health-{accounts}.duckdb"
    if not path.exists():
        load(folder, path)
    out = {"accounts": accounts}
    engines = {"duckdb": events.DuckDBEvents()}
    if spark is not None:
        engines["spark"] = SparkEvents(str(folder / "events.parquet"), spark=spark)
    for name, engine in engines.items():
        _reset(path)
        con = db.connect(path)
        last = events.latest_day(engine.manifest(con) if name == "duckdb" else _manifest(con))
        con.close()
        out[f"{name} full"], _ = _layer(path, engine, last - dt.timedelta(days=1))
        out[f"{name} one day"], _ = _layer(path, engine, last)
    out["events"], out["rows"], out["bytes"] = _output(path, work)
    return out


def _manifest(con):
    return events.DuckDBEvents().manifest(con)


def write(results: list[dict], start_s: float, out: Path) -> None:
    lines = [
        f"Event layer on both engines; 2 cores, Spark local[2] (session start {start_s:.1f} s, "
        "not in the figures). Full = validation (Spark) + manifest + the four daily tables; "
        "one day = the same after one new day. Seconds, one run each.",
        "",
        "| accounts | events | DuckDB full | DuckDB one day | Spark full | Spark one day "
        "| daily rows | daily bytes (zstd Parquet) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        spark = [f"{r[k]:.1f}" if k in r else "not run" for k in ("spark full", "spark one day")]
        lines.append(
            f"| {r['accounts']:,} | {r['events']:,} | {r['duckdb full']:.1f} "
            f"| {r['duckdb one day']:.1f} | {spark[0]} | {spark[1]} "
            f"| {r['rows']:,} | {r['bytes'] / 1e6:.1f} MB |"
        )
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument(
        "--spark-up-to", type=int, default=None, help="run Spark only up to this many accounts"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results-events.md")
    args = parser.parse_args()
    os.environ.setdefault("HEALTH_SPARK_MASTER", "local[2]")
    from health.events.spark import session

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-events-"))
    work.mkdir(parents=True, exist_ok=True)
    on_spark = [args.spark_up_to is None or n <= args.spark_up_to for n in args.accounts]
    start = time.perf_counter()
    spark = session() if any(on_spark) else None
    start_s = time.perf_counter() - start
    results = []
    try:
        for n, spark_too in zip(args.accounts, on_spark, strict=True):
            results.append(bench(n, work, spark if spark_too else None))
            print(results[-1], flush=True)
            write(results, start_s, args.out)
    finally:
        if spark is not None:
            spark.stop()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
