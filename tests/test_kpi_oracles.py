"""Every KPI against an oracle: the same definition computed another way, on any day of a month.

Forty-odd accounts are drawn at random (signups on every day of the month, the 29th to 31st
included; churns; contracts that grow, shrink and end; users and features), loaded and built by
the refresh's own steps as of a month's last day, the middle of a month and the day after a
month end. Each KPI of health.analytics.metrics is then recomputed from the planted accounts:
logo retention by lifelines' Kaplan-Meier, the rest in plain Python, sharing nothing with the SQL.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from lifelines import KaplanMeierFitter

from health import db
from health.analytics import metrics, segments
from health.db import copy as copy_database
from health.ingest.loader import load
from health.pipeline.refresh import STEPS, run_steps
from tests.folders import make_folder

DAY = dt.timedelta(days=1)
LAST = dt.date(2024, 7, 1)  # the latest as-of date; nothing is drawn after it
AS_OF = {
    "month end": dt.date(2024, 5, 31),
    "mid-month": dt.date(2024, 6, 14),
    "day after a month end": LAST,
}
SEGMENTS = ("SMB", "Mid-market", "Enterprise")
# The refresh's own steps, less scoring, moments and actions, which no KPI reads: health scores
# are planted instead, so ARR at risk is checked against risks the test knows.
UNREAD = {
    "refresh_model",
    "refresh_scores",
    "refresh_moments",
    "refresh_stage",
    "refresh_actions",
}
KPI_STEPS = [s for s in STEPS if s.split(":")[-1] not in UNREAD]
EDGE_DAYS = (1, 15, 30, 31, 1, 14, 29, 31)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole calendar months, clamped to the last day of a shorter month."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(eq=False)  # one account is one object: hashable by identity
class Account:
    """One planted account: what the data says, and the milestones planted in its events."""

    account_id: str
    segment: str
    signup: dt.date
    churn: dt.date | None
    arr: float | None  # accounts.arr, used when it has no contract
    periods: list[tuple[dt.date, dt.date | None, float]]  # contracts: start, last day, MRR
    first_value: dt.date  # its first report
    activates: dt.date | None  # the day two users use every core feature
    risk: float | None  # its planted churn risk (None: not scored)
    user_days: set[tuple[str, dt.date]] = field(default_factory=set)


def _draw(rng: random.Random, i: int) -> Account:
    """One account with a random life: signup, maybe churn, contracts, milestones, usage."""
    # Some sign up or churn between the as-of dates, so each date sees a different company.
    recent = rng.random() < 0.2
    signup = LAST - dt.timedelta(days=rng.randrange(0, 60) if recent else rng.randrange(60, 900))
    # Two planted cohorts (January 2023 and 2022, months of 31 days before a short one) whose
    # members sign up on the days where the as-of day or a month's length decides who is old
    # enough for their newest month.
    if i < len(EDGE_DAYS):
        signup = dt.date(2023 - i // 4, 1, EDGE_DAYS[i])
    churn = signup + dt.timedelta(days=rng.randrange(20, 700)) if rng.random() < 0.45 else None
    if churn is None and rng.random() < 0.2:
        churn = max(LAST - dt.timedelta(days=rng.randrange(0, 45)), signup + DAY)
    churn = churn if churn and churn <= LAST + dt.timedelta(days=60) else None
    end = min(churn - DAY, LAST) if churn else LAST  # the last day it can use the product
    mrr = float(rng.choice((50, 100, 250, 400)))
    periods: list[tuple[dt.date, dt.date | None, float]] = []
    start = signup
    change = signup + dt.timedelta(days=rng.randrange(30, 600))
    if rng.random() < 0.5 and change < (churn or LAST):
        # Exports disagree whether a period ends the day before the next starts or on it.
        periods.append((start, change - DAY if rng.random() < 0.5 else change, mrr))
        start, mrr = change, mrr * rng.choice((0.5, 2.0))
    periods.append((start, churn - DAY if churn else None, mrr))
    first_value = signup + dt.timedelta(days=rng.randrange(0, 20))
    activates = first_value + dt.timedelta(days=rng.randrange(0, 70))
    account = Account(
        f"K{i:02d}", SEGMENTS[i % 2] if i < len(EDGE_DAYS) else rng.choice(SEGMENTS), signup, churn,
        12 * mrr if rng.random() < 0.5 else None,
        periods if rng.random() < 0.85 else [],
        first_value, activates if rng.random() < 0.8 else None,
        rng.random() if rng.random() < 0.9 else None,
    )  # fmt: skip
    # A main user every 3 days; up to three others on random days of its last 40 days.
    account.user_days |= {("u1", d) for d in _span(signup, end, 3)}
    for user in ("u2", "u3", "u4")[: rng.randrange(0, 4)]:
        account.user_days |= {
            (user, end - dt.timedelta(days=rng.randrange(0, 40))) for _ in range(rng.randrange(9))
        }
    return account


def _span(first: dt.date, last: dt.date, step: int) -> list[dt.date]:
    return [first + dt.timedelta(days=k) for k in range(0, (last - first).days + 1, step)]


def _events(a: Account) -> list[dict]:
    """Its events: logins, the first report (first value), the activation day, nothing later."""
    last = min(a.churn - DAY, LAST) if a.churn else LAST
    rows = [(u, d, "login") for u, d in sorted(a.user_days) if d <= last]
    if a.first_value <= last:
        rows.append(("u1", a.first_value, "report"))
    if a.activates and a.activates <= last:
        rows += [("u1", a.activates, "report"), ("u2", a.activates, "dashboard")]
        rows += [("u2", a.activates, "login")]
    # User ids are unique across accounts (the contract's users.user_id).
    return [
        {"account_id": a.account_id, "event_time": f"{d}T12:00:00", "event": e,
         "user_id": f"{a.account_id}-{u}"}
        for u, d, e in rows
    ]  # fmt: skip


@pytest.fixture(scope="module")
def planted() -> list[Account]:
    rng = random.Random(20240614)
    return [_draw(rng, i) for i in range(44)]


@pytest.fixture(scope="module", params=list(AS_OF), ids=list(AS_OF))
def day(request, planted, tmp_path_factory):
    """(as-of date, connection) for each as-of date: one load, one refresh per date."""
    root = tmp_path_factory.getbasetemp() / "oracles"
    base = root / "loaded.duckdb"
    if not base.exists():
        root.mkdir(exist_ok=True)
        folder = make_folder(
            root,
            accounts=[
                {"account_id": a.account_id, "signup_date": a.signup.isoformat(),
                 "segment": a.segment, "churn_date": a.churn and a.churn.isoformat(),
                 "arr": a.arr}
                for a in planted
            ],
            events=[e for a in planted for e in _events(a)],
            subscriptions=[
                {"account_id": a.account_id, "start_date": s.isoformat(),
                 "end_date": e and e.isoformat(), "mrr": m}
                for a in planted for s, e, m in a.periods
            ],
        )  # fmt: skip
        load(folder, base)
    as_of = AS_OF[request.param]
    path = root / f"{as_of}.duckdb"
    copy_database(base, path)
    with db.writing(path) as con:
        run_steps(con, as_of, KPI_STEPS)
        con.execute(
            "create table mart_account_health (account_id varchar, churn_risk double, tier varchar)"
        )
        con.executemany(
            "insert into mart_account_health values (?, ?, ?)",
            [(a.account_id, a.risk, tier(a.risk)) for a in planted if a.risk is not None],
        )
    with db.connect(path) as con:
        yield as_of, con


def tier(risk: float) -> str:
    return "at_risk" if risk >= 0.6 else "watch" if risk >= 0.3 else "healthy"


def known(accounts: list[Account], as_of: dt.date) -> list[tuple[Account, dt.date | None]]:
    """The accounts signed up by the as-of date, each with its churn as known then."""
    return [(a, a.churn if a.churn and a.churn <= as_of else None) for a in accounts
            if a.signup <= as_of]  # fmt: skip


def rows(frame, *keys: str) -> dict:
    """A frame's rows by the values of `keys`."""
    return {tuple(r[k] for k in keys): r for r in frame.to_dicts()}


