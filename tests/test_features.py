"""Health features: nothing from after a snapshot's date, usage scaled by size, missing tables."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from health import db
from health.db import copy as copy_database
from health.ingest import days
from health.ingest.loader import load
from health.pipeline.refresh import run_steps, steps_through
from health.scoring import features
from tests.folders import make_folder

# Only the SQL layers up to the features: what a refresh builds before it scores.
FEATURE_STEPS = steps_through("mart_account_features")


def build_features(source: Path, work: Path, as_of: dt.date) -> Path:
    """Copy a loaded database and build the feature mart in it as of a date."""
    copy_database(source, work)
    con = db.connect(work, read_only=False)
    try:
        run_steps(con, as_of, FEATURE_STEPS)
    finally:
        con.close()
    return work


def snapshot(path: Path, week_end: dt.date) -> pl.DataFrame:
    """Every feature of every account at one week_end."""
    con = db.connect(path)
    try:
        return db.run(
            con,
            "select * from mart_account_features where week_end = $t order by account_id",
            t=week_end,
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def loaded(demo_folder, tmp_path_factory) -> Path:
    """The small demo, loaded but not refreshed."""
    path = tmp_path_factory.mktemp("features") / "loaded.duckdb"
    load(demo_folder, path)
    return path


@pytest.fixture(scope="module")
def as_of(loaded) -> dt.date:
    """The latest event day: the default as-of date."""
    con = db.connect(loaded, events=True)
    try:
        return con.execute("select max(event_time)::date from events").fetchall()[0][0]
    finally:
        con.close()


def test_a_snapshot_is_the_same_whether_computed_then_or_later(loaded, as_of, tmp_path):
    # a calendar week's Sunday 13 weeks back: later refreshes keep a row for it
    t = as_of - dt.timedelta(days=(as_of.weekday() + 1) % 7 + 91)
    then = snapshot(build_features(loaded, tmp_path / "then.duckdb", t), t)
    later = snapshot(build_features(loaded, tmp_path / "later.duckdb", as_of), t)
    assert then.height > 50
    assert_frame_equal(then, later)


# What an export taken on day T would hold: rows after T gone, later changes not yet made.
# A subscription line's end date is kept only for a standard term (1, 3, 6, 12, 24 or 36
# months within 4 days): that end was known when it was signed; a cancellation after T was not.
CUT_TO = """
DELETE FROM store.events WHERE event_time >= $t::DATE + 1;
DELETE FROM tickets WHERE opened_at >= $t::DATE + 1;
UPDATE tickets SET closed_at = NULL, csat = NULL WHERE closed_at >= $t::DATE + 1;
DELETE FROM surveys WHERE responded_at >= $t::DATE + 1;
DELETE FROM touchpoints WHERE occurred_at >= $t::DATE + 1;
DELETE FROM users WHERE created_at >= $t::DATE + 1;
UPDATE users SET deactivated_at = NULL WHERE deactivated_at >= $t::DATE + 1;
DELETE FROM subscriptions WHERE start_date > $t::DATE;
UPDATE subscriptions SET end_date = NULL WHERE end_date > $t::DATE
    AND NOT (round(date_diff('day', start_date, end_date) / 30.436875) IN (1, 3, 6, 12, 24, 36)
        AND abs(date_diff('day', start_date, end_date)
            - 30.436875 * round(date_diff('day', start_date, end_date) / 30.436875)) <= 4);
