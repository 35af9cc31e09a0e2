"""Refreshing after a load of new days: only the changed days are rolled up again, the model is
reused for a week, and the result is what a refresh from scratch would build."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sklearn.metrics import roc_auc_score

from health import db, events
from health.db import copy as copy_database
from health.ingest import days
from health.ingest.loader import load
from health.pipeline.refresh import DAILY, refresh
from health.scoring.train import _WeightedAuc

LAST_DAYS = 3  # the demo's last days arrive in a second load


@pytest.fixture(scope="module")
def split(demo_folder, tmp_path_factory) -> tuple[Path, Path, dt.date]:
    """The demo without its last days (`base`) and those days alone (`late`, other tables as
    they are: reloading them changes nothing)."""
    root = tmp_path_factory.mktemp("split")
    base, late = root / "base", root / "late"
    for folder in (base, late):
        folder.mkdir()
        for f in demo_folder.iterdir():
            if not f.name.startswith("events."):
                shutil.copy2(f, folder / f.name)
    con = duckdb.connect()
    src = str(demo_folder / "events.parquet")
    last = con.execute("SELECT max(event_time)::DATE FROM read_parquet(?)", [src]).fetchone()[0]
    cut = last - dt.timedelta(days=LAST_DAYS - 1)
    for folder, cond in ((base, "<"), (late, ">=")):
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{src}') WHERE event_time::DATE {cond} DATE "
            f"'{cut}') TO '{folder / 'events.parquet'}' (FORMAT parquet)"
        )
    con.close()
    return base, late, cut


@pytest.fixture(scope="module")
def incremental(split, tmp_path_factory) -> Path:
    """Loaded and refreshed without the last days, then those loaded and refreshed again."""
    base, late, _ = split
    path = tmp_path_factory.mktemp("inc") / "inc.duckdb"
    load(base, path)
    refresh(path)
    load(late, path)
    return path


@pytest.fixture(scope="module")
def scratch(demo_folder, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scratch") / "scratch.duckdb"
    load(demo_folder, path)
    refresh(path)
    return path


def _table(path: Path, sql: str) -> pl.DataFrame:
    con = db.connect(path, events=True)
    try:
        return db.run(con, sql)
    finally:
        con.close()


def _card(path: Path) -> dict:
    import json

    return json.loads(_table(path, "select card from model_card")["card"][0])


def _same_daily(a: Path, b: Path) -> None:
    for name in DAILY:
        keys = {
            "int_account_days": ["account_id", "day"],
            "int_user_days": ["account_id", "user_id", "day"],
            "int_event_days": ["account_id", "day", "event", "feature"],
            "int_user_feature_days": ["account_id", "user_id", "feature", "day"],
        }[name]
        left = _table(a, f"select * from {name}").sort(keys, nulls_last=True)
        right = _table(b, f"select * from {name}").sort(keys, nulls_last=True)
        # Sums of doubles may differ in the last bits with the order they are added in.
        assert_frame_equal(left, right, check_exact=False, rel_tol=1e-9)


def _rebuild_from(con):
    manifest = events.DuckDBEvents().manifest(con)
    return events.rebuild_from(con, manifest, events.latest_day(manifest))


def test_a_load_of_new_days_marks_only_those_days_for_rebuilding(incremental, split):
    _, _, cut = split
    con = db.connect(incremental, read_only=False)
    try:
        assert _rebuild_from(con) == cut
    finally:
        con.close()


def test_refreshing_after_new_days_builds_what_a_refresh_from_scratch_builds(incremental, scratch):
    refresh(incremental)
    _same_daily(incremental, scratch)
    for table, keys in (
        ("mart_account_features", ["account_id", "week_end"]),
        ("mart_account_overview", ["account_id"]),
    ):
        assert_frame_equal(
            _table(incremental, f"select * from {table}").sort(keys),
            _table(scratch, f"select * from {table}").sort(keys),
            check_exact=False,
            rel_tol=1e-9,
        )
    meta = dict(_table(incremental, "select key, value from meta").iter_rows())
    assert "events_changed_from" not in meta
    assert meta["daily_through"] == meta["as_of"]
    manifest = _table(incremental, "select * from event_manifest")
    assert (
        manifest["events"].sum() == _table(incremental, "select count(*) as n from events")["n"][0]
    )


def test_the_model_is_reused_for_a_week_and_never_for_an_earlier_date(incremental, split):
    _, _, cut = split
    refresh(incremental)  # no-op if the test above ran; the model stays the base's
    card = _card(incremental)
    assert card["trained_as_of"] == str(cut - dt.timedelta(days=1))
    assert card["as_of"] != card["trained_as_of"]
    earlier = cut - dt.timedelta(days=30)
    refresh(incremental, as_of=earlier)
    card = _card(incremental)
    assert card["trained_as_of"] == card["as_of"] == str(earlier)


def test_an_earlier_as_of_date_drops_the_later_days(incremental, tmp_path):
    con = db.connect(incremental)
    as_of = dt.date.fromisoformat(
        dict(con.execute("select key, value from meta").fetchall())["as_of"]
    )
    con.close()
    for name in DAILY:
        assert _table(incremental, f"select max(day) as d from {name}")["d"][0] <= as_of
    fresh = tmp_path / "fresh.duckdb"
    copy_database(incremental, fresh)
    con = db.connect(fresh, read_only=False)
    for name in DAILY:
        con.execute(f"drop table {name}")
    con.execute("delete from meta where key = 'daily_through'")
    con.close()
    refresh(fresh, as_of=as_of)
    _same_daily(incremental, fresh)


def test_events_changed_outside_a_load_are_rolled_up_again_from_that_day(scratch, tmp_path):
    edited = tmp_path / "edited.duckdb"
    copy_database(scratch, edited)
    con = db.connect(edited, read_only=False)
    first = con.execute("select min(event_time)::date from events").fetchone()[0]
    con.execute(
        "delete from store.events where event_time::date = ?", [first + dt.timedelta(days=3)]
    )
    days.recount(con)  # an edit outside a load recounts the events' manifest
    # The manifests differ from that day on: it is the first day to roll up again.
    assert _rebuild_from(con) == first + dt.timedelta(days=3)
    con.close()
    refresh(edited)
    dropped = _table(
        edited,
        f"select count(*) as n from int_account_days where day = '{first + dt.timedelta(days=3)}'",
    )
    assert dropped["n"][0] == 0


def test_a_whole_build_in_batches_of_accounts_builds_the_tables_of_one_batch(scratch, tmp_path):
    batched = copy_database(scratch, tmp_path / "batched.duckdb")
    con = db.connect(batched, read_only=False)
    try:
        engine = events.DuckDBEvents(events_per_batch=1)  # as many batches as it allows
        ranges = engine.account_ranges(con)
        # Contiguous ranges, open at both ends: every event falls in exactly one.
        assert len(ranges) == engine.max_batches
        assert ranges[0][0] is None and ranges[-1][1] is None
        assert all(high == low for (_, high), (low, _) in zip(ranges, ranges[1:], strict=False))
        as_of = con.execute("select as_of from params").fetchone()[0]
        engine.build(con, as_of, None)
        # The tables kept in account order are still stored in it, batch after batch.
        for name, keys in (
            ("int_account_days", "account_id, day"),
            ("int_user_days", "account_id, user_id, day"),
        ):
            stored = con.execute(f"select {keys} from {name}").fetchall()
            assert stored == sorted(stored)
    finally:
        con.close()
    _same_daily(scratch, batched)


def test_the_bootstrap_auc_is_roc_auc_with_row_weights():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 3000)
    score = np.round(rng.random(3000) + 0.4 * y, 2)  # rounded: many ties
    auc = _WeightedAuc(y, score)
    for _ in range(5):
        weight = rng.integers(0, 3, 3000)
        assert auc(weight) == pytest.approx(
            roc_auc_score(y, score, sample_weight=weight), abs=1e-12
        )
