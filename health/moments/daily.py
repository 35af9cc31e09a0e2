"""Engagement drops found on daily counts: quasi-Poisson CUSUMs against the account's own level.

A weekly test must wait for whole weeks before it can say anything; daily counts confirm a real
fall in days. Every account's daily events are read against a shared daily index (weekdays,
weekends and holidays everybody takes, relative to each account's usual level) and against its
own level before the change (health/moments/days.py). One-sided CUSUMs of the Poisson
log-likelihood ratio of "fell to `rho` of the level" against "still at the level", scaled by the
overdispersion of accounts at a similar level, grow while the counts run low and reset when they
recover; the last reset dates the change. A fall is called on the first day `d` when a CUSUM is
past `h`, the days from its start number at least `min_days`, the days since the start and the
last `tail_days` run at most `limit` and `sustain_ratio` of the level, the change was a step
from a healthy level (the weeks before it still at the level, not a slide already under way),
and it holds without its quietest week, the days outside it showing the fall on their own (a
week off is not a drop). Everything at `d` uses days up to `d` only: the moment is dated
`detected_on = d`.

How sure: the CUSUM's statistic is a log-likelihood ratio, so (Lorden's bound) a steady account
crosses a threshold `h` by chance on average no more often than once in `e^h` days under the
model; the evidence says that in account-years. Vacations and drift are heavier-tailed than the
model, so bench/moments_eval.py's false-crisis rate is the measured one.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from health.moments.baseline import poisson_llr
from health.moments.days import INDEX_LEVEL_DAYS, INDEX_PASSES, Days, Level, cum, day_level
from health.moments.levels import SHIFT_SCHEMA

# The daily drop test's settings (see the module docstring), chosen on the demo and holdout
# profiles (seeds 7, 11 and 23; the field profile was never used to choose anything).
# - The CUSUMs: one per fall size in `rho` (to 40 % and to 15 % of the level), threshold `h`
#   (quasi-Poisson llr: e^16 days is ~24,000 years of a steady account between false alarms
#   under the model); a run longer than `max_days` (10 weeks) is no longer sudden and starts
#   again: on demo and holdout the falls confirmed after 10-12 weeks were slides hovering at
#   the depth line (84 -> 70 days: 1 of 5 false crises, no planted one lost; 56 lost some).
# - A fall is confirmed on day d when the days since its start number `min_days` or more and run
#   at most `limit` of the level (`wide_limit` when the active users fell to `users_ratio` of
#   theirs: the step, half or more of them gone; 0.6 let a slide that lost a third of
#   its people through, 1 of the 7 drop false crises on demo), the last `tail_days` at most
#   `sustain_ratio` (not back), the first half at most `half_limit` (a step, not a slide),
#   against the `pre_days` before the start at most `step_limit` with llr `step_penalty` or
#   more, and it still holds without its quietest `dead_days`: `rest_exposure` ordinary days
#   left, as low as the fall, with llr `rest_llr` or more of their own (a week off is not a
#   drop; on demo and holdout this took the one-week-gap false crises from 4 to 1 and moved no
#   planted crisis, only the small accounts' calls later).
# - The start: `min_age_days` after signup (not onboarding), a level of `min_per_week` events
#   from the shortest of `baseline_days` holding `baseline_events`, the `pre_days` before it at
#   `pre_ratio` of the level or more, the baseline not sliding (its later half under
#   `min_trend` of its earlier half, or it under `min_slide` of the `ref_days` before it, either
#   with llr `trend_penalty`). (Shared holidays need no guard of their own: the daily index
#   divides them out.)
# - One drop per account within `refractory_days`.
DAILY_DROP = {
    "rho": (0.4, 0.15),
    "h": 16.0,
    "max_days": 70,
    "min_days": 10,
    "limit": 0.45,
    "wide_limit": 0.5,
    "users_ratio": 0.5,
    "tail_days": 4,
    "sustain_ratio": 0.7,
    "half_limit": 0.55,
    "step_limit": 0.55,
    "step_penalty": 10.0,
    "dead_days": 7,
    "rest_exposure": 4.5,
    "min_age_days": 84,
    "min_per_week": 3.0,
    "baseline_days": (56, 91, 140),
    "baseline_events": 80.0,
    "pre_days": 28,
    "pre_ratio": 0.7,
    "min_trend": 0.65,
    "min_slide": 0.7,
    "ref_days": 182,
    "trend_penalty": 4.0,
    "refractory_days": 182,
    "rest_llr": 8.0,
}


def _starts_ok(lv: Level, p: dict) -> np.ndarray:
    """Days a drop may start on: a healthy level to fall from, not a slide."""
    ok = lv.valid & (lv.pre >= p["pre_ratio"])
    with np.errstate(all="ignore"):
        sliding = (lv.trend < p["min_trend"]) & (lv.trend_llr >= p["trend_penalty"])
        sliding |= (lv.slide < p["min_slide"]) & (lv.slide_llr >= p["trend_penalty"])
    return ok & ~sliding


def reach(p: dict) -> int:
    """How many days before the first day it tests a resumed test reads: its trailing window.

    A CUSUM still running then started up to `max_days` - 1 days before; the level at a start
    reads its `pre_days`, the longest baseline and the `ref_days` before that; the exposure on
    those days is the daily index, which reads INDEX_PASSES * INDEX_LEVEL_DAYS days before each.
    A new setting that reaches further back belongs here."""
    run = p["max_days"] - 1
    level = p["pre_days"] + max(p["baseline_days"]) + p["ref_days"]
    return run + level + INDEX_PASSES * INDEX_LEVEL_DAYS


def _beyond_dead_week(x0, g, hit, start, d, lam, cap, phi, p) -> np.ndarray:
    """For the accounts in `hit`: does the fall hold without its quietest `dead_days`? A week
    off is not a drop; a real fall is still low on the days outside it, there must be
    `rest_exposure` ordinary days of those, and they must show the fall on their own (quasi-
    Poisson llr against the level at least `rest_llr`). The first days back after a week off
    are within chance of a fall at a small account, not at a large one: the wait grows as the
    account shrinks, and a week off is over before its rest says anything."""
    out = []
    for r in np.flatnonzero(hit):
        x, t = x0[r, start[r] : d + 1], g[r, start[r] : d + 1]
        spell = np.ones(min(p["dead_days"], len(x)))
        week_x = np.convolve(x, spell, mode="valid")
        week_t = np.convolve(t, spell, mode="valid")
        k = int(np.argmin(week_x - cap[r] * lam[r] * week_t)) if len(week_x) else 0
        rest_x, rest_t = x.sum() - week_x[k], t.sum() - week_t[k]
        mu = max(lam[r] * rest_t, 1e-12)
        llr = mu - rest_x + (rest_x * np.log(rest_x / mu) if rest_x > 0 else 0.0)
        ok = rest_t >= p["rest_exposure"] and rest_x <= cap[r] * mu
        out.append(ok and llr / phi[r] >= p["rest_llr"])
    return np.array(out, dtype=bool)


@dataclass
class _Run:
    """The arrays one pass of the daily test reads (all accounts at once)."""

    days: Days
    lv: Level
    ok: np.ndarray  # bool (accounts, days): a drop may start here
    g: np.ndarray  # exposure: the shared daily index where the account is seen, else 0
    x0: np.ndarray  # daily events, 0 where unseen
    cx: np.ndarray  # running sums of events
    cg: np.ndarray  # running sums of exposure


def _confirmed(run: _Run, cusum, start, d: int, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """Which accounts' CUSUM runs confirm a drop on day d, and the fall's ratio to the level
    (only the runs past the threshold are looked at: most days, none or a few)."""
    n = len(start)
    hit, ratio_all = np.zeros(n, dtype=bool), np.full(n, np.nan)
    rows = np.flatnonzero((cusum >= p["h"]) & (d - start + 1 >= p["min_days"]))
    if rows.size == 0:
        return hit, ratio_all
    lv, cx, cg, s = run.lv, run.cx, run.cg, start[rows]
    lam, phi = lv.rate[rows, s], lv.phi[rows, s]
    x_w, t_w = cx[rows, d + 1] - cx[rows, s], cg[rows, d + 1] - cg[rows, s]
    lo = np.maximum(d + 1 - p["tail_days"], s)
    x_tail, t_tail = cx[rows, d + 1] - cx[rows, lo], cg[rows, d + 1] - cg[rows, lo]
    ratio = x_w / np.maximum(lam * t_w, 1e-9)
    tail = x_tail / np.maximum(lam * t_tail, 1e-9)
    far, cap = ratio <= p["limit"], np.full(rows.size, p["limit"])
    days = run.days
    if days.users is not None:
        # Between `limit` and `wide_limit` (half) a fall counts when the people went with it: a
        # complete week inside the fall had at most `users_ratio` of the usual active users
        # (the step: half or more of them gone).
        left = (days.users_from[rows, d] >= s) & (
            days.users[rows, d] <= p["users_ratio"] * days.users_level[rows, s]
        )
        far |= (ratio <= p["wide_limit"]) & left
        cap = np.where(left, max(p["limit"], p["wide_limit"]), cap)
    # A step, not a slide: the days since the start are well under the weeks just before it
    # (significantly so), and already down in their first half (a slide is still going).
    step = ratio / np.maximum(lv.pre[rows, s], 1e-9)
    step_llr = poisson_llr(lv.x_pre[rows, s], lv.t_pre[rows, s], x_w, t_w) / phi
    mid = s + (d - s + 1) // 2
    x_h, t_h = cx[rows, mid] - cx[rows, s], cg[rows, mid] - cg[rows, s]
    ok = far & (tail <= p["sustain_ratio"]) & (step <= p["step_limit"])
    ok &= (step_llr >= p["step_penalty"]) & (x_h <= p["half_limit"] * lam * t_h)
    hit[rows], ratio_all[rows] = ok, ratio
    lam_all, cap_all, phi_all = np.ones(n), np.zeros(n), np.ones(n)
    lam_all[rows], cap_all[rows], phi_all[rows] = lam, cap, phi
    hit[hit] = _beyond_dead_week(run.x0, run.g, hit, start, d, lam_all, cap_all, phi_all, p)
    return hit, ratio_all


def _cusum(run: _Run, p: dict, state=None, keep_from: int | None = None):
    """The sequential test over every day, one CUSUM per fall size in `rho` (a deep fall is
    confirmed sooner by its own): (row, start, detected, ratio, llr, fall) per confirmed drop, and
    the state at the end of each day from `keep_from` on. `state`: (day, cusum, start,
    quiet_until) at the end of the day before the first to test (none: from the first day)."""
    n, t = run.x0.shape
    rows = np.arange(n)
    seen = run.g > 0
    rhos = _rhos(p)
    if state is None:
        first = 0
        cusum = np.zeros((len(rhos), n))
        start = np.zeros((len(rhos), n), dtype=np.int64)
        quiet_until = np.full(n, -1, dtype=np.int64)
    else:
        last, cusum, start, quiet_until = state
        first = last + 1
    found, kept = [], []
    for d in range(first, t):
        for k, rho in enumerate(rhos):
            start[k] = np.where(cusum[k] <= 0, d, start[k])
            lam, phi = run.lv.rate[rows, start[k]], run.lv.phi[rows, start[k]]
            inc = (run.x0[:, d] * np.log(rho) + lam * run.g[:, d] * (1 - rho)) / phi
            live = seen[:, d] & run.ok[rows, start[k]] & (d > quiet_until)
            cusum[k] = np.where(live, np.maximum(cusum[k] + inc, 0.0), 0.0)
            hit, ratio = _confirmed(run, cusum[k], start[k], d, p)
            for r in np.flatnonzero(hit):
                found.append((int(r), int(start[k, r]), d, float(ratio[r]), float(cusum[k, r]), k))
                quiet_until[r] = start[k, r] + p["refractory_days"]
            cusum[:, hit] = 0.0
            cusum[k, d - start[k] + 1 >= p["max_days"]] = 0.0  # this long is no longer sudden
        if keep_from is not None and d >= keep_from:
            kept.append((d, cusum.copy(), start.copy(), quiet_until.copy()))
    return found, kept


def _rhos(p: dict) -> tuple[float, ...]:
    return (p["rho"],) if isinstance(p["rho"], float) else tuple(p["rho"])


# The test's state at the end of a day, per account and fall size (`fall`: its place in `rho`):
# the CUSUM, the day its run started and the day the account is quiet until (refractory).
STATE_SCHEMA = {
    "day": pl.Date,
    "account_id": pl.String,
    "fall": pl.Int64,
    "cusum": pl.Float64,
    "start": pl.Date,
    "quiet_until": pl.Date,
}


def daily_drops(days: Days, index: np.ndarray, **params) -> pl.DataFrame:
    """Engagement drops on daily counts, one row per drop in the level-shift frame's shape."""
    return track(days, index, **params)[0]


