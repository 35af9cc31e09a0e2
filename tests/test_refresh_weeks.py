"""Calendar weeks and the incremental refresh: refreshing day by day keeps the past weeks and
ends with exactly what one full refresh builds."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from health import db
from health.app.charts import base
from health.ingest.loader import load
from health.moments import carry, memo
from health.pipeline import incremental
from health.pipeline.refresh import refresh
from health.scoring import store

# What a load brings in (compared by the load's own tests), not what a refresh derives.
LOADED = {"accounts", "users", "subscriptions", "tickets", "surveys", "touchpoints", "events"}
LOADED |= {"loads", "rejects", "meta", "event_manifest", "params"}
# The action queue remembers what it surfaced on each day a refresh ran (see
# health/actions/suggest.py's plan): daily refreshes and one after three days queue differently.
QUEUE = {"mart_actions"}
# What a refresh keeps for the next one to reuse (the detectors' last results, by their inputs).
MEMO = {memo.TABLE}


def _copy(source: Path, target: Path) -> Path:
    """A database file with its events store and saved model beside it, under another folder."""
    db.copy(source, target)
    shutil.copytree(store.folder(source), store.folder(target))
    return target


def _derived(con, alias: str) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = ? and table_type = 'BASE TABLE'",
        [alias],
    ).fetchall()
    return sorted(name for (name,) in rows if name not in LOADED | QUEUE | MEMO)


def _differences(a: Path, b: Path) -> dict[str, int]:
    """Per derived table: rows in one and not the other (EXCEPT ALL both ways; doubles rounded
    to 6 decimals, as sums may differ in the last bits with the order they are added in)."""
    con = duckdb.connect()
    con.execute(f"attach '{a}' as a (read_only)")
    con.execute(f"attach '{b}' as b (read_only)")
    tables = _derived(con, "a")
    assert tables == _derived(con, "b")
    out = {}
    for table in tables:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = 'a' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
        cols = ", ".join(
            f'round("{c}", 6)' if kind in ("DOUBLE", "FLOAT") else f'"{c}"' for c, kind in columns
        )
        n = con.execute(
            f"select count(*) from ((select {cols} from a.{table} except all "
            f"select {cols} from b.{table}) union all (select {cols} from b.{table} "
            f"except all select {cols} from a.{table}))"
        ).fetchone()[0]
        if n:
            out[table] = n
    con.close()
    return out


@pytest.fixture(scope="module")
def day_by_day(demo_folder, tmp_path_factory) -> tuple[Path, Path, dt.date]:
    """Refreshed as of a Saturday D, then as of D+1 (Sunday: the week completes), D+2, D+3
    incrementally; and a copy refreshed in full as of D+3 from the same saved model."""
    root = tmp_path_factory.mktemp("weeks")
    daily = root / "daily" / "health.duckdb"
    daily.parent.mkdir()
    load(demo_folder, daily)
    con = db.connect(daily, events=True)  # the events are in their own store beside it
    last = con.execute("select max(event_time)::date from events").fetchone()[0]
    con.close()
    saturday = last - dt.timedelta(days=(last.weekday() - 5) % 7 + 7)
    refresh(daily, saturday)
    (root / "full").mkdir()
    full = _copy(daily, root / "full" / "health.duckdb")
    for k in (1, 2, 3):
        refresh(daily, saturday + dt.timedelta(days=k))
    refresh(full, saturday + dt.timedelta(days=3), full=True)
    return daily, full, saturday


def test_refreshing_day_by_day_builds_what_one_full_refresh_builds(day_by_day):
    daily, full, _ = day_by_day
    assert _differences(daily, full) == {}


def test_the_as_of_adoption_counts_follow_each_new_day(day_by_day):
    # The Segments page's 28-day counts per account (and feature) are stored as of the as-of
    # date: each daily refresh computes them again, and they are compared above with the full
    # refresh's; here they are also what the daily rows give for the last day's window.
    daily, _, saturday = day_by_day
    as_of = saturday + dt.timedelta(days=3)
    con = duckdb.connect(str(daily), read_only=True)
    assert {"int_adoption_accounts", "int_adoption_features"} <= set(_derived(con, "health"))
    window = "day > ?::date - 28 and day <= ?::date"
    stored = con.execute(
        "select count(*), sum(users_28d), sum(user_days_28d) from int_adoption_accounts"
    ).fetchone()
    counted = con.execute(
        "select count(distinct account_id), "
        "(select count(distinct (account_id, user_id)) from int_user_days where "
        + window
        + "), (select count(*) from int_user_days where "
        + window
        + f") from int_account_days where {window}",
        [as_of] * 6,
    ).fetchone()
    used = con.execute(
        "select count(*) filter (where used_28d), sum(users_28d) from int_adoption_features"
    ).fetchone()
    by_feature = con.execute(
        "select count(distinct (account_id, feature)), "
        "count(distinct (account_id, feature, user_id)) filter (where user_id is not null) "
        f"from int_user_feature_days where {window}",
        [as_of] * 2,
    ).fetchone()
    con.close()
    assert stored == counted and stored[0] > 0
    assert used == by_feature and used[0] > 0


def test_a_refresh_after_one_day_computes_only_the_current_week(day_by_day):
    daily, _, saturday = day_by_day
    con = db.connect(daily)
    params = con.execute("select as_of, rebuild_from from params").fetchone()
    partial = con.execute(
        "select distinct week_end, days_in_week from int_account_weeks where is_partial"
    ).fetchall()
    con.close()
    # as of Tuesday: the week from Monday on is computed again, the earlier weeks were kept
    assert params == (saturday + dt.timedelta(days=3), saturday + dt.timedelta(days=2))
    assert partial == [(saturday + dt.timedelta(days=3), 2)]


def test_a_past_weeks_score_stays_as_it_was_computed(day_by_day, tmp_path):
    daily, _, saturday = day_by_day
    sunday = saturday + dt.timedelta(days=1)
    copy = _copy(daily, tmp_path / "health.duckdb")
    con = db.connect(copy, read_only=False)
    # a mark no computation would give: kept by an incremental refresh, recomputed by a full one
    con.execute("update mart_health_history set health_score = -1 where week_end = ?", [sunday])
    con.close()
    refresh(copy, saturday + dt.timedelta(days=4))
    con = db.connect(copy)
    kept = con.execute(
        "select min(health_score), max(health_score) from mart_health_history where week_end = ?",
        [sunday],
    ).fetchone()
    con.close()
    assert kept == (-1, -1)
    refresh(copy, saturday + dt.timedelta(days=4), full=True)
    con = db.connect(copy)
    again = con.execute(
        "select min(health_score) from mart_health_history where week_end = ?", [sunday]
    ).fetchone()[0]
    con.close()
    assert again >= 0


def test_a_changed_past_ticket_computes_again_from_its_week(day_by_day, tmp_path):
    daily, _, saturday = day_by_day
    copy = _copy(daily, tmp_path / "health.duckdb")
    con = db.connect(copy, read_only=False)
    opened = con.execute(
        "select min(opened_at)::date from tickets where opened_at < ?",
        [saturday - dt.timedelta(days=60)],
    ).fetchone()[0]
    con.execute("delete from tickets where opened_at::date = ?", [opened])
    as_of = saturday + dt.timedelta(days=3)
    con.execute("update params set as_of = ?", [as_of])  # as the refresh sets it
    since = incremental.rebuild_from(con, as_of, as_of)
    con.close()
    assert since == opened - dt.timedelta(days=opened.weekday())


def test_a_changed_past_ticket_trains_the_model_again(day_by_day, tmp_path):
    # The model trained as of the Saturday scores the next days; data before that day changed
    # (a ticket two months earlier deleted), it is trained again rather than reused.
    daily, _, saturday = day_by_day
    as_of = saturday + dt.timedelta(days=4)
    trained = {}
    for changed in (False, True):
        (tmp_path / str(changed)).mkdir()
        copy = _copy(daily, tmp_path / str(changed) / "health.duckdb")
        if changed:
            con = db.connect(copy, read_only=False)
            con.execute(
                "delete from tickets where opened_at::date = (select min(opened_at)::date "
                "from tickets where opened_at < ?)",
                [saturday - dt.timedelta(days=60)],
            )
            con.close()
        refresh(copy, as_of)
        con = db.connect(copy)
        trained[changed] = store.read_card(con)["trained_as_of"]
        con.close()
    assert trained == {False: str(saturday), True: str(as_of)}


def test_moments_published_before_a_new_day_stay_as_they_were(day_by_day, tmp_path, monkeypatch):
    # One more day (a Wednesday): every moment detected by Tuesday is there again with the same
    # dates and level before, the weekly detectors (complete weeks only: their inputs are the
    # same) were read back from the last refresh, not run again, and the daily drop test went on
    # from Tuesday's state.
    daily, _, saturday = day_by_day
    resumed, resumable = [], carry._resumable

    def spy(*args):
        held = resumable(*args)  # (day resumed after, states, drops) or None: every day again
        resumed.append(None if held is None else held[0])
        return held

    monkeypatch.setattr(carry, "_resumable", spy)
    tuesday = saturday + dt.timedelta(days=3)
    copy = _copy(daily, tmp_path / "health.duckdb")
    keys = ["account_id", "kind", "started_on", "detected_on", "metric_before"]
    memo_sql = f"select name, key from {memo.TABLE} order by name"

    def read() -> tuple[pl.DataFrame, dict]:
        con = db.connect(copy)
        try:
            return db.run(con, "select * from moments"), dict(con.execute(memo_sql).fetchall())
        finally:
            con.close()

    before, kept = read()
    refresh(copy, tuesday + dt.timedelta(days=1))
    after, again = read()
    published = before.select(keys).sort(keys)
    assert published.height > 0
    assert after.filter(pl.col("detected_on") <= tuesday).select(keys).sort(keys).equals(published)
    assert "level_shifts" in kept
    assert again["level_shifts"] == kept["level_shifts"]
    assert resumed == [tuesday]


def test_the_people_rollups_are_updated_for_new_days_and_rebuilt_for_changed_people(
    day_by_day, tmp_path, monkeypatch
):
    # One more day updates the users' activity and the champions' silences in place (not built
    # whole); a renamed champion and a deactivated one build the silences whole; both end as a
    # full refresh does.
    daily, _, saturday = day_by_day
    wednesday = saturday + dt.timedelta(days=4)
    built: list[str] = []
    build = db.build

    def spy(con, names, *args, **kwargs):
        built.extend(names)
        return build(con, names, *args, **kwargs)

    monkeypatch.setattr(db, "build", spy)
    people = {"int_moment_user_activity", "int_moment_silences"}
    (tmp_path / "inc").mkdir()
    (tmp_path / "full").mkdir()
    inc = _copy(daily, tmp_path / "inc" / "health.duckdb")
    refresh(inc, wednesday)
    assert "int_moment_users" in built and not people & set(built)

    con = db.connect(inc, read_only=False)
    champs = con.execute(
        "select user_id from users where is_champion order by user_id limit 2"
    ).fetchall()
    con.execute("update users set name = 'Renamed' where user_id = ?", [champs[0][0]])
    con.execute(
        "update users set deactivated_at = ? where user_id = ?",
        [dt.datetime.combine(wednesday, dt.time()), champs[1][0]],
    )
    con.close()
    full = _copy(inc, tmp_path / "full" / "health.duckdb")
    built.clear()
    refresh(inc, wednesday)
    assert "int_moment_silences" in built
    refresh(full, wednesday, full=True)
    assert _differences(inc, full) == {}


def test_the_week_to_date_is_drawn_lighter_and_labelled():
    weeks = pl.DataFrame(
        {
            "week_end": [dt.date(2026, 10, 18), dt.date(2026, 10, 25), dt.date(2026, 10, 28)],
            "is_partial": [False, False, True],
            "events": [100, 110, 40],
            "active_accounts": [9, 10, 7],
        }
    )
    fig = base.weekly_activity(weeks)
    bars = next(t for t in fig.data if t.type == "bar")
    assert list(bars.marker.opacity) == [1.0, 1.0, 0.4]
    dotted = [t for t in fig.data if t.type == "scatter" and t.line.dash == "dot"]
    assert [list(t.x) for t in dotted] == [[dt.date(2026, 10, 25), dt.date(2026, 10, 28)]]
    assert [a.text for a in fig.layout.annotations] == ["week to date"]
