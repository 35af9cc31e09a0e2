"""The journey: every account has a stage and dated milestones; a hand-built journey, by hand."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from health import db
from health.analytics import journey
from health.ingest.loader import load
from health.pipeline.refresh import refresh
from tests.folders import make_folder

D = dt.date.fromisoformat


def test_every_demo_account_has_a_stage_and_a_signup_milestone(warehouse):
    con = db.connect(warehouse)
    stages = db.run(
        con,
        "SELECT s.*, a.account_id AS known FROM stg_accounts AS a "
        "LEFT JOIN mart_account_stage AS s USING (account_id)",
    )
    assert stages["stage"].null_count() == 0
    assert set(stages["stage"]) <= set(journey.STAGES)
    churned = db.run(con, "SELECT account_id FROM stg_accounts WHERE churn_date IS NOT NULL")
    assert set(stages.filter(stages["stage"] == "churned")["account_id"]) == set(
        churned["account_id"]
    )
    # Milestones come in journey order for every account that reached them.
    for earlier, later in (("first_value_on", "activated_on"), ("activated_on", "adopted_on")):
        both = stages.drop_nulls([earlier, later])
        assert (both[earlier] <= both[later]).all(), (earlier, later)


@pytest.fixture(scope="module")
def two_journeys(tmp_path_factory):
    """A: two users, broad use from week 1, then weekly logins. B: one user, slow to value."""
    tmp = tmp_path_factory.mktemp("journey")
    weekly = [
        {"account_id": "A", "event_time": f"{day}T10:00:00", "event": "nav", "user_id": "u1"}
        for day in (D("2024-01-15") + dt.timedelta(weeks=k) for k in range(16))
    ]
    events = [
        {"account_id": "A", "event_time": "2024-01-02T10:00:00", "event": "nav", "user_id": "u1"},
        {
            "account_id": "A",
            "event_time": "2024-01-03T10:00:00",
            "event": "report",
            "user_id": "u1",
        },
        {
            "account_id": "A",
            "event_time": "2024-01-10T10:00:00",
            "event": "project",
            "user_id": "u2",
        },
        {
            "account_id": "A",
            "event_time": "2024-01-11T10:00:00",
            "event": "comment",
            "user_id": "u1",
        },
        *weekly,
        {"account_id": "B", "event_time": "2024-01-05T10:00:00", "event": "nav", "user_id": "u3"},
        {
            "account_id": "B",
            "event_time": "2024-02-01T10:00:00",
            "event": "report",
            "user_id": "u3",
        },
        {
            "account_id": "B",
            "event_time": "2024-02-02T10:00:00",
            "event": "project",
            "user_id": "u3",
        },
        {
            "account_id": "B",
            "event_time": "2024-02-03T10:00:00",
            "event": "comment",
            "user_id": "u3",
        },
    ]
    folder = make_folder(
        tmp,
        accounts=[
            {"account_id": "A", "signup_date": "2024-01-01"},
            {"account_id": "B", "signup_date": "2024-01-01"},
        ],
        events=events,
        users=[
            {"user_id": "u1", "account_id": "A"},
            {"user_id": "u2", "account_id": "A"},
            {"user_id": "u3", "account_id": "B"},
        ],
    )
    path = tmp / "j.duckdb"
    load(folder, path)
    refresh(path, D("2024-04-30"))  # calendar weeks end on Sundays (1 Jan 2024 is a Monday)
    return db.connect(path)


def test_milestones_of_a_hand_built_journey(two_journeys):
    m = {
        r["account_id"]: r
        for r in db.run(two_journeys, "SELECT * FROM mart_account_stage").iter_rows(named=True)
    }
    a, b = m["A"], m["B"]
    # Both accounts use all four features: all core. "nav" is used most, so it is activity,
    # not value; value is the first report/project/comment.
    assert a["onboarding_on"] == D("2024-01-02")  # no touchpoints: the first event
    assert a["first_value_on"] == D("2024-01-03")  # first report
    assert a["ttv_days"] == 2
    # Week ending Sun 14 Jan: nav, report, project, comment in the last 4 weeks (4 >= 3 core),
    # u1 and u2 active (2 >= 2 users). The week ending 7 Jan had only nav and report.
    assert a["activated_on"] == D("2024-01-14")
    # Active every week since signup: the 6th active week of the last 8 ends on 11 Feb.
    assert a["adopted_on"] == D("2024-02-11")
    assert a["expanding_on"] is None and a["advocate_on"] is None  # no subscriptions, no NPS
    # B: value on 1 Feb (31 days); its one user counts as enough users for a 1-person account;
    # three core features by the week ending 4 Feb; then silence, so never adopted.
    assert b["first_value_on"] == D("2024-02-01") and b["ttv_days"] == 31
    assert b["activated_on"] == D("2024-02-04")
    assert b["adopted_on"] is None


def test_the_funnel_counts_each_step_in_order(two_journeys):
    funnel = journey.funnel(two_journeys, "segment")
    steps = dict(zip(funnel["step"], funnel["accounts"], strict=True))
    assert steps == {
        "Signed up": 2,
        "Onboarding": 2,
        "First value": 2,
        "Activated": 2,
        "Adopted": 1,
    }
    adopted = funnel.filter(funnel["step"] == "Adopted").row(0, named=True)
    assert adopted["conversion"] == 0.5


def test_core_features_in_a_window_are_counted_past_64_of_them():
    # The 4-week window counts core features as bits of 64-bit words: with 152 core features
    # (three words), the counts are those of a plain count(distinct) over the window.
    con = duckdb.connect()
    con.execute(
        "create table int_journey_features as select 'f' || lpad(i::varchar, 3, '0') as feature, "
        "i % 5 <> 4 as is_core, false as is_value from range(190) as r(i)"
    )
    con.execute(
        "create table int_feature_weeks as select 'a' || (i % 7) as account_id, "
        "'2024-01-07'::date + 7 * ((i * 7919) % 30)::integer as week_end, "
        "'f' || lpad(((i * 104729) % 190)::varchar, 3, '0') as feature, 1 as events "
        "from range(12000) as r(i)"
    )
    text = db.sql("int_journey_milestones").split("    known_users as (")[0]
    counted = text.rstrip().rstrip(",") + "\nselect * from core_window"
    plain = """
        select fw.account_id, (fw.week_end + (7 * k)::INTEGER)::date as week_end,
            count(distinct fw.feature) as core_features
        from int_feature_weeks as fw
        join int_journey_features as f on f.feature = fw.feature and f.is_core,
            range(0, 4) as r(k)
        group by all
    """
    for table in ("stg_accounts", "stg_touchpoints", "stg_subscriptions", "stg_surveys"):
        con.execute(f"create table {table} (account_id varchar)")
    con.execute("create table stg_users (account_id varchar, user_id varchar)")
    con.execute("create table int_event_days (account_id varchar, day date, feature varchar)")
    con.execute("create table int_account_days (account_id varchar, day date)")
    con.execute("create table int_account_weeks (account_id varchar, week_end date)")
    got = con.execute(f"select * from ({counted}) order by all", {"window_days": 28}).fetchall()
    want = con.execute(f"select * from ({plain}) order by all").fetchall()
    assert got == want and max(r[2] for r in want) > 64