# --- retention: lifelines' Kaplan-Meier -----------------------------------------------------------


def lifetimes(accounts, as_of):
    """Per account: whole months as a customer (its signup anniversaries) and whether it churned.

    A customer on an anniversary has not churned by that day; an account lost by anniversary m
    is an event at m; one still a customer on its last anniversary by the as-of date is censored.
    """
    out = []
    for a, churn in known(accounts, as_of):
        m = 0
        while add_months(a.signup, m + 1) <= as_of and not (
            churn and churn <= add_months(a.signup, m)
        ):
            m += 1
        lost = churn is not None and churn <= add_months(a.signup, m)
        out.append((a, m, lost))
    return out


def kaplan_meier(lives) -> KaplanMeierFitter:
    return KaplanMeierFitter().fit([m for _, m, _ in lives], [lost for _, _, lost in lives])


def test_logo_retention_is_kaplan_meier_on_any_day(day, planted):
    as_of, con = day
    cohorts = metrics.run(con, "retention_cohorts", by="segment")
    curve = segments.pooled_retention(cohorts, min_accounts=1)
    lives = lifetimes(planted, as_of)
    for segment in SEGMENTS:
        mine = [life for life in lives if life[0].segment == segment]
        km = kaplan_meier(mine)
        got = curve.filter(group=segment).sort("months_since")
        months = got["months_since"].to_list()
        # The curve runs to the oldest account's last anniversary, month by month.
        oldest = min(a.signup for a, _, _ in mine)
        assert months == [m for m in range(len(months) + 1) if add_months(oldest, m) <= as_of]
        expected = km.survival_function_at_times(months).to_list()
        assert got["logo_retention"].to_list() == pytest.approx(expected, abs=1e-12)
        # At risk in month m: accounts with at least m whole months, as lifelines counts them.
        assert got["at_risk"].to_list() == [sum(m >= k for _, m, _ in mine) for k in months]


