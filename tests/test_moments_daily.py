"""The daily drop test on synthetic daily counts with planted truth: a real fall is confirmed in
days, a week off, a slow slide and a shared holiday are not falls, and nothing it says about a
day depends on a later day."""

from __future__ import annotations

import datetime as dt
import io
import warnings
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from health.moments import carry
from health.moments import daily as daily_module
from health.moments.blocks import track_blocks
from health.moments.daily import daily_drops
from health.moments.days import _add_rows, build_days, daily_index, phi_band, pool_medians
from health.moments.evidence import chance, daily_drop
from health.moments.memo import Memo

START = dt.date(2024, 1, 1)  # a Monday
DAYS = 520
WEEKDAY = np.array([1.0, 1.05, 1.0, 1.0, 0.9, 0.15, 0.1])
HOLIDAY = (357, 366)  # 23 Dec to 1 Jan: everybody is off


def _rate(per_day: float, shape: np.ndarray | None = None) -> np.ndarray:
    """Expected events per day: the week's rhythm, the shared holiday, an account's own shape."""
    d = np.arange(DAYS)
    lam = per_day * WEEKDAY[d % 7] * np.where((d >= HOLIDAY[0]) & (d < HOLIDAY[1]), 0.2, 1.0)
    return lam if shape is None else lam * shape


