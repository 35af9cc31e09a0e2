"""Level shifts in weekly usage: the shared weekly index, sudden drops and sustained jumps.

Everything works on an accounts x weeks matrix built from the weekly rollup, so every account
and every candidate week is tested at once (numpy windows, no loop over accounts). A change
starting in week s is a sequential test: the window of weeks from s grows one week at a time and
the moment is dated `detected_on` = the end of the first window that confirms it, so nothing
after `detected_on` is ever looked at. The statistic is a Poisson log-likelihood ratio (two
rates against one, over exposures that carry the shared weekly index) scaled by the account's own
overdispersion: count-aware, so a small account's noise needs more weeks to say anything.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Grid:
    """Weekly events as a dense matrix: one row per account, one column per week (oldest first)."""

    ids: list[str]
    week_end: list[dt.date]
    events: np.ndarray  # float (accounts, weeks); NaN outside the account's life
    age: np.ndarray  # int (accounts, weeks): whole weeks since signup; -1 outside its life


def build_grid(weekly: pl.DataFrame) -> Grid:
    """The matrix form of a weekly frame (account_id, week_end, age_weeks, events)."""
    if weekly.is_empty():
        return Grid([], [], np.zeros((0, 0)), np.zeros((0, 0), dtype=np.int64))
    ids = weekly["account_id"].unique().sort()
    first, last = weekly["week_end"].min(), weekly["week_end"].max()
    weeks = [first + WEEK * k for k in range((last - first).days // 7 + 1)]
    keyed = weekly.join(pl.DataFrame({"account_id": ids}).with_row_index("_row"), on="account_id")
    row = keyed["_row"].to_numpy()
    col = ((keyed["week_end"] - first).dt.total_days() // 7).to_numpy()
    events = np.full((len(ids), len(weeks)), np.nan)
    age = np.full((len(ids), len(weeks)), -1, dtype=np.int64)
    events[row, col] = keyed["events"].cast(pl.Float64).to_numpy()
    age[row, col] = keyed["age_weeks"].to_numpy()
    return Grid(ids.to_list(), weeks, events, age)


def trailing_median(x: np.ndarray, width: int) -> np.ndarray:
    """Median of the `width` columns before each column (NaN where there are none)."""
    return _window_median(_trailing(x, width))


def _window_median(windows: np.ndarray) -> np.ndarray:
    """NaN-skipping median over the last axis; np.nanmedian is ~20x slower on small windows."""
    ordered = np.sort(windows, axis=-1)  # NaN sorts last
    n = np.sum(~np.isnan(windows), axis=-1)
    lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(ordered, (n // 2)[..., None], axis=-1)[..., 0]
    return np.where(n > 0, (lo + hi) / 2, np.nan)


def _trailing(x: np.ndarray, width: int) -> np.ndarray:
    """Windows of the `width` columns before each column: shape (rows, cols, width), NaN-padded."""
    pad = np.full((x.shape[0], width), np.nan)
    return sliding_window_view(np.concatenate([pad, x], axis=1), width, axis=1)[:, : x.shape[1]]


def _leading(x: np.ndarray, width: int) -> np.ndarray:
    """Windows of each column and the `width - 1` after it: shape (rows, cols, width)."""
    pad = np.full((x.shape[0], width - 1), np.nan)
    return sliding_window_view(np.concatenate([x, pad], axis=1), width, axis=1)


def shared_index(
    grid: Grid, *, level_weeks: int = 13, min_age_weeks: int = 13, min_accounts: int = 20
) -> np.ndarray:
    """Each week's usage across all accounts relative to their usual level (1 = an ordinary week).

    A holiday that everybody takes shows up here and is divided out of every account, so it is
    never anyone's crisis. Each account's usual level is the median of its previous
    `level_weeks` weeks (causal, and a median shrugs off a holiday inside the window).
    """
    n, t = grid.events.shape
    if n == 0:
        return np.ones(t)
    level = trailing_median(grid.events, level_weeks)
    ok = (grid.age >= min_age_weeks) & (level > 0) & ~np.isnan(grid.events)
    num = np.where(ok, grid.events, 0).sum(axis=0)
    den = np.where(ok, level, 0).sum(axis=0)
    index = np.where((ok.sum(axis=0) >= min_accounts) & (den > 0), num / np.maximum(den, 1e-9), 1)
    return np.clip(index, 0.05, 5.0)


def _poisson_llr(x_b, t_b, x_a, t_a) -> np.ndarray:
    """Log-likelihood ratio of two Poisson rates against one (counts x over exposures t)."""

    def xlogy(x, y):
        return np.where(x > 0, x * np.log(np.maximum(y, 1e-12)), 0.0)

    pooled = (x_b + x_a) / np.maximum(t_b + t_a, 1e-12)
    return (
        xlogy(x_b, x_b / np.maximum(t_b, 1e-12))
        + xlogy(x_a, x_a / np.maximum(t_a, 1e-12))
        - xlogy(x_b + x_a, pooled)
    )


@dataclass(frozen=True)
class Baseline:
    """Per account and candidate change week s: the account's level before s."""

    base: np.ndarray  # median normalised weekly events over the baseline weeks
    base_raw: np.ndarray  # mean raw weekly events over the baseline weeks
    x: np.ndarray  # events over the baseline weeks
    t: np.ndarray  # exposure over the baseline weeks (sum of the shared index)
    phi: np.ndarray  # overdispersion: variance over mean of the normalised baseline weeks
    pre: np.ndarray  # mean of the `pre_weeks` just before s, relative to base
    valid: np.ndarray  # bool: full windows inside the account's life, account old enough
    trend: np.ndarray  # median of the baseline's later half over that of its earlier half