UPDATE accounts SET churn_date = NULL WHERE churn_date > $t::DATE;
DELETE FROM accounts WHERE signup_date > $t::DATE;
"""


def test_a_snapshot_is_unchanged_when_data_after_it_is_added(loaded, as_of, tmp_path):
    t = as_of - dt.timedelta(days=(as_of.weekday() + 1) % 7 + 140)  # a Sunday
    cut = tmp_path / "cut.duckdb"
    copy_database(loaded, cut)
    con = db.connect(cut, read_only=False)
    for statement in filter(str.strip, CUT_TO.split(";")):
        con.execute(statement, {"t": t})
    days.recount(con)  # the events' manifest, after editing them outside a load
    con.close()
    before = snapshot(build_features(cut, tmp_path / "cut-built.duckdb", t), t)
    with_more = snapshot(build_features(loaded, tmp_path / "full.duckdb", as_of), t)
    assert before.height > 50
    assert_frame_equal(before, with_more)


def test_features_have_one_row_per_active_account_and_week(loaded, as_of, tmp_path):
    path = build_features(loaded, tmp_path / "now.duckdb", as_of)
    con = db.connect(path)
    rows = db.run(
        con,
        """
        select f.account_id, f.week_end, a.signup_date, a.churn_date
        from mart_account_features as f join stg_accounts as a using (account_id)
        """,
    )
    con.close()
    assert rows.select(pl.struct("account_id", "week_end").is_unique().all()).item()
    assert rows.filter(pl.col("week_end") < pl.col("signup_date")).is_empty()
    assert rows.filter(pl.col("churn_date") <= pl.col("week_end")).is_empty()
    assert rows["week_end"].max() == as_of
    # calendar weeks: each row is a week's Sunday, or the as-of date (the week to date)
    past = rows.filter(pl.col("week_end") < as_of)["week_end"]
    assert (past.dt.weekday() == 7).all()


def test_the_as_of_date_sees_exactly_the_28_days_to_it_midweek_too(loaded, as_of, tmp_path):
    t = as_of - dt.timedelta(days=(as_of.weekday() - 2) % 7 + 7)  # a Wednesday
    path = build_features(loaded, tmp_path / "midweek.duckdb", t)
    con = db.connect(path)
    rows = db.run(
        con,
        """
        select f.account_id, f.events_28d, f.active_users_28d,
            coalesce(d.events, 0) as events, coalesce(u.users, 0) as users
        from mart_account_features as f
        left join (
            select account_id, sum(events) as events from int_account_days
            where day > $t::date - 28 and day <= $t group by all
        ) as d using (account_id)
        left join (
            select account_id, count(distinct user_id) as users from int_user_days
            where day > $t::date - 28 and day <= $t group by all
        ) as u using (account_id)
        where f.week_end = $t
        """,
        t=t,
    )
    weeks = db.run(con, "select distinct days_in_week, is_partial from int_account_weeks")
    con.close()
    assert rows.height > 50
    assert (rows["events_28d"] == rows["events"]).all()
    assert (rows["active_users_28d"] == rows["users"]).all()
    assert sorted(weeks.rows()) == [(3, True), (7, False)]


def _daily(account: str, users: int, days: int, end: dt.date) -> list[dict]:
    """Every user of the account does one thing every day for `days` days up to `end`."""
    return [
        {
            "account_id": account,
            "event_time": f"{end - dt.timedelta(days=d)}T10:00:00",
            "event": "task_completed",
            "user_id": f"{account}-u{u}",
        }
        for d in range(days)
        for u in range(users)
    ]


def test_a_5_seat_and_a_500_seat_account_with_the_same_habits_compare_equal(tmp_path):
    end = dt.date(2024, 6, 30)
    accounts = [
        {"account_id": "small", "signup_date": "2024-01-01"},
        {"account_id": "large", "signup_date": "2024-01-01"},
    ]
    subscriptions = [
        {"account_id": "small", "start_date": "2024-01-01", "mrr": "200", "seats": "5"},
        {"account_id": "large", "start_date": "2024-01-01", "mrr": "20000", "seats": "500"},
    ]
    events = _daily("small", 4, 56, end) + _daily("large", 400, 56, end)
    folder = make_folder(tmp_path, accounts=accounts, events=events, subscriptions=subscriptions)
    load(folder, tmp_path / "loaded.duckdb")
    path = build_features(tmp_path / "loaded.duckdb", tmp_path / "built.duckdb", end)
    row = snapshot(path, end).select(
        "account_id", "events_per_seat_28d", "active_user_share", "events_per_user_28d"
    )
    small, large = row.sort("account_id").rows()[::-1]
    assert small[1:] == pytest.approx(large[1:])
    assert small[2] == pytest.approx(0.8)  # 4 of 5 seats active, 400 of 500
    assert small[1] == pytest.approx(4 * 28 / 5)  # a user a day for 28 days, per seat


def test_missing_optional_tables_mean_missing_features_not_errors(demo_folder, tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    shutil.copy(demo_folder / "accounts.csv", folder)
    shutil.copy(demo_folder / "events.parquet", folder)
    load(folder, tmp_path / "bare.duckdb")
    con = db.connect(tmp_path / "bare.duckdb", events=True)
    as_of = con.execute("select max(event_time)::date from events").fetchall()[0][0]
    con.close()
    path = build_features(tmp_path / "bare.duckdb", tmp_path / "built.duckdb", as_of)
    frame = snapshot(path, as_of)
    assert frame.height > 50
    absent = [
        f for g in ("support", "voice", "csm", "people", "contract") for f in features.GROUPS[g]
    ]
    assert frame.select(pl.col(absent).null_count()).row(0) == (frame.height,) * len(absent)
    # Without seats, an account's size is the most users it ever had active in 28 days.
    present = ["events_28d", "active_users_28d", "events_per_seat_28d", "days_since_active"]
    assert frame.select(pl.col(present).null_count().sum()).row(0) == (0,) * len(present)