def _town(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Thirty steady accounts of different sizes: the peers that make the shared index."""
    return {f"T{i:02d}": rng.poisson(_rate(2.0 + i)) for i in range(30)}


def _frames(counts: dict[str, np.ndarray], n_days: int = DAYS) -> tuple[pl.DataFrame, pl.DataFrame]:
    days = [START + dt.timedelta(days=int(d)) for d in range(n_days)]
    daily = pl.concat(
        pl.DataFrame({"account_id": a, "day": days[: len(c)], "events": c.astype(np.int64)}).filter(
            pl.col("events") > 0
        )
        for a, c in counts.items()
    )
    accounts = pl.DataFrame(
        {"account_id": list(counts), "signup_date": START, "churn_date": None},
        schema_overrides={"churn_date": pl.Date},
    )
    return daily, accounts


def _drops(counts: dict[str, np.ndarray], as_of: dt.date | None = None) -> pl.DataFrame:
    daily, accounts = _frames(counts)
    days = build_days(daily, accounts, as_of or START + dt.timedelta(days=DAYS - 1))
    return daily_drops(days, daily_index(days))


@pytest.fixture(scope="module")
def stories() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    d = np.arange(DAYS)
    counts = _town(rng)
    counts["DROP"] = rng.poisson(_rate(8.0, np.where(d >= 250, 0.3, 1.0)))  # a Wednesday
    counts["GAP"] = rng.poisson(_rate(8.0, np.where((d >= 240) & (d < 247), 0.0, 1.0)))
    counts["SLOW"] = rng.poisson(_rate(8.0, np.interp(d, [200, 382], [1.0, 0.35])))
    # A smaller account (about 20 a week) away for a week and slow for its first days back,
    # and one of the same size that really falls to 30 %.
    back = np.where((d >= 247) & (d < 251), 0.4, 1.0)
    counts["SMALL_GAP"] = rng.poisson(_rate(4.0, np.where((d >= 240) & (d < 247), 0.0, back)))
    counts["SMALL_DROP"] = rng.poisson(_rate(4.0, np.where(d >= 250, 0.3, 1.0)))
    return counts


@pytest.fixture(scope="module")
def found(stories) -> pl.DataFrame:
    return _drops(stories)


def _of(found: pl.DataFrame, account: str) -> pl.DataFrame:
    return found.filter(pl.col("account_id") == account)


def test_a_fall_to_30_percent_is_confirmed_within_two_weeks_and_dated_where_it_began(found):
    rows = _of(found, "DROP")
    assert rows.height == 1, found
    row = rows.row(0, named=True)
    began = START + dt.timedelta(days=250)
    assert abs((row["started_on"] - began).days) <= 3
    assert 9 <= (row["detected_on"] - row["started_on"]).days <= 16  # days, not a month
    assert 0.15 <= row["ratio"] <= 0.45


def test_a_week_off_a_slow_slide_and_the_shared_holiday_are_not_drops(found):
    assert _of(found, "GAP").is_empty()
    assert _of(found, "SLOW").is_empty()
    assert found.filter(pl.col("account_id").str.starts_with("T")).is_empty(), found


def test_a_small_account_back_slowly_after_a_week_off_is_not_a_drop_but_a_real_fall_is(found):
    # Four quiet days after a week off are within chance at twenty events a week: the days
    # outside the quietest week must show the fall on their own, so a small account waits
    # longer than a large one, and a week off is over before the wait is.
    assert _of(found, "SMALL_GAP").is_empty(), _of(found, "SMALL_GAP")
    rows = _of(found, "SMALL_DROP")
    assert rows.height == 1, found
    row = rows.row(0, named=True)
    assert abs((row["started_on"] - (START + dt.timedelta(days=250))).days) <= 3
    assert (row["detected_on"] - row["started_on"]).days <= 28


def test_what_was_called_by_a_day_does_not_change_when_later_days_arrive(stories, found):
    # As of the day the fall was confirmed, and of every day up to a week later, the calls
    # made by then are the same: the test reads nothing after the day it calls.
    called = _of(found, "DROP")["detected_on"][0]
    for later in range(0, 8, 3):
        as_of = called + dt.timedelta(days=later)
        cut = (as_of - START).days + 1
        then = _drops({a: c[:cut] for a, c in stories.items()}, as_of)
        assert then.equals(found.filter(pl.col("detected_on") <= as_of)), (as_of, then)
    before = _drops({a: c[: (called - START).days] for a, c in stories.items()}, called)
    assert _of(before, "DROP").filter(pl.col("detected_on") < called).is_empty()


def test_the_evidence_says_how_rare_such_a_fall_is_by_chance(found):
    row = _of(found, "DROP").row(0, named=True)
    text, severity = daily_drop(row)
    assert "account-years" in text and "days running" in text and "→" in text
    assert 0.5 <= severity <= 1.0
    # A stronger statistic is a rarer chance: the sentence's figure grows with it.
    assert "once in 24" in chance(16.0) and "once in a million" in chance(40.0)


@pytest.mark.parametrize("n_days", [1, 3, 6, 7])
def test_a_history_of_a_few_days_finds_no_drop_and_does_not_fail(n_days):
    # A company that started using the product last week: nothing to fall from yet.
    counts = {f"A{i}": np.full(n_days, 5 + i) for i in range(3)}
    assert _drops(counts, START + dt.timedelta(days=n_days - 1)).is_empty()


def _long_history(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Two years (longer than the test's trailing window): the town, four falls in the last
    four months, and an account that signs up in them (it has no state to resume from)."""
    n = 730
    d = np.arange(n)
    usual = WEEKDAY[d % 7] * np.where((d >= HOLIDAY[0]) & (d < HOLIDAY[1]), 0.2, 1.0)
    counts = {f"T{i:02d}": rng.poisson((2.0 + i) * usual) for i in range(30)}
    for i, (day, size) in enumerate([(610, 8.0), (622, 20.0), (640, 5.0), (660, 12.0)]):
        counts[f"D{i}"] = rng.poisson(size * usual * np.where(d >= day, 0.25, 1.0))
    counts["NEW"] = rng.poisson(6.0 * usual * (d >= 680))
    return counts


def test_resuming_from_the_kept_state_day_by_day_finds_what_a_run_over_every_day_finds():
    # Refreshes after one, two, a week's, a month's new days, and one whose last day changed:
    # each resumes from the state kept by the one before (on the trailing days only) and ends
    # with the drops and the state, bit for bit, of one run over the whole history.
    counts = _long_history(np.random.default_rng(5))
    daily, accounts = _frames(counts, n_days=730)
    week = pl.col("day") + pl.duration(days=7 - pl.col("day").dt.weekday())
    weekly = (
        daily.with_columns(week_end=week)
        .group_by("account_id", "week_end")
        .agg(active_users=pl.col("events").sum().sqrt().cast(pl.Int64))
    )
    inputs = SimpleNamespace(daily=daily, accounts=accounts, weekly=weekly)
    end = START + dt.timedelta(days=729)
    whole = Memo()
    expected = carry.daily_found(inputs, end, whole, {})
    assert expected.filter(pl.col("detected_on") > START + dt.timedelta(days=600)).height >= 3

    as_of, memo = START + dt.timedelta(days=600), Memo()
    carry.daily_found(inputs, as_of, memo, {})
    for step, last_day_changed in [(1, False), (2, False), (7, True), (1, False), (30, False)]:
        later = min(as_of + dt.timedelta(days=step), end)
        changed = as_of if last_day_changed else as_of + dt.timedelta(days=1)
        memo = Memo(memo.kept, last_as_of=as_of, changed_from=changed)
        assert carry._resumable(memo, memo.stored[carry.STATE][0], later) is not None
        found, as_of = carry.daily_found(inputs, later, memo, {}), later
    memo = Memo(memo.kept, last_as_of=as_of, changed_from=as_of + dt.timedelta(days=1))
    found = carry.daily_found(inputs, end, memo, {})
    assert found.equals(expected)
    assert _kept(memo, carry.STATE).equals(_kept(whole, carry.STATE))


def test_the_trailing_window_grows_with_the_settings_that_read_further_back():
    p = daily_module.DAILY_DROP
    base = daily_module.reach(p)
    wider = {**p, "ref_days": 365, "max_days": 100}
    assert daily_module.reach(wider) == base + (365 - p["ref_days"]) + (100 - p["max_days"])


def _kept(memo: Memo, name: str) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(memo.kept[name][1])).sort("day", "account_id", "fall")