def test_each_cohorts_retention_is_its_own_kaplan_meier(day, planted):
    as_of, con = day
    got = rows(metrics.run(con, "retention_cohorts"), "cohort", "months_since")
    by_cohort = defaultdict(list)
    for life in lifetimes(planted, as_of):
        by_cohort[life[0].signup.replace(day=1)].append(life)
    for cohort, lives in by_cohort.items():
        months = list(range(max(m for _, m, _ in lives) + 1))
        expected = kaplan_meier(lives).survival_function_at_times(months).to_list()
        assert [got[(cohort, m)]["logo_retention"] for m in months] == pytest.approx(
            expected, abs=1e-12
        )
        # Each month's row counts the accounts old enough to have reached it.
        assert [got[(cohort, m)]["accounts"] for m in months] == [
            sum(add_months(a.signup, m) <= as_of for a, _, _ in lives) for m in months
        ]


# --- churn, revenue retention, ARR at risk: plain Python -----------------------------------------


def test_churn_rate_per_month(day, planted):
    as_of, con = day
    got = rows(metrics.run(con, "churn", by="segment"), "group", "month")
    accounts = known(planted, as_of)
    for k in range(12):
        month = add_months(as_of.replace(day=1), -k)
        following = add_months(month, 1)
        for segment in SEGMENTS:
            # Active at the start: signed up before it and not churned by the day before.
            active = [
                churn for a, churn in accounts
                if a.segment == segment and a.signup < month and (churn is None or churn >= month)
            ]  # fmt: skip
            churned = sum(churn is not None and churn < following for churn in active)
            row = got[(segment, month)]
            assert (row["active_start"], row["churned"]) == (len(active), churned)
            assert row["churn_rate"] == (churned / len(active) if active else None)
            assert row["complete"] == (following <= as_of + DAY)


def mrr_on(a: Account, on: dt.date) -> float:
    """An account's MRR on a day: the contracts running then (ends inclusive)."""
    total = 0.0
    for start, end, mrr in a.periods:
        # A period ending on the day the next one starts ends the day before.
        if end is not None and any(s == end and s > start for s, _, _ in a.periods):
            end -= DAY
        if start <= on and (end is None or end >= on):
            total += mrr
    return total


def test_gross_and_net_revenue_retention(day, planted):
    as_of, con = day
    got = rows(metrics.run(con, "revenue_retention"), "period", "start_date")
    windows = [("trailing", add_months(as_of, -12), as_of)]
    for k in range(12):
        month = add_months(as_of.replace(day=1), -k)
        windows.append(("month", month, min(add_months(month, 1), as_of)))
    accounts = [a for a, _ in known(planted, as_of)]
    for period, start, end in windows:
        pairs = [(mrr_on(a, start), mrr_on(a, end)) for a in accounts]
        paying = [(s, e) for s, e in pairs if s > 0]
        starting = sum(s for s, _ in paying)
        expansion = sum(e - s for s, e in paying if e > s)
        contraction = sum(s - e for s, e in paying if 0 < e < s)
        churned = sum(s for s, e in paying if e == 0)
        row = got[(period, start)]
        assert row["end_date"] == end
        assert row["starting_mrr"] == pytest.approx(starting)
        assert (row["expansion"], row["contraction"], row["churned_mrr"]) == pytest.approx(
            (expansion, contraction, churned)
        )
        assert row["grr"] == pytest.approx(min((starting - contraction - churned) / starting, 1))
        assert row["nrr"] == pytest.approx(
            (starting + expansion - contraction - churned) / starting
        )


def test_arr_at_risk(day, planted):
    as_of, con = day
    got = rows(metrics.run(con, "arr_at_risk", by="segment"), "group")
    for segment in SEGMENTS:
        active = [a for a, churn in known(planted, as_of) if a.segment == segment and not churn]
        # ARR: the contracts running on the as-of date, else accounts.arr, else nothing.
        arr = {
            a: 12 * mrr_on(a, as_of)
            if any(s <= as_of and (e is None or e >= as_of) for s, e, _ in a.periods)
            else (a.arr or 0.0)
            for a in active
        }
        row = got[(segment,)]
        assert (row["active_accounts"], row["arr"]) == (
            len(active),
            pytest.approx(sum(arr.values())),
        )
        at_risk = [a for a in arr if a.risk is not None and tier(a.risk) == "at_risk"]
        assert row["accounts_at_risk"] == len(at_risk)
        assert row["arr_at_risk_tier"] == pytest.approx(sum(arr[a] for a in at_risk))
        # Weighted by churn risk; an account without a score adds nothing.
        scored = [a for a in arr if a.risk is not None]
        weighted = sum(arr[a] * a.risk for a in scored)
        assert row["arr_at_risk"] == (pytest.approx(weighted) if scored else None)
        assert row["note"] is None


