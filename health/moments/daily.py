"""Engagement drops found on daily counts: a quasi-Poisson CUSUM against the account's own level.

A weekly test must wait for whole weeks before it can say anything; daily counts confirm a real
fall in days. Every account's daily events are read against a shared daily index (weekdays,
weekends and holidays everybody takes, relative to each account's usual level) and against its
own level before the change. A one-sided CUSUM of the Poisson log-likelihood ratio of "fell to
`rho` of the level" against "still at the level", scaled by the overdispersion of accounts at a
similar level, grows while the counts run low and resets when they recover; its last reset
dates the change. A fall is called on the first day `d` when the CUSUM is past `h`, the days
from its start number at least `min_days` (so a single dead week cannot be called until it is
over and has failed to come back), the days since the start and the last `tail_days` run at
most `limit` and `sustain_ratio` of the level, and the change was a step from a healthy level
(the two weeks before it still at the level, not a slide already under way). Everything at `d`
uses days up to `d` only: the moment is dated `detected_on = d`.

How sure: the CUSUM's statistic is a log-likelihood ratio, so (Lorden's bound) a steady account
crosses a threshold `h` by chance on average no more often than once in `e^h` days; the evidence
says that in account-years.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

from health.moments.levels import SHIFT_SCHEMA


@dataclass(frozen=True)
class Days:
    """Daily events as a dense matrix: one row per account, one column per day (oldest first)."""

    ids: list[str]
    first_day: dt.date
    events: np.ndarray  # float (accounts, days); NaN outside the account's observed life
    age: np.ndarray  # int (accounts, days): days since signup


def build_days(daily: pl.DataFrame, accounts: pl.DataFrame, as_of: dt.date) -> Days:
    """The matrix form of the daily counts (account_id, day, events) over each account's life:
    from signup (or the export's first day) to the day before churn, up to `as_of`."""
    daily = daily.filter(pl.col("day") <= as_of)
    if daily.is_empty() or accounts.is_empty():
        return Days([], as_of, np.zeros((0, 0)), np.zeros((0, 0), dtype=np.int64))
    first = daily["day"].min()
    n_days = (as_of - first).days + 1
    acc = accounts.select("account_id", "signup_date", "churn_date").sort("account_id")
    ids = acc["account_id"].to_list()
    row_of = {a: i for i, a in enumerate(ids)}
    col = np.arange(n_days)
    signup = np.array([(d - first).days for d in acc["signup_date"]])
    churn = np.array([n_days if d is None else (d - first).days for d in acc["churn_date"]])
    alive = (col[None, :] >= np.maximum(signup, 0)[:, None]) & (col[None, :] < churn[:, None])
    events = np.where(alive, 0.0, np.nan)
    keep = daily.filter(pl.col("account_id").is_in(ids))
    r = np.array([row_of[a] for a in keep["account_id"]], dtype=np.int64)
    c = (keep["day"] - first).dt.total_days().to_numpy()
    events[r, c] = np.where(alive[r, c], keep["events"].cast(pl.Float64).to_numpy(), np.nan)
    return Days(ids, first, events, col[None, :] - signup[:, None])


def _cum(x: np.ndarray) -> np.ndarray:
    """Running sums along days with a leading zero column (NaN counts as 0)."""
    zero = np.zeros((x.shape[0], 1))
    return np.concatenate([zero, np.cumsum(np.nan_to_num(x), axis=1)], axis=1)


def _between(cum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums over columns [lo, hi) of each row from its running sums (lo, hi clipped to range)."""
    n = cum.shape[1] - 1
    rows = np.arange(cum.shape[0])[:, None] if lo.ndim == 2 else np.arange(cum.shape[0])
    return cum[rows, np.clip(hi, 0, n)] - cum[rows, np.clip(lo, 0, n)]


def daily_index(
    days: Days, *, level_days: int = 56, min_age_days: int = 84, min_accounts: int = 20
):
    """Each day's usage across accounts relative to their usual daily level (1 = an average day).

    It carries the week's rhythm and every shared holiday, so neither is anyone's drop. Each
    account's level is its rate over the `level_days` before the day (causal), itself read
    against the index of those days: the first pass's levels are low after a holiday, which
    would make every ordinary day after it look busy, so a second pass divides that out.
    """
    e = days.events
    n, t = e.shape
    if n == 0:
        return np.ones(t)
    seen = ~np.isnan(e)
    cx, cn = _cum(e), _cum(seen)
    col = np.broadcast_to(np.arange(t), e.shape)
    x, k = _between(cx, col - level_days, col), _between(cn, col - level_days, col)
    index = np.ones(t)
    for _ in range(2):
        g = _between(_cum(np.where(seen, index[None, :], 0.0)), col - level_days, col)
        level = np.where(k == level_days, x / np.maximum(g, 1e-9), np.nan)
        ok = (days.age >= min_age_days) & (level > 0) & seen
        num = np.where(ok, e, 0).sum(axis=0)
        den = np.where(ok, level, 0).sum(axis=0)
        enough = (ok.sum(axis=0) >= min_accounts) & (den > 0)
        index = np.clip(np.where(enough, num / np.maximum(den, 1e-9), 1.0), 0.02, 5.0)
    return index


@dataclass(frozen=True)
class Level:
    """Per account and candidate start day s: the level before s and the guards on it."""

    rate: np.ndarray  # events per unit of exposure over the baseline days
    per_week: np.ndarray  # mean raw weekly events over the baseline days
    days: np.ndarray  # int: baseline length used
    phi: np.ndarray  # overdispersion, shrunk towards accounts at a similar level
    pre: np.ndarray  # rate of the `pre_days` just before s over the baseline rate
    trend: np.ndarray  # baseline's later half over its earlier half
    trend_llr: np.ndarray  # quasi-Poisson llr of that difference
    slide: np.ndarray  # baseline rate over the rate of the `ref_days` before the baseline
    slide_llr: np.ndarray  # quasi-Poisson llr of that difference
    x_pre: np.ndarray  # events over the `pre_days` just before s
    t_pre: np.ndarray  # their exposure
    valid: np.ndarray  # bool: a full baseline and pre window, account old enough, level to leave


def _llr(x1, t1, x2, t2):
    """Log-likelihood ratio of two Poisson rates against one (counts x over exposures t)."""

    def xlogy(x, y):
        return np.where(x > 0, x * np.log(np.maximum(y, 1e-12)), 0.0)

    pooled = (x1 + x2) / np.maximum(t1 + t2, 1e-12)
    return (
        xlogy(x1, x1 / np.maximum(t1, 1e-12))
        + xlogy(x2, x2 / np.maximum(t2, 1e-12))
        - xlogy(x1 + x2, pooled)
    )


def _pooled(phi: np.ndarray, per_week: np.ndarray, ok: np.ndarray, min_accounts: int = 10):
    """Each account's overdispersion shrunk half-way (geometric mean) towards that day's median
    of accounts whose level is within a doubling of its own (all accounts when a band holds
    fewer than `min_accounts`); only that day's baselines go in, so it stays causal."""
    band = np.floor(np.log2(np.maximum(np.nan_to_num(per_week, nan=1.0), 1.0))).astype(np.int64)
    band = np.minimum(band, 12)
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
        overall = np.nanmedian(np.where(ok, phi, np.nan), axis=0)
        out = np.broadcast_to(np.nan_to_num(overall, nan=1.0), phi.shape).copy()
        for b in np.unique(band[ok]):
            inside = ok & (band == b)
            med = np.nanmedian(np.where(inside, phi, np.nan), axis=0)
            use = (band == b) & (inside.sum(axis=0) >= min_accounts)[None, :]
            out[use] = np.broadcast_to(med, phi.shape)[use]
    return np.maximum(1.0, np.sqrt(np.maximum(phi, 1.0) * np.maximum(out, 1.0)))


def day_level(
    days: Days,
    g: np.ndarray,
    *,
    baseline_days: tuple[int, ...],
    baseline_events: float,
    pre_days: int,
    min_age_days: int,
    min_per_week: float,
    ref_days: int,
) -> Level:
    """The account's level before every day s: the shortest `baseline_days` window (ending
    `pre_days` before s) that holds `baseline_events` events, else the longest its life allows."""
    e = days.events
    seen = ~np.isnan(e)
    cx, cg, cn = _cum(e), _cum(np.where(seen, g, 0.0)), _cum(seen)
    # Counts are overdispersed at the week's scale (a busy week, a user's week off), not just
    # the day's: the dispersion is read on 7-day sums, so a quiet week weighs what it should.
    x7, t7 = (c[:, 7:] - c[:, :-7] for c in (cx, cg))
    pad = np.zeros((e.shape[0], 6))
    x7, t7 = np.concatenate([pad, x7], axis=1), np.concatenate([pad, t7], axis=1)
    c7x, c7t = _cum(x7), _cum(t7)
    c7q = _cum(np.where(t7 > 0.05, x7 * x7 / np.maximum(t7, 0.05), 0.0))
    s = np.broadcast_to(np.arange(e.shape[1]), e.shape)
    hi = s - pre_days
    pick = None
    for length in sorted(baseline_days):
        lo = hi - length
        x, t = _between(cx, lo, hi), _between(cg, lo, hi)
        full = (_between(cn, lo, hi) == length) & (lo >= 0)
        cand = (x, t, lo, np.full(e.shape, length), full)
        if pick is None:
            pick = cand
        else:
            take = full & ~((pick[0] >= baseline_events) & pick[4])
            pick = tuple(np.where(take, c, p) for c, p in zip(cand, pick, strict=True))
    x, t, lo, length, full = pick
    with np.errstate(all="ignore"):
        rate = x / np.maximum(t, 1e-9)
        # Pearson's dispersion of the baseline days around the account's rate.
        # Pearson's dispersion of the 7-day sums inside the baseline around the account's rate.
        w_lo = lo + 6
        q, sx, st = (_between(c, w_lo, hi) for c in (c7q, c7x, c7t))
        m = np.maximum(hi - w_lo - 1, 1)
        pearson = q / np.maximum(rate, 1e-9) - 2 * sx + rate * st
        phi = np.where(rate > 0, pearson / m, 1.0)
        per_week = 7 * x / np.maximum(length, 1)
        x_pre, t_pre = _between(cx, hi, s), _between(cg, hi, s)
        pre = (x_pre / np.maximum(t_pre, 1e-9)) / np.maximum(rate, 1e-9)
        mid = lo + length // 2
        x1, t1 = _between(cx, lo, mid), _between(cg, lo, mid)
        x2, t2 = _between(cx, mid, hi), _between(cg, mid, hi)
        trend = (x2 / np.maximum(t2, 1e-9)) / np.maximum(x1 / np.maximum(t1, 1e-9), 1e-9)
        valid = full & (_between(cn, hi, s) == pre_days) & (days.age - pre_days >= min_age_days)
        valid &= per_week >= min_per_week
        phi = _pooled(phi, per_week, valid)
        trend_llr = _llr(x1, t1, x2, t2) / phi
        # The months before the baseline: was the account already sliding into it?
        x_ref, t_ref = _between(cx, lo - ref_days, lo), _between(cg, lo - ref_days, lo)
        has_ref = (_between(cn, lo - ref_days, lo) == ref_days) & (lo - ref_days >= 0)
        slide = np.where(has_ref, rate / np.maximum(x_ref / np.maximum(t_ref, 1e-9), 1e-9), 1.0)
        slide_llr = np.where(has_ref, _llr(x_ref, t_ref, x, t) / phi, 0.0)
    return Level(
        rate, per_week, length, phi, pre, trend, trend_llr, slide, slide_llr, x_pre, t_pre, valid
    )


# The daily drop test's settings (see the module docstring). `rho`: the fall the CUSUM is tuned
# to (to 40 % of the level); `h`: its threshold (quasi-Poisson llr); a real fall is below
# `limit` of the level since its start, the last `tail_days` below `sustain_ratio` (not back),
# at least `min_days` after its start (a dead week has to be over first). The start: at least
# `min_age_days` after signup (not onboarding), a level of `min_per_week` events, the
# `pre_days` before it at `pre_ratio` of the level or more, the baseline not sliding under
# `min_trend` (when significant, llr `trend_penalty`), and no shared holiday (the week around
# it at `holiday_index` of an ordinary week or more). One drop per `refractory_days`.
DAILY_DROP = {
    "rho": 0.4,
    "h": 16.0,
    "min_days": 10,
    "max_days": 84,
    "limit": 0.45,
    "rest_exposure": 4.5,
    "dead_days": 7,
    "half_limit": 0.55,
    "tail_days": 4,
    "sustain_ratio": 0.7,
    "baseline_days": (56, 91, 140),
    "baseline_events": 80.0,
    "pre_days": 28,
    "step_penalty": 8.0,
    "ref_days": 182,
    "min_slide": 0.8,
    "pre_ratio": 0.7,
    "step_limit": 0.55,
    "min_trend": 0.75,
    "trend_penalty": 2.0,
    "min_age_days": 84,
    "min_per_week": 3.0,
    "holiday_index": 0.0,
    "refractory_days": 182,
}


def _starts_ok(lv: Level, index: np.ndarray, p: dict) -> np.ndarray:
    """Days a drop may start on: a healthy level to fall from, not a slide, not a holiday."""
    ok = lv.valid & (lv.pre >= p["pre_ratio"])
    with np.errstate(all="ignore"):
        sliding = (lv.trend < p["min_trend"]) & (lv.trend_llr >= p["trend_penalty"])
        sliding |= (lv.slide < p["min_slide"]) & (lv.slide_llr >= p["trend_penalty"])
    week = np.convolve(index, np.ones(7) / 7, mode="same")
    usual = np.median(week) if len(week) else 1.0
    return ok & ~sliding & (week >= p["holiday_index"] * usual)[None, :]


def _beyond_dead_week(x0, g, hit, start, d, lam, p) -> np.ndarray:
    """For the accounts in `hit`: does the fall hold without its quietest `dead_days`? A week
    off is not a drop; a real fall is still low on the days outside it, and there must be
    `rest_exposure` ordinary days of those to tell."""
    out = []
    for r in np.flatnonzero(hit):
        x, t = x0[r, start[r] : d + 1], g[r, start[r] : d + 1]
        spell = np.ones(min(p["dead_days"], len(x)))
        week_x = np.convolve(x, spell, mode="valid")
        week_t = np.convolve(t, spell, mode="valid")
        k = int(np.argmin(week_x - lam[r] * p["limit"] * week_t)) if len(week_x) else 0
        rest_x, rest_t = x.sum() - week_x[k], t.sum() - week_t[k]
        ok = rest_t >= p["rest_exposure"] and rest_x <= p["limit"] * lam[r] * rest_t
        out.append(ok)
    return np.array(out, dtype=bool)


def daily_drops(days: Days, index: np.ndarray, **params) -> pl.DataFrame:
    """Engagement drops on daily counts, one row per drop in the level-shift frame's shape."""
    p = {**DAILY_DROP, **params}
    e = days.events
    n, t = e.shape
    if n == 0 or t == 0:
        return pl.DataFrame(schema=SHIFT_SCHEMA)
    seen = ~np.isnan(e)
    g = np.where(seen, np.broadcast_to(index, e.shape), 0.0)
    lv = day_level(
        days,
        g,
        baseline_days=p["baseline_days"],
        baseline_events=p["baseline_events"],
        pre_days=p["pre_days"],
        min_age_days=p["min_age_days"],
        min_per_week=p["min_per_week"],
        ref_days=p["ref_days"],
    )
    ok = _starts_ok(lv, index, p)
    cx, cg = _cum(e), _cum(g)
    x0 = np.nan_to_num(e)
    rows = np.arange(n)
    log_rho, drift = np.log(p["rho"]), 1 - p["rho"]
    cusum = np.zeros(n)
    start = np.zeros(n, dtype=np.int64)
    quiet_until = np.full(n, -1, dtype=np.int64)
    found = []
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
        for d in range(t):
            fresh = cusum <= 0
            start = np.where(fresh, d, start)
            lam, phi = lv.rate[rows, start], lv.phi[rows, start]
            inc = (x0[:, d] * log_rho + lam * g[:, d] * drift) / phi
            cusum = np.where(seen[:, d] & ok[rows, start], np.maximum(cusum + inc, 0.0), 0.0)
            length = d - start + 1
            x_w, t_w = cx[rows, d + 1] - cx[rows, start], cg[rows, d + 1] - cg[rows, start]
            lo = np.maximum(d + 1 - p["tail_days"], start)
            x_tail, t_tail = cx[rows, d + 1] - cx[rows, lo], cg[rows, d + 1] - cg[rows, lo]
            ratio = x_w / np.maximum(lam * t_w, 1e-9)
            tail = x_tail / np.maximum(lam * t_tail, 1e-9)
            step = ratio / np.maximum(lv.pre[rows, start], 1e-9)
            # A step, not a slide: the days since the start differ from the weeks just before.
            x_pre, t_pre = lv.x_pre[rows, start], lv.t_pre[rows, start]
            step_llr = _llr(x_pre, t_pre, x_w, t_w) / phi
            hit = (cusum >= p["h"]) & (length >= p["min_days"]) & (d > quiet_until)
            hit &= (ratio <= p["limit"]) & (tail <= p["sustain_ratio"]) & (step <= p["step_limit"])
            hit &= step_llr >= p["step_penalty"]
            # A step is flat after it; a slide is still on its way down: the first half of the
            # days since the start must already be down too.
            mid = start + length // 2
            x_h, t_h = cx[rows, mid] - cx[rows, start], cg[rows, mid] - cg[rows, start]
            hit &= x_h <= p["half_limit"] * lam * t_h
            hit[hit] = _beyond_dead_week(x0, g, hit, start, d, lam, p)
            for r in np.flatnonzero(hit):
                found.append((int(r), int(start[r]), d, float(ratio[r]), float(cusum[r])))
                quiet_until[r] = start[r] + p["refractory_days"]
            cusum[hit] = 0.0
            cusum[length >= p["max_days"]] = 0.0  # a run this long is no longer sudden
    out = []
    for r, s, d, ratio, score in found:
        out.append(
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
        )
    return pl.DataFrame(out, schema=SHIFT_SCHEMA)