def _pooled_phi(phi: np.ndarray, level: np.ndarray, ok: np.ndarray, min_accounts: int = 10):
    """Per week, the median overdispersion of the accounts at a similar level (a doubling band).

    Only the candidate week's own baseline windows go in (causal), and only valid ones; a band
    with fewer than `min_accounts` accounts that week falls back to all of them.
    """
    band = np.floor(np.log2(np.maximum(np.nan_to_num(level, nan=1.0), 1.0))).astype(np.int64)
    band = np.minimum(band, 12)
    every = np.where(ok, phi, np.nan)
    overall = np.nanmedian(every, axis=0)
    out = np.broadcast_to(np.where(np.isnan(overall), 1.0, overall), phi.shape).copy()
    for b in np.unique(band[ok]):
        inside = ok & (band == b)
        med = np.nanmedian(np.where(inside, phi, np.nan), axis=0)
        use = (band == b) & (inside.sum(axis=0) >= min_accounts)[None, :]
        out[use] = np.broadcast_to(med, phi.shape)[use]
    return out


def baseline_stats(
    grid: Grid,
    index: np.ndarray,
    *,
    baseline_weeks: int,
    pre_weeks: int,
    min_age_weeks: int,
    phi_prior: float = 0.0,
) -> Baseline:
    """The level before every candidate week: `baseline_weeks` ending `pre_weeks` before it.

    With `phi_prior` > 0 an account's own overdispersion (a variance over a few noisy weeks)
    is shrunk towards the median of accounts at a similar level that week, weighing the pooled
    value like `phi_prior` weeks of the account's own.
    """
    e = grid.events
    norm = e / index[None, :]
    g = np.broadcast_to(index, e.shape)
    span = baseline_weeks + pre_weeks  # the pre weeks are judged apart from the baseline
    with (
        np.errstate(all="ignore"),
        warnings.catch_warnings(action="ignore", category=RuntimeWarning),
    ):
        win = _trailing(norm, span)[:, :, :baseline_weeks]
        raw = _trailing(e, span)[:, :, :baseline_weeks]
        exposure = np.where(np.isnan(raw), 0, _trailing(g, span)[:, :, :baseline_weeks])
        base = _window_median(win)
        mean = np.nanmean(win, axis=2)
        phi = np.maximum(1.0, np.where(mean > 0, np.nanvar(win, axis=2, ddof=1) / mean, 1.0))
        pre_win = _trailing(norm, pre_weeks)
        pre = np.nanmean(pre_win, axis=2) / np.maximum(base, 1e-9)
        valid = (
            (np.sum(~np.isnan(win), axis=2) == baseline_weeks)
            & (np.sum(~np.isnan(pre_win), axis=2) == pre_weeks)
            & (grid.age >= min_age_weeks)
            & (base > 0)
        )
        half = baseline_weeks // 2
        early = np.maximum(_window_median(win[:, :, :half]), 1e-9)
        trend = _window_median(win[:, :, half:]) / early
        if phi_prior > 0:
            raw_mean = np.nanmean(raw, axis=2)
            pooled = _pooled_phi(phi, raw_mean, valid)
            own = baseline_weeks - 1
            phi = np.maximum(1.0, (phi_prior * pooled + own * phi) / (phi_prior + own))
        return Baseline(
            base,
            np.nanmean(raw, axis=2),
            np.nansum(raw, axis=2),
            exposure.sum(axis=2),
            phi,
            pre,
            valid,
            trend,
        )


