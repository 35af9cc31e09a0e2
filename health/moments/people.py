"""Moments read from the people at a customer: the champion leaving, a wave of new users."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from health.moments.levels import WEEK, build_grid, trailing_median

CHAMPION_SCHEMA = {
    "account_id": pl.String,
    "kind": pl.String,
    "started_on": pl.Date,
    "detected_on": pl.Date,
    "champion": pl.String,
    "last_active_on": pl.Date,
    "deactivated_on": pl.Date,
    "metric_before": pl.Float64,
    "metric_after": pl.Float64,
    # A silence's rarity for the champion's own rhythm: it happens by chance about once in this
    # many years (null for a deactivation: that is known, not inferred).
    "once_in_years": pl.Float64,
}

WORKDAYS_PER_YEAR = 250


def detect_champion_left(
    silences: pl.DataFrame,
    weekly: pl.DataFrame,
    accounts: pl.DataFrame,
    as_of: dt.date,
    *,
    silence_days: int = 28,
    min_active_days: int = 8,
    min_other_events: int = 1,
    baseline_weeks: int = 8,
    holiday_weeks: pl.DataFrame | None = None,
    holiday_index: float = 0.8,
    false_per_year: float = 1e-3,
) -> pl.DataFrame:
    """Champions who stopped: deactivated, or silent for `silence_days` while colleagues go on.

    A silence must also be rare for the champion's own rhythm (`false_per_year`; 0: off): a
    champion active on a share p of the working days of the 8 weeks before misses w working
    days in a row with chance (1 - p)^w, and each of their ~250 p active days a year opens a
    silence that may run that long, so a silence is called once such a run would come by chance
    at most `false_per_year` times a year ((1 - p)^w * 250 p <= false_per_year). One who logs in
    weekly needs a longer silence than one who works in the product daily. (A bound per silence
    instead, 1e-4, gave a champion active every third working day about 8 chance calls per 1,000
    years under the model, and active days cluster more than it says: vacations, quiet weeks.)

    Every silence counts, not only the latest one, so a call once made stays made when the
    champion turns up again later (the feed is causal: it only knew the silence then). Only
    champions who were regular users count (`min_active_days` active days in the 8 weeks up to
    their last one). A deactivation is known the day it happens; a silence only once it has
    lasted `silence_days` (longer than a holiday) and the account's other users logged at
    least `min_other_events` meanwhile (so an account that stopped altogether is churn, not
    this). A week every account was off (`holiday_weeks`: week_end, index, the shared weekly
    index; weeks under `holiday_index`) does not count towards the silence: a champion who
    stops on the Friday before the year-end break and comes back after it never left.
    `silences`: int_moment_silences; `weekly`: account_id, week_end, events;
    `accounts`: account_id, churn_date.
    """
    if silences.is_empty():
        return pl.DataFrame(schema=CHAMPION_SCHEMA)
    silent_on = pl.col("last_day") + pl.duration(days=1)
    # The deactivation ends this silence only when it falls inside it.
    inside = (pl.col("deactivated_on") >= pl.col("last_day")) & (
        pl.col("next_day").is_null() | (pl.col("deactivated_on") < pl.col("next_day"))
    )
    champs = silences.with_columns(
        deact=pl.when(inside).then(pl.col("deactivated_on")),
        noticed=pl.col("last_day") + pl.duration(days=_silence(silence_days, false_per_year)),
        off=pl.lit(0),  # days of shared holiday weeks inside the silence (they say nothing)
    )
    for end in _holiday_ends(holiday_weeks, holiday_index):
        # A shared holiday week inside the silence so far pushes the day it is noticed a week on.
        during = (pl.col("last_day") < end) & (end - dt.timedelta(days=6) <= pl.col("noticed"))
        champs = champs.with_columns(
            noticed=pl.when(during).then(pl.col("noticed") + WEEK).otherwise(pl.col("noticed")),
            off=pl.col("off") + pl.when(during).then(7).otherwise(0),
        )
    deact, noticed = pl.col("deact"), pl.col("noticed")
    cand = (
        champs.filter(pl.col("active_days_8w") >= min_active_days)
        .join(accounts.select("account_id", "churn_date"), on="account_id", how="left")
        .with_columns(
            started_on=pl.min_horizontal(deact, silent_on),
            detected_on=pl.when(deact.is_not_null())
            .then(pl.min_horizontal(deact, noticed))
            .otherwise(noticed),
        )
        .filter(
            (pl.col("detected_on") <= as_of)
            # still silent on the day it is called: known then, whatever came after
            & (pl.col("next_day").is_null() | (pl.col("next_day") > pl.col("detected_on")))
            & (pl.col("churn_date").is_null() | (pl.col("churn_date") > pl.col("detected_on")))
        )
        .with_columns(key=pl.concat_str("user_id", pl.col("last_day").cast(pl.String)))
    )
    if cand.is_empty():
        return pl.DataFrame(schema=CHAMPION_SCHEMA)
    # Colleagues' activity during the silence: whole weeks after the champion's last day.
    others = (
        cand.select("account_id", "key", "last_day", "detected_on")
        .join(weekly.select("account_id", "week_end", "events"), on="account_id")
        .filter(
            (pl.col("week_end") - pl.duration(days=6) > pl.col("last_day"))
            & (pl.col("week_end") <= pl.col("detected_on"))
        )
        .group_by("account_id", "key")
        .agg(other_events=pl.col("events").sum())
    )
    before = _window_mean(cand, weekly, -baseline_weeks, 0, "metric_before")
    after = _window_mean(cand, weekly, 0, 6, "metric_after")
    cand = (
        cand.join(others, on=["account_id", "key"], how="left")
        .join(before, on=["account_id", "key"], how="left")
        .join(after, on=["account_id", "key"], how="left")
        .with_columns(pl.col("other_events").fill_null(0))
    )
    keep = pl.col("deact").is_not_null() | (pl.col("other_events") >= min_other_events)
    return (
        cand.filter(keep)
        .with_columns(kind=pl.lit("champion_left"))
        .select(
            "account_id",
            "kind",
            "started_on",
            "detected_on",
            pl.col("name").alias("champion"),
            pl.col("last_day").alias("last_active_on"),
            pl.col("deact").alias("deactivated_on"),
            "metric_before",
            "metric_after",
            once_in_years=pl.when(pl.col("deact").is_null()).then(
                _once_in_years(
                    (pl.col("detected_on") - pl.col("last_day")).dt.total_days() - pl.col("off")
                )
            ),
        )
        .sort("account_id", "started_on")
    )


def _share() -> pl.Expr:
    """The share of working days the champion was active on in the 8 weeks up to the silence."""
    return (pl.col("active_days_8w") / 40).clip(0.02, 0.98)  # 40 working days in 8 weeks


def _silence(days: int, false_per_year: float) -> pl.Expr:
    """Days of silence needed per champion: `days`, or longer for a champion who is rarely on."""
    if false_per_year <= 0:
        return pl.lit(days)
    p = _share()
    workdays = (false_per_year / (WORKDAYS_PER_YEAR * p)).log() / (1 - p).log()
    return pl.max_horizontal(pl.lit(days), (workdays * 7 / 5).ceil().cast(pl.Int64))


def _once_in_years(days: pl.Expr) -> pl.Expr:
    """How many years pass between chance silences of `days` for the champion's rhythm."""
    p = _share()
    workdays = days * 5 / 7
    return 1 / (WORKDAYS_PER_YEAR * p * (1 - p).pow(workdays))


