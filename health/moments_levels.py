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

from health.moments_baseline import (
    adaptive_baseline,
    leading,
    poisson_llr,
    trailing,
    window_median,
)

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
    return window_median(trailing(x, width))


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


def _level_shifts(
    grid: Grid,
    index: np.ndarray,
    *,
    down: bool,
    baseline_weeks: int | tuple[int, ...],
    baseline_events: float,
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
    trend_penalty: float = 0.0,
    pre_penalty: float = 0.0,
    ref_weeks: int = 0,
    min_slide: float = 0.0,
    holiday_index: float = 0.0,
) -> pl.DataFrame:
    """Sequential test of a level shift at every week: confirmed at the first window that holds.

    The window after s grows from `confirm_weeks` to `max_confirm_weeks`: a large account shows
    a real change within weeks, a small one needs longer before its counts say anything. In a
    window of k weeks at most k - confirm_weeks weeks may sit on the wrong side of
    `sustain_ratio` (noise), never the first (the change starts at s, not before) nor the last
    (the change must still hold when it is called).
    """
    bl = adaptive_baseline(
        grid.events,
        grid.age,
        index,
        baseline_weeks=baseline_weeks,
        baseline_events=baseline_events,
        pre_weeks=pre_weeks,
        min_age_weeks=min_age_weeks,
        phi_prior=phi_prior,
        ref_weeks=ref_weeks,
    )
    e = grid.events
    norm = e / index[None, :]
    g = np.where(np.isnan(e), np.nan, np.broadcast_to(index, e.shape))
    sign = 1.0 if down else -1.0
    start_ok = bl.valid & (bl.base >= min_base)
    # Drops: the weeks just before s still at the level; jumps: not already up (a slide or a
    # climb under way), unless a small account's few counts cannot tell that from noise.
    moved = (sign * bl.pre < sign * pre_ratio) & (bl.pre_llr >= pre_penalty)
    start_ok &= ~moved
    if min_trend > 0:  # a baseline already sliding (drops) or climbing (jumps) is no sudden start
        sliding = sign * np.log(np.maximum(bl.trend, 1e-9)) < np.log(min_trend)
        start_ok &= ~(sliding & (bl.trend_llr >= trend_penalty))
    # No change is dated in a week everybody had off: who stopped and who is away can't be told
    # apart until ordinary weeks come back, and a change that lasts still shows from then on.
    start_ok &= (index >= holiday_index)[None, :]
    if min_slide > 0:  # the months before the baseline were higher (drops) or lower (jumps)
        long = sign * np.log(np.maximum(bl.slide, 1e-9)) < np.log(min_slide)
        start_ok &= ~(long & (bl.slide_llr >= trend_penalty))
    hit_k = np.zeros(e.shape, dtype=np.int64)
    stats: dict[int, tuple[np.ndarray, ...]] = {}
    scale = np.maximum(bl.base, 1e-9)
    with (
        np.errstate(all="ignore"),
        warnings.catch_warnings(action="ignore", category=RuntimeWarning),
    ):
        for k in range(confirm_weeks, max_confirm_weeks + 1):
            win = leading(norm, k) / scale[:, :, None]
            raw = leading(e, k)
            x_a, t_a = np.nansum(raw, axis=2), np.nansum(leading(g, k), axis=2)
            ratio = x_a / np.maximum(t_a, 1e-9) / scale
            wrong = (win > sustain_ratio) if down else (win < sustain_ratio)
            score = poisson_llr(bl.x, bl.t, x_a, t_a) / bl.phi
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
                "baseline_weeks": int(bl.weeks[r, c]),
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
    "baseline_weeks": pl.Int64,
}


def detect_engagement_drops(
    weekly: pl.DataFrame,
    *,
    index: np.ndarray | None = None,
    baseline_weeks: int | tuple[int, ...] = (8, 13, 20),
    baseline_events: float = 80.0,
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
    trend_penalty: float = 2.0,
    pre_penalty: float = 0.0,
    ref_weeks: int = 26,
    min_slide: float = 0.8,
    holiday_index: float = 0.8,
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
    `baseline_stats`). A small account's baseline grows through the `baseline_weeks` lengths
    until it holds `baseline_events` events (see `adaptive_baseline`). A slide already under
    way is a slow decline, not a drop: no drop starts where the later half of the baseline
    runs under `min_trend` of its earlier half, or the baseline under `min_slide` of the
    `ref_weeks` before it, when that difference is itself significant (quasi-Poisson
    log-likelihood ratio at least `trend_penalty`, so a small account's noise blocks nothing).
    The `pre_weeks` test is waived where the pre weeks' difference from the baseline is under
    `pre_penalty` (noise). No drop starts in a shared holiday week (shared index under
    `holiday_index`): it is dated from the first ordinary week instead.
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
        baseline_events=baseline_events,
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
        trend_penalty=trend_penalty,
        pre_penalty=pre_penalty,
        ref_weeks=ref_weeks,
        min_slide=min_slide,
        holiday_index=holiday_index,
        kind="engagement_drop",
    )


def detect_usage_jumps(
    weekly: pl.DataFrame,
    *,
    index: np.ndarray | None = None,
    baseline_weeks: int | tuple[int, ...] = (8, 13, 20),
    baseline_events: float = 80.0,
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
    trend_penalty: float = 0.0,
    pre_penalty: float = 0.0,
    ref_weeks: int = 0,
    min_slide: float = 0.0,
    holiday_index: float = 0.0,
) -> pl.DataFrame:
    """Sudden, sustained jumps in weekly events against the account's own baseline.

    The mirror of `detect_engagement_drops`: the weeks from s average at least `min_ratio`
    times the baseline median and stay above `sustain_ratio`, the `pre_weeks` before were at
    most `pre_ratio` (steady growth is not a jump), quasi-Poisson score at least `penalty`; the
    baseline grows for small accounts as for drops. The slide and holiday guards are off by
    default (`min_trend`, `min_slide`, `holiday_index` at 0): backtests found they cost jumps.
    """
    grid = build_grid(weekly)
    if not grid.ids:
        return pl.DataFrame(schema=SHIFT_SCHEMA)
    return _level_shifts(
        grid,
        shared_index(grid) if index is None else index,
        down=False,
        baseline_weeks=baseline_weeks,
        baseline_events=baseline_events,
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
        trend_penalty=trend_penalty,
        pre_penalty=pre_penalty,
        ref_weeks=ref_weeks,
        min_slide=min_slide,
        holiday_index=holiday_index,
        kind="usage_spike",
    )