def _level_shifts(
    grid: Grid,
    index: np.ndarray,
    *,
    down: bool,
    baseline_weeks: int,
    confirm_weeks: int,
    max_confirm_weeks: int,
    pre_weeks: int,
    limit: float,
    sustain_ratio: float,
    pre_ratio: float,
    penalty: float,
    min_base: float,
    min_age_weeks: int,
    refractory_weeks: int,
    kind: str,
    phi_prior: float = 0.0,
    min_trend: float = 0.0,
) -> pl.DataFrame:
    """Sequential test of a level shift at every week: confirmed at the first window that holds.

    The window after s grows from `confirm_weeks` to `max_confirm_weeks`: a large account shows
    a real change within weeks, a small one needs longer before its counts say anything. In a
    window of k weeks at most k - confirm_weeks weeks may sit on the wrong side of
    `sustain_ratio` (noise), never the first (the change starts at s, not before) nor the last
    (the change must still hold when it is called).
    """
    bl = baseline_stats(
        grid,
        index,
        baseline_weeks=baseline_weeks,
        pre_weeks=pre_weeks,
        min_age_weeks=min_age_weeks,
        phi_prior=phi_prior,
    )
    e = grid.events
    norm = e / index[None, :]
    g = np.where(np.isnan(e), np.nan, np.broadcast_to(index, e.shape))
    sign = 1.0 if down else -1.0
    start_ok = bl.valid & (bl.base >= min_base)
    start_ok &= sign * bl.pre >= sign * pre_ratio  # drops: pre high; jumps: pre low
    if min_trend > 0:  # a baseline already sliding (drops) or climbing (jumps) is no sudden start
        start_ok &= sign * np.log(np.maximum(bl.trend, 1e-9)) >= np.log(min_trend)
    hit_k = np.zeros(e.shape, dtype=np.int64)
    stats: dict[int, tuple[np.ndarray, ...]] = {}
    scale = np.maximum(bl.base, 1e-9)
    with (
        np.errstate(all="ignore"),
        warnings.catch_warnings(action="ignore", category=RuntimeWarning),
    ):
        for k in range(confirm_weeks, max_confirm_weeks + 1):
            win = _leading(norm, k) / scale[:, :, None]
            raw = _leading(e, k)
            x_a, t_a = np.nansum(raw, axis=2), np.nansum(_leading(g, k), axis=2)
            ratio = x_a / np.maximum(t_a, 1e-9) / scale
            wrong = (win > sustain_ratio) if down else (win < sustain_ratio)
            score = _poisson_llr(bl.x, bl.t, x_a, t_a) / bl.phi
            ok = (
                start_ok
                & (np.sum(~np.isnan(win), axis=2) == k)
                & (sign * ratio <= sign * limit)
                & ~wrong[:, :, 0]
                & ~wrong[:, :, -1]
                & (wrong.sum(axis=2) <= k - confirm_weeks)
                & (score >= penalty)
                & (hit_k == 0)
            )
            hit_k[ok] = k
            stats[k] = (np.nanmean(raw, axis=2), ratio, score)
    rows, cols = np.nonzero(hit_k)
    order = np.lexsort((cols, cols + hit_k[rows, cols], rows))  # by account, then detection
    out, last = [], {}
    for r, c in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if r in last and abs(c - last[r]) < refractory_weeks:
            continue
        last[r] = c
        k = int(hit_k[r, c])
        after, ratio, score = (a[r, c] for a in stats[k])
        out.append(
            {
                "account_id": grid.ids[r],
                "kind": kind,
                "started_on": grid.week_end[c] - WEEK + dt.timedelta(days=1),
                "detected_on": grid.week_end[c + k - 1],
                "metric_before": float(bl.base_raw[r, c]),
                "metric_after": float(after),
                "ratio": float(ratio),
                "score": float(score),
                "weeks": k,
            }
        )
    return pl.DataFrame(out, schema=SHIFT_SCHEMA)