def _varied_history() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The long history with an account that churns, one that signs up late, one that never
    used the product (no daily rows), and weekly active users beside the counts."""
    counts = _long_history(np.random.default_rng(5))
    counts["ZZ_SILENT"] = np.zeros(730, dtype=np.int64)
    daily, accounts = _frames(counts, n_days=730)
    at = lambda days: START + dt.timedelta(days=days)  # noqa: E731 - a day of the history
    accounts = accounts.with_columns(
        churn_date=pl.when(pl.col("account_id") == "T03").then(at(500)).otherwise(None),
        signup_date=pl.when(pl.col("account_id") == "T05")
        .then(at(200))
        .otherwise(pl.col("signup_date")),
    )
    week = pl.col("day") + pl.duration(days=7 - pl.col("day").dt.weekday())
    weekly = (
        daily.with_columns(week_end=week)
        .group_by("account_id", "week_end")
        .agg(active_users=pl.col("events").sum().sqrt().cast(pl.Int64))
    )
    return daily, accounts, weekly


@pytest.mark.parametrize("per_block", [1, 5, 64])
def test_the_test_block_by_block_of_accounts_is_the_test_on_the_whole_matrix(per_block):
    # A refresh runs the test a block of accounts at a time (bounded memory); the shared index
    # and the pooled overdispersion still read every account, so drops and states are the same
    # bit for bit, over every day and resumed from a state on the trailing window.
    daily, accounts, weekly = _varied_history()
    end = START + dt.timedelta(days=729)
    days = build_days(daily, accounts, end, weekly)
    whole = daily_module.track(days, daily_index(days), keep_days=7)
    cells = per_block * 730
    found, states = track_blocks(daily, accounts, end, weekly, keep_days=7, cells=cells)
    assert whole[0].height >= 3 and states.height == 7 * 2 * accounts.height
    assert found.equals(whole[0]) and states.equals(whole[1])

    mid = START + dt.timedelta(days=640)
    days = build_days(daily, accounts, mid, weekly)
    state = daily_module.track(days, daily_index(days), keep_days=1)[1]
    since = daily_module.resume_window(state)
    days = build_days(daily, accounts, end, weekly, since=since)
    whole = daily_module.track(days, daily_index(days), state, keep_days=7)
    resumed = track_blocks(daily, accounts, end, weekly, since=since, state=state, keep_days=7)
    small = track_blocks(
        daily, accounts, end, weekly, since=since, state=state, keep_days=7, cells=cells
    )
    assert whole[0].height >= 1
    for got in (resumed, small):
        assert got[0].equals(whole[0]) and got[1].equals(whole[1])


def test_the_pooled_medians_are_numpys_nanmedian_per_level_band():
    # The pool reads per day the median overdispersion of the accounts at a similar level: one
    # sort per block of days gives exactly np.nanmedian (ties, NaN, empty bands and days).
    rng = np.random.default_rng(3)
    shape = (301, 150)
    phi = np.round(rng.gamma(2.0, 1.0, shape), 1)  # rounded: many ties
    phi[rng.random(shape) < 0.05] = np.nan
    per_week = np.exp(rng.uniform(-1, 10, shape))
    per_week[rng.random(shape) < 0.05] = np.nan
    ok = rng.random(shape) < 0.7
    ok[:, :3] = False  # days nobody pools on
    pool = pool_medians(phi, per_week, ok, block=32)
    band = phi_band(per_week)
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
        np.testing.assert_array_equal(pool.overall, np.nanmedian(np.where(ok, phi, np.nan), 0))
        for b in range(13):
            inside = ok & (band == b)
            expected = np.nanmedian(np.where(inside, phi, np.nan), axis=0)
            np.testing.assert_array_equal(pool.median[b], expected)
            np.testing.assert_array_equal(pool.count[b], inside.sum(axis=0))


def test_sums_over_blocks_of_accounts_add_up_as_over_the_whole_matrix():
    # The shared index sums over accounts block by block: the sum must be the whole matrix's to
    # the last bit (added row after row), which partial sums of each block are not.
    rng = np.random.default_rng(2)
    rows = rng.random((1000, 40)) * 10.0 ** rng.integers(-3, 5, (1000, 1))  # mixed scales
    total = None
    for a in range(0, 1000, 37):
        total = _add_rows(total, rows[a : a + 37])
    np.testing.assert_array_equal(total, rows.sum(axis=0))
    partial = sum(rows[a : a + 37].sum(axis=0) for a in range(0, 1000, 37))
    assert not np.array_equal(partial, rows.sum(axis=0))