def _holiday_ends(holiday_weeks: pl.DataFrame | None, below: float) -> list[dt.date]:
    """Week ends of the shared holiday weeks (the shared index under `below`), in order."""
    if holiday_weeks is None or holiday_weeks.is_empty():
        return []
    return holiday_weeks.filter(pl.col("index") < below).sort("week_end")["week_end"].to_list()


def _window_mean(cand, weekly, lo: int, hi: int, name: str) -> pl.DataFrame:
    """Mean weekly events in the weeks [lo, hi) around each candidate's start (negative: before)."""
    return (
        cand.select("account_id", "key", "started_on")
        .join(weekly.select("account_id", "week_end", "events"), on="account_id")
        .with_columns(k=((pl.col("week_end") - pl.col("started_on")).dt.total_days() // 7))
        .filter((pl.col("k") >= lo) & (pl.col("k") < hi))
        .group_by("account_id", "key")
        .agg(pl.col("events").mean().alias(name))
    )


WAVE_SCHEMA = {
    "account_id": pl.String,
    "kind": pl.String,
    "started_on": pl.Date,
    "detected_on": pl.Date,
    "new_users": pl.Int64,
    "expected": pl.Float64,
    "active_users": pl.Float64,
}


def detect_user_waves(
    users: pl.DataFrame,
    weekly: pl.DataFrame,
    *,
    window_weeks: int = 3,
    history_weeks: int = 26,
    min_new: int = 3,
    min_share: float = 0.25,
    penalty: float = 5.0,
    min_age_weeks: int = 12,
    refractory_weeks: int = 26,
) -> pl.DataFrame:
    """Waves of new users: many more first-time users within `window_weeks` than usual.

    A wave starts in a week with a new user and is confirmed at the first week of the window
    where the new users reach `min_new` and `min_share` of the usual active users, and their
    count is improbable under the account's own rate of new users over `history_weeks`
    (Poisson log-likelihood ratio at least `penalty`). A user joins when created (else at their
    first activity), so invited users who only now get going are not new. Weeks missing from
    `weekly` (before an export began) are unseen, not idle. `users`:
    account_id, joined_on (int_moment_users);
    `weekly`: account_id, week_end, age_weeks, active_users.
    """
    if users.is_empty() or weekly.is_empty():
        return pl.DataFrame(schema=WAVE_SCHEMA)
    grid = build_grid(weekly.select("account_id", "week_end", "age_weeks", events="active_users"))
    first = grid.week_end[0] - WEEK + dt.timedelta(days=1)
    rows = {a: i for i, a in enumerate(grid.ids)}
    joined = users.filter(
        pl.col("joined_on").is_not_null() & pl.col("account_id").is_in(grid.ids)
    ).with_columns(col=((pl.col("joined_on") - first).dt.total_days() // 7))
    new = np.zeros_like(grid.events)
    r = np.array([rows[a] for a in joined["account_id"].to_list()], dtype=np.int64)
    c = joined["col"].to_numpy()
    ok = (c >= 0) & (c < new.shape[1])
    np.add.at(new, (r[ok], c[ok]), 1)
    # Onboarding is everybody's first day: the usual rate of new users is counted after it. An
    # export that starts after the signup shows every user already there as new in its first
    # weeks: new users are counted only once the account has been seen for as long.
    seen = np.cumsum(~np.isnan(grid.events), axis=1)
    settled = (grid.age >= min_age_weeks) & (seen > min_age_weeks)
    new = np.where(settled, new, 0.0)
    zero = np.zeros((new.shape[0], 1))
    cum = np.concatenate([zero, np.cumsum(new, axis=1)], axis=1)
    weeks_seen = np.concatenate([zero, np.cumsum(settled, axis=1)], axis=1)
    n_weeks = new.shape[1]
    s = np.arange(n_weeks)
    back = np.maximum(s - history_weeks, 0)
    hist = cum[:, s] - cum[:, back]
    span = np.maximum(weeks_seen[:, s] - weeks_seen[:, back], 1)
    # A floor on the usual rate (one new user a year): a first join after quiet is not a wave.
    rate = np.maximum(hist / span, 1 / 52)
    active = trailing_median(grid.events, 8)
    found = np.full(new.shape, -1)
    for j in range(window_weeks):  # the week of the window at which the wave is first confirmed
        end = np.minimum(s + j + 1, n_weeks)
        count = cum[:, end] - cum[:, s]
        expected = rate * (j + 1)
        llr = np.where(
            count > expected,
            count * np.log(np.maximum(count, 1e-9) / expected) - (count - expected),
            0,
        )
        with np.errstate(invalid="ignore"):
            hit = (
                (count >= min_new)
                & (count >= min_share * active)
                & (llr >= penalty)
                & settled
                & (new > 0)
                & (s + j < n_weeks)
            )
        found = np.where((found < 0) & hit, j, found)
    out = []
    last: dict[int, int] = {}
    rows, cols = np.nonzero(found >= 0)
    order = np.lexsort((cols, cols + found[rows, cols], rows))  # by account, then detection
    for a, w in zip(rows[order], cols[order], strict=True):
        if a in last and abs(w - last[a]) < refractory_weeks:
            continue
        last[a] = w
        j = int(found[a, w])
        out.append(
            {
                "account_id": grid.ids[a],
                "kind": "expansion",
                "started_on": grid.week_end[w] - WEEK + dt.timedelta(days=1),
                "detected_on": grid.week_end[w + j],
                "new_users": int(cum[a, w + j + 1] - cum[a, w]),
                "expected": float(rate[a, w] * (j + 1)),
                "active_users": float(active[a, w]),
            }
        )
    return pl.DataFrame(out, schema=WAVE_SCHEMA)
