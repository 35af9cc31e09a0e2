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
from dataclasses import dataclass

import numpy as np
import polars as pl

from health.moments.baseline import poisson_llr
from health.moments.days import Days, Level, cum, day_level
from health.moments.levels import SHIFT_SCHEMA

# The daily drop test's settings (see the module docstring), chosen on the demo and holdout
# profiles (seeds 7, 11 and 23; the field profile was never used to choose anything).
# - The CUSUMs: one per fall size in `rho` (to 40 % and to 15 % of the level), threshold `h`
#   (quasi-Poisson llr: e^16 days is ~24,000 years of a steady account between false alarms
#   under the model); a run longer than `max_days` is no longer sudden and starts again.
# - A fall is confirmed on day d when the days since its start number `min_days` or more and run
#   at most `limit` of the level (`wide_limit` when the active users fell to `users_ratio` of
#   theirs), the last `tail_days` at most `sustain_ratio` (not back), the first half at most
#   `half_limit` (a step, not a slide), against the `pre_days` before the start at most
#   `step_limit` with llr `step_penalty` or more, and it still holds without its quietest
#   `dead_days`: `rest_exposure` ordinary days left, as low as the fall, with llr `rest_llr` or
#   more of their own (a week off is not a drop; on demo and holdout this took the one-week-gap
#   false crises from 4 to 1 and moved no planted crisis, only the small accounts' calls later).
# - The start: `min_age_days` after signup (not onboarding), a level of `min_per_week` events
#   from the shortest of `baseline_days` holding `baseline_events`, the `pre_days` before it at
#   `pre_ratio` of the level or more, the baseline not sliding (its later half under
#   `min_trend` of its earlier half, or it under `min_slide` of the `ref_days` before it, either
#   with llr `trend_penalty`), and, with `holiday_index` > 0, no start in a week whose shared
#   index is under that share of a usual week (0: the daily index divides holidays out).
# - One drop per account within `refractory_days`.
DAILY_DROP = {
    "rho": (0.4, 0.15),
    "h": 16.0,
    "max_days": 84,
    "min_days": 10,
    "limit": 0.45,
    "wide_limit": 0.5,
    "users_ratio": 0.6,
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
    "holiday_index": 0.0,
    "refractory_days": 182,
    "rest_llr": 8.0,
}


def _starts_ok(lv: Level, index: np.ndarray, p: dict) -> np.ndarray:
    """Days a drop may start on: a healthy level to fall from, not a slide, not a holiday."""
    ok = lv.valid & (lv.pre >= p["pre_ratio"])
    with np.errstate(all="ignore"):
        sliding = (lv.trend < p["min_trend"]) & (lv.trend_llr >= p["trend_penalty"])
        sliding |= (lv.slide < p["min_slide"]) & (lv.slide_llr >= p["trend_penalty"])
    # The centred 7-day mean ("same" mode, but as long as the index even under 7 days).
    week = (
        np.convolve(index, np.ones(7) / 7, mode="full")[3 : 3 + len(index)] if len(index) else index
    )
    usual = np.median(week) if len(week) else 1.0
    return ok & ~sliding & (week >= p["holiday_index"] * usual)[None, :]


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


def _cusum(run: _Run, p: dict) -> list[tuple[int, int, int, float, float]]:
    """The sequential test over every day, one CUSUM per fall size in `rho` (a deep fall is
    confirmed sooner by its own): (row, start, detected, ratio, llr) per confirmed drop."""
    n, t = run.x0.shape
    rows = np.arange(n)
    seen = run.g > 0
    rhos = (p["rho"],) if isinstance(p["rho"], float) else tuple(p["rho"])
    cusum = np.zeros((len(rhos), n))
    start = np.zeros((len(rhos), n), dtype=np.int64)
    quiet_until = np.full(n, -1, dtype=np.int64)
    found = []
    for d in range(t):
        for k, rho in enumerate(rhos):
            start[k] = np.where(cusum[k] <= 0, d, start[k])
            lam, phi = run.lv.rate[rows, start[k]], run.lv.phi[rows, start[k]]
            inc = (run.x0[:, d] * np.log(rho) + lam * run.g[:, d] * (1 - rho)) / phi
            live = seen[:, d] & run.ok[rows, start[k]] & (d > quiet_until)
            cusum[k] = np.where(live, np.maximum(cusum[k] + inc, 0.0), 0.0)
            hit, ratio = _confirmed(run, cusum[k], start[k], d, p)
            for r in np.flatnonzero(hit):
                found.append((int(r), int(start[k, r]), d, float(ratio[r]), float(cusum[k, r])))
                quiet_until[r] = start[k, r] + p["refractory_days"]
            cusum[:, hit] = 0.0
            cusum[k, d - start[k] + 1 >= p["max_days"]] = 0.0  # this long is no longer sudden
    return found


def daily_drops(days: Days, index: np.ndarray, **params) -> pl.DataFrame:
    """Engagement drops on daily counts, one row per drop in the level-shift frame's shape."""
    p = {**DAILY_DROP, **params}
    e = days.events
    if e.size == 0:
        return pl.DataFrame(schema=SHIFT_SCHEMA)
    g = np.where(~np.isnan(e), np.broadcast_to(index, e.shape), 0.0)
    keys = ("baseline_days", "baseline_events", "pre_days", "min_age_days", "min_per_week")
    lv = day_level(days, g, ref_days=p["ref_days"], **{k: p[k] for k in keys})
    run = _Run(days, lv, _starts_ok(lv, index, p), g, np.nan_to_num(e), cum(e), cum(g))
    with np.errstate(all="ignore"), warnings.catch_warnings(action="ignore"):
        found = _cusum(run, p)
    out = [
        {
            "account_id": days.ids[r],
            "kind": "engagement_drop",
            "started_on": days.first_day + dt.timedelta(days=s),
            "detected_on": days.first_day + dt.timedelta(days=d),
            "metric_before": float(lv.per_week[r, s]),
            "metric_after": float(7 * np.nanmean(e[r, s : d + 1])),
            "ratio": ratio,
            "score": score,
            "weeks": (d - s + 1) // 7,
            "baseline_weeks": int(lv.days[r, s]) // 7,
        }
        for r, s, d, ratio, score in found
    ]
    return pl.DataFrame(out, schema=SHIFT_SCHEMA)
