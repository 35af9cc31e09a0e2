"""Product KPIs on tiny hand-built companies, every number worked out by hand above its assert."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from health import db
from health.analytics import feature_outcomes, metrics
from health.db import copy as copy_database
from health.ingest.loader import load
from health.pipeline.refresh import refresh
from tests.folders import make_folder

AS_OF = dt.date(2024, 6, 30)  # a Sunday: as-of weeks run Monday to Sunday


def _days(first: str, n: int) -> list[str]:
    """n consecutive ISO dates from `first`."""
    start = dt.date.fromisoformat(first)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(n)]


def _events(account: str, user: str | None, days: list[str], *features: str) -> list[dict]:
    """One event per feature per day, by one user of one account."""
    return [
        {"account_id": account, "event_time": f"{d}T10:00:00", "event": f, "user_id": user}
        for d in days
        for f in features
    ]


def _account(account_id: str, signup: str, segment: str, **more) -> dict:
    return {"account_id": account_id, "signup_date": signup, "segment": segment, **more}


def _warehouse(tmp_path_factory, name: str, **tables):
    """Load a folder and refresh it as of AS_OF through the real commands."""
    root = tmp_path_factory.mktemp(name)
    folder = make_folder(root, name, **tables)
    path = root / f"{name}.duckdb"
    load(folder, path)
    refresh(path, AS_OF)
    return path


def _row(frame, **where) -> dict:
    """The one row of `frame` matching every column = value given."""
    hits = [r for r in frame.to_dicts() if all(r[k] == v for k, v in where.items())]
    assert len(hits) == 1, f"{len(hits)} rows match {where} in\n{frame}"
    return hits[0]


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    """Six accounts on their way to activation.

    J1 (SMB, 4 Mar) uses login, report and dashboard with two users the next day; J2 (SMB,
    11 Mar) logs in at once, first reports on day 10 but uses all three only on 20 Apr (day 40);
    J3 (SMB, 18 Mar) only ever logs in; J4 (Enterprise, 5 Mar) does it all on 20 Mar (day 15);
    J5 (SMB, 1 Apr) on day 2; J6 (Enterprise, 20 Jun) on day 1, ten days before the as-of date.
    """
    events = (
        _events("J1", "a1", ["2024-03-05"], "login", "report")
        + _events("J1", "a2", ["2024-03-05"], "login", "dashboard")
        + _events("J2", "b1", ["2024-03-12"], "login")
        + _events("J2", "b1", ["2024-03-21"], "report")
        + _events("J2", "b1", ["2024-04-20"], "login", "report")
        + _events("J2", "b2", ["2024-04-20"], "dashboard")
        + _events("J3", "c1", ["2024-03-19"], "login")
        + _events("J4", "d1", ["2024-03-20"], "login", "report")
        + _events("J4", "d2", ["2024-03-20"], "dashboard")
        + _events("J5", "e1", ["2024-04-03"], "login", "dashboard")
        + _events("J5", "e2", ["2024-04-03"], "report")
        + _events("J6", "f1", ["2024-06-21"], "login", "report")
        + _events("J6", "f2", ["2024-06-21"], "dashboard")
    )
    accounts = [
        _account("J1", "2024-03-04", "SMB"),
        _account("J2", "2024-03-11", "SMB"),
        _account("J3", "2024-03-18", "SMB"),
        _account("J4", "2024-03-05", "Enterprise"),
        _account("J5", "2024-04-01", "SMB"),
        _account("J6", "2024-06-20", "Enterprise"),
    ]
    path = _warehouse(tmp_path_factory, "journey", accounts=accounts, events=events)
    with db.connect(path) as con:
        yield con


@pytest.fixture(scope="module")
def usage(tmp_path_factory):
    """Three accounts and four users over the last weeks before 30 Jun.

    U1 (SMB): u1 logs in every day 17-30 Jun and reports on 20 Jun; u2 logs in every day 3-9 Jun.
    U2 (Enterprise): u3 logs in on 10, 11, 24, 25, 26 Jun and exports on 25 Jun.
    U3 (SMB): u4 logs in and uses the dashboard on 15 Apr, logs in again on 27 May, then nothing.
    """
    events = (
        _events("U1", "u1", _days("2024-06-17", 14), "login")
        + _events("U1", "u1", ["2024-06-20"], "report")
        + _events("U1", "u2", _days("2024-06-03", 7), "login")
        + _events("U2", "u3", ["2024-06-10", "2024-06-11"] + _days("2024-06-24", 3), "login")
        + _events("U2", "u3", ["2024-06-25"], "export")
        + _events("U3", "u4", ["2024-04-15"], "login", "dashboard")
        + _events("U3", "u4", ["2024-05-27"], "login")
    )
    accounts = [
        _account("U1", "2024-01-01", "SMB"),
        _account("U2", "2024-01-01", "Enterprise"),
        _account("U3", "2024-01-01", "SMB"),
    ]
    path = _warehouse(tmp_path_factory, "usage", accounts=accounts, events=events)
    with db.connect(path) as con:
        yield con


# Contract history: R1 contracts 100 -> 50 on 15 Jan 2024; R2 expands 100 -> 200 on 20 Jan 2024
# (its old period's end_date is the new one's start_date, as some exports write it); R3 pays 100
# until 29 Feb and churns on 1 Mar 2024; R4 is new on 1 Feb 2024 at 300. accounts.arr is stale.
REVENUE_ACCOUNTS = [
    _account("R1", "2023-01-15", "SMB", arr="1200"),
    _account("R2", "2023-01-20", "Enterprise", arr="1200"),
    _account("R3", "2023-03-01", "SMB", arr="1200", churn_date="2024-03-01"),
    _account("R4", "2024-02-01", "Enterprise", arr="3600"),
]
REVENUE_EVENTS = [
    *_events("R1", None, ["2024-06-28"], "login"),
    *_events("R2", None, ["2024-06-28"], "login"),
    *_events("R3", None, ["2024-02-10"], "login"),
    *_events("R4", None, ["2024-06-29"], "login"),
]
SUBSCRIPTIONS = [
    {"account_id": "R1", "start_date": "2023-01-15", "end_date": "2024-01-14", "mrr": "100"},
    {"account_id": "R1", "start_date": "2024-01-15", "mrr": "50"},
    {"account_id": "R2", "start_date": "2023-01-20", "end_date": "2024-01-20", "mrr": "100"},
    {"account_id": "R2", "start_date": "2024-01-20", "mrr": "200"},
    {"account_id": "R3", "start_date": "2023-03-01", "end_date": "2024-02-29", "mrr": "100"},
    {"account_id": "R4", "start_date": "2024-02-01", "mrr": "300"},
]


@pytest.fixture(scope="module")
def revenue_db(tmp_path_factory) -> Path:
    """The four accounts with their subscriptions."""
    return _warehouse(
        tmp_path_factory,
        "revenue",
        accounts=REVENUE_ACCOUNTS,
        events=REVENUE_EVENTS,
        subscriptions=SUBSCRIPTIONS,
    )


@pytest.fixture(scope="module")
def revenue(revenue_db):
    with db.connect(revenue_db) as con:
        yield con


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """The same four accounts with only accounts and events, and no user ids in events."""
    path = _warehouse(tmp_path_factory, "bare", accounts=REVENUE_ACCOUNTS, events=REVENUE_EVENTS)
    with db.connect(path) as con:
        yield con


# --- activation and time to value --------------------------------------------------------------


def test_activation_rate_per_cohort_within_30_days_and_overall(journey):
    frame = metrics.run(journey, "activation")
    march = _row(frame, cohort=dt.date(2024, 3, 1))
    # March signups J1, J2, J3, J4: J1 (day ~6) and J4 (day ~19) activated within 30 days, J2 on
    # day ~41, J3 never -> 2 of 4 = 0.5 within 30 days, 3 of 4 = 0.75 by the as-of date.
    assert (march["signups"], march["eligible"], march["activated_within"]) == (4, 4, 2)
    assert march["activation_rate"] == 0.5
    assert (march["activated"], march["activation_rate_overall"]) == (3, 0.75)
    # J5 alone in April, activated on day ~6 -> 1.0.
    assert _row(frame, cohort=dt.date(2024, 4, 1))["activation_rate"] == 1.0
    # J6 signed up 10 days before the as-of date: its 30 days are not over, so the June cohort
    # has no 30-day rate yet, but counts as activated overall (1 of 1).
    june = _row(frame, cohort=dt.date(2024, 6, 1))
    assert (june["eligible"], june["activation_rate"]) == (0, None)
    assert june["activation_rate_overall"] == 1.0


def test_activation_rate_per_segment_and_window(journey):
    frame = metrics.run(journey, "activation", by="segment")
    march = dt.date(2024, 3, 1)
    # SMB March: J1 within 30 days, J2 later, J3 never -> 1/3 within, 2/3 overall.
    smb = _row(frame, group="SMB", cohort=march)
    assert smb["activation_rate"] == pytest.approx(1 / 3)
    assert smb["activation_rate_overall"] == pytest.approx(2 / 3)
    # Enterprise March: J4 alone, within 30 days -> 1.0.
    assert _row(frame, group="Enterprise", cohort=march)["activation_rate"] == 1.0
    # Within 45 days J2 (day ~41) counts too -> 3 of 4 March signups = 0.75.
    wide = metrics.run(journey, "activation", days=45)
    assert _row(wide, cohort=march)["activation_rate"] == 0.75
    # Only Enterprise, no breakdown: J4 and J6 -> March and June cohorts.
    enterprise = metrics.run(journey, "activation", segments=["Enterprise"])
    assert enterprise["signups"].to_list() == [1, 1]


def test_time_to_value_median_and_p90(journey):
    frame = metrics.run(journey, "time_to_value", by="segment")
    # First value = first report or dashboard (login is the most used core feature, not value).
    # SMB: J1 1 day, J2 10, J5 2, J3 never -> 3 of 4 reached; median of [1, 2, 10] = 2;
    # p90 interpolates at position 0.9 * 2 = 1.8: 2 + 0.8 * (10 - 2) = 8.4.
    smb = _row(frame, group="SMB", cohort=None)
    assert (smb["accounts"], smb["reached"], smb["reached_share"]) == (4, 3, 0.75)
    assert (smb["median_days"], smb["p90_days"]) == (2, pytest.approx(8.4))
    # Enterprise: J4 15 days, J6 1 -> median 8, p90 = 1 + 0.9 * 14 = 13.6.
    ent = _row(frame, group="Enterprise", cohort=None)
    assert (ent["median_days"], ent["p90_days"]) == (8, pytest.approx(13.6))
    # All, March cohort: J1 1, J2 10, J4 15 (J3 never) -> median 10, p90 = 10 + 0.8 * 5 = 14.
    march = _row(metrics.run(journey, "time_to_value"), cohort=dt.date(2024, 3, 1))
    assert (march["reached"], march["median_days"], march["p90_days"]) == (3, 10, 14)


# --- feature adoption, stickiness, power users, lifecycle ---------------------------------------


def test_feature_adoption_last_28_days(usage):
    frame = metrics.run(usage, "feature_adoption")
    # Active in 3-30 Jun: accounts U1, U2 (U3's last use is 27 May); users u1, u2, u3.
    login = _row(frame, feature="login")
    assert (login["active_accounts"], login["active_users"]) == (2, 3)
    assert (login["account_share"], login["user_share"]) == (1.0, 1.0)
    # report: U1 of the 2 accounts = 0.5; u1 of the 3 users = 1/3. export: U2 / u3, the same.
    for feature in ("report", "export"):
        row = _row(frame, feature=feature)
        assert (row["account_share"], row["user_share"]) == (0.5, pytest.approx(1 / 3))
    # dashboard was used only in April: listed, at 0.
    assert _row(frame, feature="dashboard")["account_share"] == 0.0
    # Per segment: SMB's only active account U1 reported -> 1.0; Enterprise never did.
    split = metrics.run(usage, "feature_adoption", by="segment")
    assert _row(split, group="SMB", feature="report")["account_share"] == 1.0
    assert _row(split, group="Enterprise", feature="export")["account_share"] == 1.0
    assert split.filter(group="Enterprise", feature="report").is_empty()


def test_feature_adoption_per_month(usage):
    frame = metrics.run(usage, "feature_adoption_monthly")
    june, may, april = dt.date(2024, 6, 1), dt.date(2024, 5, 1), dt.date(2024, 4, 1)
    # June: U1 and U2 active; U1 reported -> 1/2; the as-of date is its last day -> complete.
    report = _row(frame, month=june, feature="report")
    assert (report["active_accounts"], report["account_share"]) == (2, 0.5)
    assert report["complete"]
    # May: only U3 (27 May), which logged in -> login 1/1, dashboard 0/1.
    assert _row(frame, month=may, feature="login")["account_share"] == 1.0
    assert _row(frame, month=may, feature="dashboard")["account_share"] == 0.0
    # April: U3 used the dashboard -> 1/1.
    assert _row(frame, month=april, feature="dashboard")["account_share"] == 1.0


def test_stickiness_dau_over_mau(usage):
    accounts = metrics.run(usage, "stickiness_accounts")
    # U1: u1 active 14 days, u2 7 days in the 28 -> mean DAU = 21/28 = 0.75, MAU 2 -> 0.375.
    u1 = _row(accounts, account_id="U1")
    assert (u1["avg_dau"], u1["mau"], u1["dau_mau"]) == (0.75, 2, 0.375)
    # U2: u3 active 5 days -> 5/28 over MAU 1. U3 had nobody active: not listed.
    assert _row(accounts, account_id="U2")["dau_mau"] == pytest.approx(5 / 28)
    assert accounts["account_id"].to_list() == ["U1", "U2"]
    # All users together: 26 user-days / 28 = 0.9286 DAU over 3 monthly users -> 26/84.
    total = _row(metrics.run(usage, "stickiness"), group="All")
    assert (total["avg_dau"], total["mau"]) == (pytest.approx(26 / 28), 3)
    assert total["dau_mau"] == pytest.approx(26 / 84)
    # By segment: SMB is U1 alone -> 0.375.
    assert _row(metrics.run(usage, "stickiness", by="segment"), group="SMB")["dau_mau"] == 0.375


def test_power_user_curve_last_4_weeks(usage):
    frame = metrics.run(usage, "power_users")
    # User-weeks in the 4 as-of weeks: u1 7 days (24-30 Jun) and 7 (17-23 Jun), u2 7 (3-9 Jun),
    # u3 3 (24-26 Jun) and 2 (10-11 Jun) -> 7 days: 3, 3 days: 1, 2 days: 1, of 5 user-weeks.
    curve = dict(zip(frame["active_days"], frame["user_weeks"], strict=True))
    assert curve == {1: 0, 2: 1, 3: 1, 4: 0, 5: 0, 6: 0, 7: 3}
    seven = _row(frame, active_days=7)
    assert (seven["share"], seven["users_per_week"]) == (0.6, 0.75)


def test_user_lifecycle_weekly(usage):
    frame = metrics.run(usage, "lifecycle")
    got = {(r["weeks_ago"], r["status"]): r["users"] for r in frame.to_dicts() if r["users"]}
    # Weeks end on Sundays (30 Jun = week 0). u1 first shows in week 1 and stays (new, then
    # returning); u3 starts in week 2, skips week 1 (dormant) and comes back in week 0
    # (resurrecting); u2 is new in week 3 and dormant in week 2; u4 is new in week 10 (15 Apr),
    # dormant in week 9, resurrects in week 4 (27 May) and is dormant again in week 3.
    assert got == {
        (0, "returning"): 1,
        (0, "resurrecting"): 1,
        (1, "new"): 1,
        (1, "dormant"): -1,
        (2, "new"): 1,
        (2, "dormant"): -1,
        (3, "new"): 1,
        (3, "dormant"): -1,
        (4, "resurrecting"): 1,
        (9, "dormant"): -1,
        (10, "new"): 1,
    }
    # Every week has all four statuses, aligned to the as-of weeks.
    assert frame.height == 12 * 4
    assert _row(frame, weeks_ago=1, status="new")["week_end"] == dt.date(2024, 6, 23)


# --- retention, churn and revenue ---------------------------------------------------------------


def test_retention_cohorts_logo_and_revenue(revenue):
    frame = metrics.run(revenue, "retention_cohorts")
    jan, mar = dt.date(2023, 1, 1), dt.date(2023, 3, 1)
    # January 2023 (R1, R2): at signup 100 + 100 = 200 MRR. Twelve months on, R1 pays 50 and R2
    # 200 (on 20 Jan only the new period counts) -> 250 / 200 = 1.25; both still customers.
    twelve = _row(frame, cohort=jan, months_since=12)
    assert (twelve["logo_retention"], twelve["start_mrr"], twelve["mrr"]) == (1.0, 200, 250)
    assert twelve["revenue_retention"] == 1.25
    assert _row(frame, cohort=jan, months_since=11)["revenue_retention"] == 1.0
    # The triangle stops at the last anniversary before the as-of date: 15 Jun 2024 = month 17.
    assert frame.filter(cohort=jan)["months_since"].max() == 17
    # March 2023 (R3): still paying 100 at month 11; churned on its 12th anniversary -> 0.
    assert _row(frame, cohort=mar, months_since=11)["revenue_retention"] == 1.0
    gone = _row(frame, cohort=mar, months_since=12)
    assert (gone["retained"], gone["logo_retention"], gone["revenue_retention"]) == (0, 0, 0)
    assert set(frame["source"]) == {"subscriptions"}


def test_churn_rate_per_month_and_annualised(revenue):
    frame = metrics.run(revenue, "churn")
    # 1 Mar 2024: R1, R2, R3 and R4 are customers; R3 churns that day -> 1/4 = 0.25;
    # annualised 1 - 0.75^12 = 0.9683.
    march = _row(frame, month=dt.date(2024, 3, 1))
    assert (march["active_start"], march["churned"], march["churn_rate"]) == (4, 1, 0.25)
    assert march["annualised_churn"] == pytest.approx(1 - 0.75**12)
    # February: R4 signed up on 1 Feb so is not in the starting base -> 3, none churned.
    feb = _row(frame, month=dt.date(2024, 2, 1))
    assert (feb["active_start"], feb["churn_rate"]) == (3, 0)
    # Twelve months, July 2023 to June 2024, June complete (30 Jun is its last day).
    assert frame.height == 12 and frame["complete"].all()
    # SMB in March: R1 and R3 -> 1/2.
    smb = _row(metrics.run(revenue, "churn", by="segment"), group="SMB", month=dt.date(2024, 3, 1))
    assert smb["churn_rate"] == 0.5


def test_gross_and_net_revenue_retention(revenue):
    frame = metrics.run(revenue, "revenue_retention")
    trailing = _row(frame, period="trailing")
    # 30 Jun 2023 -> 30 Jun 2024: start MRR 300 (R1, R2, R3; R4 is new and left out); R1
    # contracts 100 -> 50, R3 churns 100, R2 expands 100 -> 200.
    # GRR = (300 - 50 - 100) / 300 = 0.5; NRR = (300 + 100 - 50 - 100) / 300 = 0.8333.
    assert trailing["starting_mrr"] == 300
    assert (trailing["expansion"], trailing["contraction"]) == (100, 50)
    assert trailing["churned_mrr"] == 100
    assert (trailing["grr"], trailing["nrr"]) == (0.5, pytest.approx(250 / 300))
    assert trailing["source"] == "subscriptions"
    # January 2024 alone: R1 -50, R2 +100 on 300 -> GRR 250/300, NRR 350/300.
    jan = _row(frame, period="month", start_date=dt.date(2024, 1, 1))
    assert (jan["grr"], jan["nrr"]) == (pytest.approx(250 / 300), pytest.approx(350 / 300))
    # February: R3's last paid day is 29 Feb; start 50 + 200 + 100 + 300 = 650 -> 550/650.
    feb = _row(frame, period="month", start_date=dt.date(2024, 2, 1))
    assert feb["grr"] == feb["nrr"] == pytest.approx(550 / 650)
    # Enterprise: R2 alone grows 100 -> 200: GRR is capped at 1, NRR = 2.
    ent = _row(
        metrics.run(revenue, "revenue_retention", by="segment"),
        group="Enterprise",
        period="trailing",
    )
    assert (ent["grr"], ent["nrr"]) == (1.0, 2.0)


def _with_health(path: Path, tmp_path: Path, rows: list[tuple] | None) -> Path:
    """A copy of the database with hand-made health scores, or with none at all."""
    copy = tmp_path / "scored.duckdb"
    copy_database(path, copy)
    con = duckdb.connect(str(copy))
    kind = con.execute(
        "select table_type from information_schema.tables where table_name = 'mart_account_health'"
    ).fetchall()
    if kind:  # the model step may have built it: the test needs numbers it knows
        con.execute(f"drop {'view' if kind[0][0] == 'VIEW' else 'table'} mart_account_health")
    if rows is not None:
        con.execute(
            "create table mart_account_health (account_id varchar, churn_risk double, tier varchar)"
        )
        con.executemany("insert into mart_account_health values (?, ?, ?)", rows)
    con.close()
    return copy


def test_arr_at_risk_weighted_by_churn_risk(revenue_db, tmp_path):
    scores = [
        ("R1", 0.5, "at_risk"),
        ("R2", 0.1, "healthy"),
        ("R3", 0.9, "at_risk"),
        ("R4", 0.2, "watch"),
    ]
    with db.connect(_with_health(revenue_db, tmp_path, scores)) as con:
        row = _row(metrics.run(con, "arr_at_risk"), group="All")
    # Active: R1, R2, R4 (R3 churned). ARR from the contracts running on 30 Jun, not the stale
    # accounts.arr: 12 x 50 = 600, 12 x 200 = 2400, 12 x 300 = 3600 -> 6600.
    # Weighted: 600 x 0.5 + 2400 x 0.1 + 3600 x 0.2 = 300 + 240 + 720 = 1260; on at_risk: R1 600.
    assert (row["active_accounts"], row["arr"], row["arr_at_risk"]) == (3, 6600, 1260)
    assert (row["arr_at_risk_tier"], row["accounts_at_risk"], row["note"]) == (600, 1, None)


def test_arr_at_risk_without_health_scores_is_null_with_a_note(revenue_db, tmp_path):
    with db.connect(_with_health(revenue_db, tmp_path, None)) as con:
        row = _row(metrics.run(con, "arr_at_risk"), group="All")
    assert (row["arr"], row["arr_at_risk"], row["arr_at_risk_tier"]) == (6600, None, None)
    assert "mart_account_health" in row["note"]


# --- missing tables: fall back or come back empty, never fail -----------------------------------


def test_without_subscriptions_revenue_falls_back_to_accounts_arr(bare):
    trailing = _row(metrics.run(bare, "revenue_retention"), period="trailing")
    # MRR = arr / 12 while a customer: R1, R2, R3 at 100 on 30 Jun 2023; R3 churned on 1 Mar
    # 2024 -> GRR = NRR = 200 / 300; no expansion or contraction can be seen.
    assert trailing["source"] == "accounts.arr"
    assert trailing["grr"] == trailing["nrr"] == pytest.approx(2 / 3)
    assert trailing["expansion"] == trailing["contraction"] == 0
    cohorts = metrics.run(bare, "retention_cohorts")
    assert _row(cohorts, cohort=dt.date(2023, 1, 1), months_since=12)["revenue_retention"] == 1.0
    assert set(cohorts["source"]) == {"accounts.arr"}
    # Active ARR now from accounts.arr: R1 1200 + R2 1200 + R4 3600.
    assert _row(metrics.run(bare, "arr_at_risk"), group="All")["arr"] == 6000


def test_without_user_ids_user_kpis_are_empty(bare):
    for frame in (
        metrics.run(bare, "stickiness"),
        metrics.run(bare, "stickiness_accounts"),
        metrics.run(bare, "power_users"),
        metrics.run(bare, "lifecycle"),
    ):
        assert frame.is_empty()
    # Account-level adoption still works; the user columns say "unknown", not 0.
    login = _row(metrics.run(bare, "feature_adoption"), feature="login")
    assert (login["account_share"], login["users_using"], login["user_share"]) == (1.0, None, None)
    # Journey KPIs run on the little there is.
    assert metrics.run(bare, "activation")["signups"].sum() == 4


@pytest.mark.parametrize("name", metrics.KPIS)
def test_every_kpi_has_its_columns_refreshed_or_not(name, usage):
    kpi = metrics.KPIS[name]
    # On a refreshed database, and on one that was never refreshed (nothing to read).
    assert metrics.run(usage, name, by="segment").columns == list(kpi.columns)
    with duckdb.connect(":memory:") as empty:
        frame = metrics.run(empty, name)
    assert frame.is_empty() and frame.columns == list(kpi.columns)
    # Its headline column is one of its columns, and its format reads a number.
    assert kpi.value in kpi.columns and format(0.25, kpi.format)
    # Every parameter it declares is one its SQL takes (and binds).
    assert all(f"${p}" in db.sql(kpi.sql) for p in kpi.params)


def test_every_breakdown_maps_accounts_to_groups(usage):
    # Every allow-listed breakdown runs through the one mapping; signup cohorts by month.
    for by in metrics.BREAKDOWNS:
        assert metrics.run(usage, "churn", by=by)["group"].null_count() == 0
    # U1, U2, U3 all signed up in January 2024.
    assert set(metrics.run(usage, "churn", by="cohort_month")["group"]) == {"2024-01"}
    assert set(metrics.run(usage, "churn", by="cohort_quarter")["group"]) == {"2024-Q1"}


def test_an_unknown_breakdown_or_parameter_is_refused(usage):
    with pytest.raises(ValueError, match="segment"):
        metrics.run(usage, "churn", by="segment; drop table accounts")
    with pytest.raises(TypeError, match="months"):
        metrics.run(usage, "churn", days=3)


def _counted(con, name: str, **filters) -> pl.DataFrame:
    """KPI `name` counted from the daily rows (its own SQL), not summed from stored rows."""
    text = db.sql(metrics.KPIS[name].sql)
    bound = metrics.KPIS[name].params | {"segments": None, "account_ids": None, "by": None}
    bound |= filters
    return db.run(con, text, **{k: v for k, v in bound.items() if f"${k}" in text})


@pytest.mark.parametrize("name", [n for n, k in metrics.KPIS.items() if k.stored])
def test_a_kpi_summed_from_stored_rows_is_the_one_counted_from_daily_rows(name, usage, warehouse):
    # The refresh stores 28-day counts per account (and feature); the KPI sums them when asked
    # for its default window, and gives exactly what counting the daily rows gives, for any
    # breakdown and any set of accounts (the Segments page's default comparison and a filter).
    kpi = metrics.KPIS[name]
    with db.connect(warehouse) as demo:
        some = demo.execute("select account_id from stg_accounts order by account_id limit 40")
        ids = [r[0] for r in some.fetchall()]
        for con in (usage, demo):
            for by in (None, "segment", "cohort_month"):
                for account_ids in (None, ids, []):
                    summed = metrics.run(con, name, by=by, account_ids=account_ids)
                    counted = _counted(con, name, by=by, account_ids=account_ids)
                    assert summed.schema == counted.schema
                    assert summed.equals(counted), (by, account_ids)
            assert not metrics.run(con, name).is_empty()
    # A window other than the stored one is counted from the daily rows.
    assert kpi.stored[0] != kpi.sql and all(f"${p}" in db.sql(kpi.sql) for p in kpi.params)
    assert metrics.run(usage, name, days=7).equals(_counted(usage, name, days=7))


def test_feature_outcomes_judge_expansion_only_with_contract_history(bare, revenue):
    # Expansion is observable only from subscriptions; the refresh's revenue periods say whether
    # they were loaded (without them accounts.arr stands in, and nothing can expand).
    without, with_history = feature_outcomes.compare(bare), feature_outcomes.compare(revenue)
    assert any("Expansion can't be judged" in note for note in without.notes)
    assert not any("Expansion" in note for note in with_history.notes)
    # R1, R2 and R3 signed up over 365 days before 30 Jun 2024, R4 only 150 days before: both
    # times three accounts are old enough for either outcome, whether or not it can be seen.
    assert without.judged == {"retained": 3, "expanded": 3} == with_history.judged
    assert "expanded" not in set(without.table["outcome"])