def track(
    days: Days, index: np.ndarray, state: pl.DataFrame | None = None, keep_days: int = 0, **params
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The daily test on the days after `state`'s day (on every day without a state): the drops
    confirmed on them, and the state at the end of each of the last `keep_days` days.

    With a state, `days` need only hold the reach(p) days before the first day to test (see
    resume_window): everything the test reads then is what it reads on the whole history."""
    p = {**DAILY_DROP, **params}
    e = days.events
    if e.size == 0:
        return pl.DataFrame(schema=SHIFT_SCHEMA), pl.DataFrame(schema=STATE_SCHEMA)
    first = 0 if state is None else (state["day"].max() - days.first_day).days + 1
    # the levels are needed from the oldest start a running CUSUM can have
    since = max(first + 1 - p["max_days"], 0)
    g = np.where(~np.isnan(e), np.broadcast_to(index, e.shape), 0.0)
    keys = ("baseline_days", "baseline_events", "pre_days", "min_age_days", "min_per_week")
    lv = day_level(days, g, ref_days=p["ref_days"], since=since, **{k: p[k] for k in keys})
    view = _from(days, since)
    x0, cx, cg = np.nan_to_num(view.events), cum(e)[:, since:], cum(g)[:, since:]
    run = _Run(view, lv, _starts_ok(lv, p), g[:, since:], x0, cx, cg)
    start = _state_in(state, view, len(_rhos(p)))
    keep_from = max(e.shape[1] - keep_days, first) - since if keep_days else None
    with np.errstate(all="ignore"), warnings.catch_warnings(action="ignore"):
        found, kept = _cusum(run, p, start, keep_from)
    out = [drop_row(view, lv, r, s, d, ratio, score) for r, s, d, ratio, score, _ in found]
    return pl.DataFrame(out, schema=SHIFT_SCHEMA), _state_out(kept, view)


def drop_row(view: Days, lv, r: int, s: int, d: int, ratio: float, score: float) -> dict:
    """One confirmed drop as a row of the level-shift frame: account row r of `view`, started
    on day s and confirmed on day d (indices into view's days), against the level `lv`."""
    return {
        "account_id": view.ids[r],
        "kind": "engagement_drop",
        "started_on": view.first_day + dt.timedelta(days=s),
        "detected_on": view.first_day + dt.timedelta(days=d),
        "metric_before": float(lv.per_week[r, s]),
        "metric_after": float(7 * np.nanmean(view.events[r, s : d + 1])),
        "ratio": ratio,
        "score": score,
        "weeks": (d - s + 1) // 7,
        "baseline_weeks": int(lv.days[r, s]) // 7,
    }


def resume_window(state: pl.DataFrame, **params) -> dt.date:
    """The first day a test resumed from `state` reads (reach(p) days before the day it tests)."""
    p = {**DAILY_DROP, **params}
    return state["day"].max() + dt.timedelta(days=1 - reach(p))


def _from(days: Days, since: int) -> Days:
    """The days from column `since` on (the users' week starts are columns: moved with them)."""
    if since == 0:
        return days
    cut = lambda a: None if a is None else a[:, since:]  # noqa: E731 - one slice per array
    return replace(
        days,
        first_day=days.first_day + dt.timedelta(days=since),
        events=cut(days.events),
        age=cut(days.age),
        users=cut(days.users),
        users_from=None if days.users_from is None else days.users_from[:, since:] - since,
        users_level=cut(days.users_level),
    )


def _state_in(state: pl.DataFrame | None, view: Days, falls: int):
    """The stored state as arrays in the view's columns: (day, cusum, start, quiet_until); an
    account without one (new since) starts afresh, as it would have on its first day."""
    if state is None:
        return None
    day = state["day"].max()
    n = len(view.ids)
    cusum = np.zeros((falls, n))
    start = np.zeros((falls, n), dtype=np.int64)
    quiet = np.full(n, -1, dtype=np.int64)
    row_of = {a: i for i, a in enumerate(view.ids)}
    held = state.filter(pl.col("day") == day, pl.col("account_id").is_in(view.ids))
    r = np.array([row_of[a] for a in held["account_id"]], dtype=np.int64)
    k = held["fall"].to_numpy()
    col = lambda name: (held[name] - view.first_day).dt.total_days().to_numpy()  # noqa: E731
    cusum[k, r] = held["cusum"].to_numpy()
    start[k, r] = col("start")
    quiet[r] = col("quiet_until")
    return (day - view.first_day).days, cusum, start, quiet


def _state_out(kept: list, view: Days) -> pl.DataFrame:
    """The states kept at the end of days, as rows of STATE_SCHEMA."""
    frames = []
    n = len(view.ids)
    for d, cusum, start, quiet in kept:
        for k in range(cusum.shape[0]):
            frames.append(
                pl.DataFrame(
                    {
                        "day": np.full(n, d),
                        "account_id": view.ids,
                        "fall": np.full(n, k),
                        "cusum": cusum[k],
                        "start": start[k],
                        "quiet_until": quiet,
                    }
                )
            )
    if not frames:
        return pl.DataFrame(schema=STATE_SCHEMA)
    base = pl.lit(view.first_day)
    days = lambda c: base + pl.duration(days=pl.col(c))  # noqa: E731 - columns to dates
    return (
        pl.concat(frames)
        .with_columns(day=days("day"), start=days("start"), quiet_until=days("quiet_until"))
        .select([pl.col(c).cast(t) for c, t in STATE_SCHEMA.items()])
    )