SHIFT_SCHEMA = {
    "account_id": pl.String,
    "kind": pl.String,
    "started_on": pl.Date,
    "detected_on": pl.Date,
    "metric_before": pl.Float64,
    "metric_after": pl.Float64,
    "ratio": pl.Float64,
    "score": pl.Float64,
    "weeks": pl.Int64,
}


def detect_engagement_drops(
    weekly: pl.DataFrame,
    *,
    index: np.ndarray | None = None,
    baseline_weeks: int = 8,
    confirm_weeks: int = 4,
    max_confirm_weeks: int = 12,
    pre_weeks: int = 2,
    max_ratio: float = 0.35,
    sustain_ratio: float = 0.7,
    pre_ratio: float = 0.6,
    penalty: float = 10.0,
    min_base: float = 3.0,
    min_age_weeks: int = 12,
    refractory_weeks: int = 26,
    phi_prior: float = 8.0,
    min_trend: float = 0.75,
) -> pl.DataFrame:
    """Sudden, sustained falls in weekly events against the account's own baseline.

    A drop starting at week s, after dividing out the shared weekly index (holidays): the
    weeks from s average at most `max_ratio` of the median of the `baseline_weeks` before,
    they stay under `sustain_ratio` (one dead week is not a drop), the `pre_weeks` just before
    s were still at `pre_ratio` or more (a slow slide is not a drop), and the change is
    significant for its counts: quasi-Poisson log-likelihood ratio at least `penalty` (a small
    account's noise is not a drop). Confirmed after `confirm_weeks` to `max_confirm_weeks`
    weeks (see `_level_shifts`); baseline median at least `min_base` events a week; account at
    least `min_age_weeks` old (not onboarding); one drop per `refractory_weeks`. The account's
    overdispersion is shrunk towards that of accounts at its level (`phi_prior`, see
    `baseline_stats`), and the later half of its baseline must be at least `min_trend` of the
    earlier half (a slide already under way is a slow decline, not a drop).
    `weekly`: account_id, week_end, age_weeks, events.
    """
    grid = build_grid(weekly)
    if not grid.ids:
        return pl.DataFrame(schema=SHIFT_SCHEMA)
    return _level_shifts(
        grid,
        shared_index(grid) if index is None else index,
        down=True,
        baseline_weeks=baseline_weeks,
        confirm_weeks=confirm_weeks,
        max_confirm_weeks=max_confirm_weeks,
        pre_weeks=pre_weeks,
        limit=max_ratio,
        sustain_ratio=sustain_ratio,
        pre_ratio=pre_ratio,
        penalty=penalty,
        min_base=min_base,
        min_age_weeks=min_age_weeks,
        refractory_weeks=refractory_weeks,
        phi_prior=phi_prior,
        min_trend=min_trend,
        kind="engagement_drop",
    )


def detect_usage_jumps(
    weekly: pl.DataFrame,
    *,
    index: np.ndarray | None = None,
    baseline_weeks: int = 8,
    confirm_weeks: int = 3,
    max_confirm_weeks: int = 6,
    pre_weeks: int = 2,
    min_ratio: float = 2.0,
    sustain_ratio: float = 1.4,
    pre_ratio: float = 1.5,
    penalty: float = 10.0,
    min_base: float = 3.0,
    min_age_weeks: int = 12,
    refractory_weeks: int = 26,
    phi_prior: float = 8.0,
    min_trend: float = 0.0,
) -> pl.DataFrame:
    """Sudden, sustained jumps in weekly events against the account's own baseline.

    The mirror of `detect_engagement_drops`: the weeks from s average at least `min_ratio`
    times the baseline median and stay above `sustain_ratio`, the `pre_weeks` before were at
    most `pre_ratio` (steady growth is not a jump), quasi-Poisson score at least `penalty`.
    """
    grid = build_grid(weekly)
    if not grid.ids:
        return pl.DataFrame(schema=SHIFT_SCHEMA)
    return _level_shifts(
        grid,
        shared_index(grid) if index is None else index,
        down=False,
        baseline_weeks=baseline_weeks,
        confirm_weeks=confirm_weeks,
        max_confirm_weeks=max_confirm_weeks,
        pre_weeks=pre_weeks,
        limit=min_ratio,
        sustain_ratio=sustain_ratio,
        pre_ratio=pre_ratio,
        penalty=penalty,
        min_base=min_base,
        min_age_weeks=min_age_weeks,
        refractory_weeks=refractory_weeks,
        phi_prior=phi_prior,
        min_trend=min_trend,
        kind="usage_spike",
    )
