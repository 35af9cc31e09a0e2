"""The event layer on Spark (local mode, no cluster) builds what DuckDB builds: the same daily
tables, so the same features, scores and moments; an incremental Spark build after a new day
and a late event equals a full one; and bad events are rejected for the same reasons."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from health import db, events
from health.db import copy as copy_database
from health.demo import generate
from health.events.spark import SparkEvents, session
from health.ingest.loader import load
from health.pipeline.refresh import refresh

ACCOUNTS = 60  # small: Spark's own overhead, not the data, is what these tests pay for
EVENT_LAYER = (*events.DAILY, events.MANIFEST)


@pytest.fixture(scope="module")
def spark(monkeypatch_module):
    """One local Spark session for the whole module (it takes ~15 s to start)."""
    monkeypatch_module.setenv("HEALTH_SPARK_MASTER", "local[2]")
    spark = session()
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("spark-demo") / "demo-data"
    generate(folder, profile="demo", n_accounts=ACCOUNTS, seed=11)
    return folder


def _loaded(demo: Path, folder: Path) -> Path:
    path = folder / "health.duckdb"
    load(demo, path)
    return path


@pytest.fixture(scope="module")
def on_duckdb(demo, tmp_path_factory) -> Path:
    path = _loaded(demo, tmp_path_factory.mktemp("duck"))
    refresh(path)
    return path


@pytest.fixture(scope="module")
def on_spark(demo, spark, tmp_path_factory) -> Path:
    path = _loaded(demo, tmp_path_factory.mktemp("spark"))
    refresh(path, engine=SparkEvents(str(demo / "events.parquet"), spark=spark))
    return path


def _read(path: Path, table: str) -> pl.DataFrame:
    con = db.connect(path)
    try:
        return db.run(con, f"SELECT * FROM {table}")
    finally:
        con.close()


def _differences(a: Path, b: Path, table: str) -> tuple[int, int]:
    """Rows of `table` in a and not in b, and in b and not in a (as multisets), doubles aside."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    cols = ", ".join(
        name
        for name, kind in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = 'a' AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if kind != "DOUBLE"
    )
    a_not_b, b_not_a = (
        con.execute(
            f"SELECT count(*) FROM (SELECT {cols} FROM {x}.{table} "
            f"EXCEPT ALL SELECT {cols} FROM {y}.{table})"
        ).fetchone()[0]
        for x, y in (("a", "b"), ("b", "a"))
    )
    con.close()
    return a_not_b, b_not_a


def _same(a: Path, b: Path, table: str) -> None:
    assert _differences(a, b, table) == (0, 0), table
    left, right = (_read(p, table) for p in (a, b))
    keys = [c for c, kind in left.schema.items() if not kind.is_float()]
    left, right = (f.sort(keys, nulls_last=True) for f in (left, right))
    assert left.height > 0, table
    # Sums of doubles may differ in the last bits with the order they are added in.
    assert_frame_equal(left, right, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


def test_spark_and_duckdb_build_the_same_daily_tables(on_duckdb, on_spark):
    for table in EVENT_LAYER:
        _same(on_duckdb, on_spark, table)


def test_so_features_scores_and_moments_are_the_same(on_duckdb, on_spark):
    for table in ("mart_account_features", "mart_account_health", "moments", "mart_actions"):
        _same(on_duckdb, on_spark, table)


def _split(demo: Path, root: Path) -> tuple[Path, Path, dt.date]:
    """The events without their last day and one late event of an older day (`before`), and
    the whole events as two files: `before` and what came since (`after`)."""
    before, after = root / "before", root / "after"
    before.mkdir()
    after.mkdir()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    src = str(demo / "events.parquet")
    con.execute("CREATE TABLE e AS SELECT row_number() OVER () AS n, * FROM read_parquet(?)", [src])
    last = con.execute("SELECT max(event_time)::DATE FROM e").fetchone()[0]
    late_day = last - dt.timedelta(days=20)
    late = con.execute("SELECT min(n) FROM e WHERE event_time::DATE = ?", [late_day]).fetchone()[0]
    for target, cond in ((before / "part-0.parquet", "NOT"), (after / "part-1.parquet", "")):
        con.execute(
            f"COPY (SELECT * EXCLUDE (n) FROM e WHERE {cond} (event_time::DATE = ? OR n = ?)) "
            f"TO '{target}' (FORMAT parquet)",
            [last, late],
        )
    shutil.copy(before / "part-0.parquet", after / "part-0.parquet")
    con.close()
    return before, after, late_day


def test_an_incremental_spark_build_after_a_new_day_and_a_late_event_equals_a_full_one(
    demo, spark, on_spark, tmp_path
):
    before, after, late_day = _split(demo, tmp_path)
    path = tmp_path / "inc.duckdb"
    copy_database(on_spark, path)
    con = db.connect(path, read_only=False)
    try:
        first = SparkEvents(str(before), spark=spark)
        manifest = first.manifest(con)
        events.refresh_events(con, events.latest_day(manifest), first, manifest)
        second = SparkEvents(str(after), spark=spark)
        manifest = second.manifest(con)
        events.refresh_events(con, events.latest_day(manifest), second, manifest)
        # Only the days from the late event's on were rolled up again.
        assert second.built == late_day
    finally:
        con.close()
    for table in EVENT_LAYER:
        _same(on_spark, path, table)


def test_bad_events_are_rejected_for_the_same_reasons_and_counts_as_the_loader(
    demo, spark, tmp_path
):
    folder = tmp_path / "bad"
    folder.mkdir()
    shutil.copy(demo / "accounts.csv", folder / "accounts.csv")
    con = duckdb.connect()
    good = con.sql(
        "SELECT account_id, event_time::VARCHAR AS event_time, event, user_id, feature, "
        "value::VARCHAR AS value FROM read_parquet(?) LIMIT 200",
        params=[str(demo / "events.parquet")],
    ).pl()
    bad = pl.DataFrame(
        {
            "account_id": ["nobody", None, good["account_id"][0], good["account_id"][1], " "],
            "event_time": ["2024-03-01T09:30:00", "2024-03-01", "yesterday", None, "2024-03-02"],
            "event": ["login", "login", "login", "login", None],
            "user_id": [None] * 5,
            "feature": [None] * 5,
            "value": ["1", "2", "x12", "3", "4"],
        }
    )
    pl.concat([good, bad]).write_parquet(folder / "events.parquet")
    report = load(folder, tmp_path / "bad.duckdb")
    loaded = db.connect(tmp_path / "bad.duckdb")
    expected = db.run(
        loaded,
        "SELECT reason, count(*) AS rows FROM rejects WHERE table_name = 'events' GROUP BY 1",
    )
    engine = SparkEvents(str(folder / "events.parquet"), spark=spark)
    engine.manifest(loaded)
    loaded.close()
    events_report = next(t for t in report.tables if t.table == "events")
    assert engine.rows_read == events_report.rows_read
    assert engine.rejects["rows"].sum() == events_report.rows_rejected == len(bad)
    assert_frame_equal(engine.rejects.sort("reason"), expected.sort("reason"))