# --- activation, time to value, stickiness: plain Python ------------------------------------------


def week_end(day: dt.date, as_of: dt.date) -> dt.date:
    """The end of the calendar week holding `day`: its Sunday, or the as-of date (week to date)."""
    return min(day + dt.timedelta(days=6 - day.weekday()), as_of)


def test_activation_rate_per_cohort(day, planted):
    as_of, con = day
    got = rows(metrics.run(con, "activation"), "cohort")
    cohorts = defaultdict(list)
    for a, churn in known(planted, as_of):
        last = min(churn - DAY, as_of) if churn else as_of
        # Activated at the end of the week in which two users first used every core feature.
        took = (
            (week_end(a.activates, as_of) - a.signup).days
            if a.activates and a.activates <= last
            else None
        )
        cohorts[a.signup.replace(day=1)].append((a.signup + dt.timedelta(days=30) <= as_of, took))
    assert set(got) == {(c,) for c in cohorts}
    for cohort, members in cohorts.items():
        eligible = [took for closed, took in members if closed]
        within = sum(took is not None and took <= 30 for took in eligible)
        activated = sum(took is not None for _, took in members)
        row = got[(cohort,)]
        assert (row["signups"], row["eligible"], row["activated_within"]) == (
            len(members), len(eligible), within,
        )  # fmt: skip
        assert row["activation_rate"] == (within / len(eligible) if eligible else None)
        assert row["activated"] == activated
        assert row["activation_rate_overall"] == activated / len(members)


def p90(values: list[int]) -> float:
    """The 90th percentile, interpolating between the two nearest ranks."""
    ranked, pos = sorted(values), 0.9 * (len(values) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ranked) - 1)
    return ranked[low] + (pos - low) * (ranked[high] - ranked[low])


def test_time_to_value(day, planted):
    as_of, con = day
    got = rows(metrics.run(con, "time_to_value", by="segment"), "group", "cohort")
    for segment in SEGMENTS:
        groups = defaultdict(list)
        for a, churn in known(planted, as_of):
            if a.segment != segment:
                continue
            last = min(churn - DAY, as_of) if churn else as_of
            took = (a.first_value - a.signup).days if a.first_value <= last else None
            groups[a.signup.replace(day=1)].append(took)
            groups[None].append(took)
        for cohort, took in groups.items():
            reached = [t for t in took if t is not None]
            row = got[(segment, cohort)]
            assert (row["accounts"], row["reached"]) == (len(took), len(reached))
            assert row["median_days"] == (statistics.median(reached) if reached else None)
            assert row["p90_days"] == (pytest.approx(p90(reached)) if reached else None)


def test_stickiness_dau_over_mau(day, planted):
    as_of, con = day
    got = rows(metrics.run(con, "stickiness", by="segment"), "group")
    per_account = rows(metrics.run(con, "stickiness_accounts"), "account_id")
    window = as_of - dt.timedelta(days=28)
    for segment in SEGMENTS:
        seen = {}
        for a, _ in known(planted, as_of):
            if a.segment == segment:
                days = {(u, d) for u, d in _user_days(a) if window < d <= as_of}
                seen[a.account_id] = days
                if days:  # DAU/MAU of the account: mean daily users / users in the 28 days
                    mine = per_account[(a.account_id,)]
                    users = {u for u, _ in days}
                    assert (mine["active_days"], mine["mau"]) == (
                        len({d for _, d in days}),
                        len(users),
                    )
                    assert mine["dau_mau"] == pytest.approx(len(days) / 28 / len(users))
                else:
                    assert (a.account_id,) not in per_account
        user_days = [(i, u, d) for i, days in seen.items() for u, d in days]
        if not user_days:
            assert (segment,) not in got
            continue
        users = {(i, u) for i, u, _ in user_days}
        row = got[(segment,)]
        assert (row["active_accounts"], row["mau"]) == (
            len({i for i, _, _ in user_days}),
            len(users),
        )
        assert row["dau_mau"] == pytest.approx(len(user_days) / 28 / len(users))


def _user_days(a: Account) -> set[tuple[str, dt.date]]:
    """The (user, day) pairs with an event, read back from its planted events."""
    return {(e["user_id"], dt.date.fromisoformat(e["event_time"][:10])) for e in _events(a)}
