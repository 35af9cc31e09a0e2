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
from dataclasses import dataclass, fields, replace

import numpy as np
import polars as pl

from health.moments.baseline import (
    Baseline,
    adaptive_baseline,
    leading,
    poisson_llr,
    trailing,
    window_median,
)
from health.moments.days import phi_band, pool_of, pool_spread

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


def change_week(x: np.ndarray, g: np.ndarray, base: float, *, down: bool) -> int:
    """Where in a window of weekly counts `x` (exposures `g`) a change from rate `base` began.

    The maximum-likelihood split: the offset whose weeks from there to the window's end are the
    least likely under the old rate (Poisson log-likelihood ratio of their own rate against
    `base`), falling for a drop and rising for a jump, with at least two weeks after it.
    """
    xs = np.nan_to_num(x)[::-1].cumsum()[::-1]
    es = base * np.nan_to_num(g)[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = np.where(xs > 0, xs * np.log(xs / es), 0.0) - (xs - es)
    moved = (xs < es) if down else (xs > es)
    llr = np.where(moved, llr, -np.inf)[: max(len(x) - 1, 1)]
    return int(np.argmax(llr)) if np.isfinite(llr).any() else 0


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


@dataclass(frozen=True, kw_only=True)
class ShiftParams:
    """One level-shift detector's settings, grouped by what they decide (see LEVEL_SHIFTS)."""

    kind: str
    down: bool  # a drop (True) or a jump (False)
    # The baseline: the account's level before a candidate week s (`adaptive_baseline`).
    baseline_weeks: int | tuple[int, ...]
    baseline_events: float
    pre_weeks: int
    min_age_weeks: int
    phi_prior: float = 0.0
    ref_weeks: int = 0
    # Where a change may start: enough level, not already under way, not in a shared holiday.
    min_base: float
    pre_ratio: float
    min_trend: float = 0.0
    trend_penalty: float = 0.0
    min_slide: float = 0.0
    holiday_index: float = 0.0
    # The search and its sustain rule: the window of weeks from s, its statistic's threshold.
    confirm_weeks: int
    max_confirm_weeks: int
    limit: float
    sustain_ratio: float
    penalty: float
    # The quick call: a window of `quick_weeks` (shorter than `confirm_weeks`) confirms a change
    # whose counts are strong enough on their own (llr at least `quick_penalty`), every week of
    # it on the far side of `sustain_ratio`; 0 turns it off.
    quick_weeks: int = 0
    quick_penalty: float = 0.0
    # The people behind the counts (drops): a fall to at most `wide_limit` of the level (the
    # issue's "below half") also counts when the account's active users fell with it, to at
    # most `users_ratio` of their level: a step, not an easing at the same head count. 0: off.
    wide_limit: float = 0.0
    users_ratio: float = 0.0
    step_limit: float = 0.0
    # The refractory period: one change per account within this many weeks.
    refractory_weeks: int

    @property
    def sign(self) -> float:
        """+1 for drops, -1 for jumps: "below" for a drop is "above" for a jump."""
        return 1.0 if self.down else -1.0


@dataclass(frozen=True)
class Counts:
    """The account-week matrices every part of the test reads."""

    events: np.ndarray  # raw weekly events (NaN outside the account's life)
    norm: np.ndarray  # events over the shared weekly index
    exposure: np.ndarray  # the shared index where the account is seen, NaN elsewhere
    users: np.ndarray | None = None  # weekly active users (NaN outside the account's life)
    users_level: np.ndarray | None = None  # their median over the 8 weeks before each week

    @classmethod
    def of(cls, grid: Grid, index: np.ndarray, users: np.ndarray | None = None) -> Counts:
        """The series of a grid under a shared weekly index (`users`: its active users)."""
        e = grid.events
        g = np.where(np.isnan(e), np.nan, np.broadcast_to(index, e.shape))
        level = None if users is None else trailing_median(users, 8)
        return cls(e, e / index[None, :], g, users, level)


def _baseline(grid: Grid, index: np.ndarray, p: ShiftParams, pool=None) -> Baseline:
    """The level before every candidate week, as `p` sets it up (`pool`: adaptive_baseline's)."""
    return adaptive_baseline(
        grid.events,
        grid.age,
        index,
        baseline_weeks=p.baseline_weeks,
        baseline_events=p.baseline_events,
        pre_weeks=p.pre_weeks,
        min_age_weeks=p.min_age_weeks,
        phi_prior=p.phi_prior,
        ref_weeks=p.ref_weeks,
        pool=pool,
    )


def _may_start(bl: Baseline, index: np.ndarray, p: ShiftParams) -> np.ndarray:
    """Account-weeks where a change may begin: a level to leave, and no change already under way."""
    sign = p.sign
    ok = bl.valid & (bl.base >= p.min_base)
    # Drops: the weeks just before s still at the level; jumps: not already up (a slide or a
    # climb under way), unless a small account's few counts cannot tell that from noise.
    ok &= ~(sign * bl.pre < sign * p.pre_ratio)
    with np.errstate(all="ignore"):
        if p.min_trend > 0:  # a baseline already sliding (drops) or climbing (jumps): not sudden
            sliding = sign * np.log(np.maximum(bl.trend, 1e-9)) < np.log(p.min_trend)
            ok &= ~(sliding & (bl.trend_llr >= p.trend_penalty))
        # No change is dated in a week everybody had off: who stopped and who is away can't be
        # told apart until ordinary weeks come back, and a change that lasts still shows then.
        ok &= (index >= p.holiday_index)[None, :]
        if p.min_slide > 0:  # the months before the baseline were higher (drops) or lower (jumps)
            long = sign * np.log(np.maximum(bl.slide, 1e-9)) < np.log(p.min_slide)
            ok &= ~(long & (bl.slide_llr >= p.trend_penalty))
    return ok


def _window(s: Counts, bl: Baseline, k: int, p: ShiftParams, pre: np.ndarray | None = None):
    """The statistic over the k weeks from each s: mean events, rate ratio, llr, and which
    weeks sit on the wrong side of `sustain_ratio` (shape (accounts, weeks, k)). `pre`: the
    mean normalised events of the 4 weeks before each s (_pre_step), for the step rule."""
    scale = np.maximum(bl.base, 1e-9)
    win = leading(s.norm, k) / scale[:, :, None]
    raw = leading(s.events, k)
    x_a, t_a = np.nansum(raw, axis=2), np.nansum(leading(s.exposure, k), axis=2)
    ratio = x_a / np.maximum(t_a, 1e-9) / scale
    wrong = (win > p.sustain_ratio) if p.down else (win < p.sustain_ratio)
    score = poisson_llr(bl.x, bl.t, x_a, t_a) / bl.phi
    full = np.sum(~np.isnan(win), axis=2) == k
    far = p.sign * ratio <= p.sign * p.limit
    if p.wide_limit and s.users is not None:
        # Active users in the window over their median in the 8 weeks before s.
        users = np.nanmean(leading(s.users, k), axis=2) / np.maximum(s.users_level, 1.0)
        far |= (ratio <= p.wide_limit) & (users <= p.users_ratio)
    if p.wide_limit and p.step_limit:
        # A step: the window against the 4 weeks just before s (a slide is already down there).
        pre = _pre_step(s) if pre is None else pre
        step = x_a / np.maximum(t_a, 1e-9) / np.maximum(pre, 1e-9)
        far |= (ratio <= p.wide_limit) & (step <= p.step_limit)
    return np.nanmean(raw, axis=2), ratio, score, wrong, full & far


def _pre_step(s: Counts) -> np.ndarray:
    """The mean normalised events of the 4 weeks before each week (the step rule's)."""
    return np.nanmean(trailing(s.norm, 4), axis=2)


def _sustained(wrong: np.ndarray, k: int, p: ShiftParams) -> np.ndarray:
    """The sustain rule: at most k - confirm_weeks weeks on the wrong side (none in a quick
    window), never the first (the change starts at s, not before) nor the last (it must still
    hold when called)."""
    allowed = max(k - p.confirm_weeks, 0)
    return ~wrong[:, :, 0] & ~wrong[:, :, -1] & (wrong.sum(axis=2) <= allowed)


# Account-weeks x window weeks in one block of the search: its windows are (accounts, weeks, k)
# arrays, so it runs block by block of accounts (each account's search reads its own row only).
SEARCH_CELLS = 1 << 21


def _search(s: Counts, bl: Baseline, start_ok: np.ndarray, p: ShiftParams):
    """The sequential search (_search_rows) block by block of accounts, its memory bounded: per
    account-week s, the first window length k that confirms a change from s (0 for none), and
    the statistics of that window (the same arrays under every k: only hits are read)."""
    n, t = s.events.shape
    size = max(1, SEARCH_CELLS // max(t * p.max_confirm_weeks, 1))
    hit_k = np.zeros((n, t), dtype=np.int64)
    at_hit = tuple(np.full((n, t), np.nan) for _ in range(3))
    lengths: set[int] = set()
    for a in range(0, n, size):
        rows = slice(a, a + size)
        hits, stats = _search_rows(_rows(s, rows), _rows(bl, rows), start_ok[rows], p)
        hit_k[rows] = hits
        for k, values in stats.items():
            lengths.add(k)
            at = hits == k
            for out, x in zip(at_hit, values, strict=True):
                out[rows][at] = x[at]
    return hit_k, dict.fromkeys(lengths, at_hit)


def _rows(frame, rows: slice):
    """A dataclass of account-week matrices cut to some accounts (rows)."""
    cut = {
        f.name: v[rows]
        for f in fields(frame)
        if isinstance(v := getattr(frame, f.name), np.ndarray) and v.ndim == 2
    }
    return replace(frame, **cut)


def _search_rows(s: Counts, bl: Baseline, start_ok: np.ndarray, p: ShiftParams):
    """The sequential search: per account-week s, the first window length k that confirms a
    change from s (0 for none), and each length's statistics."""
    hit_k = np.zeros(s.events.shape, dtype=np.int64)
    stats: dict[int, tuple[np.ndarray, ...]] = {}
    with (
        np.errstate(all="ignore"),
        warnings.catch_warnings(action="ignore", category=RuntimeWarning),
    ):
        first = min(p.quick_weeks or p.confirm_weeks, p.confirm_weeks)
        pre = _pre_step(s) if p.wide_limit and p.step_limit else None  # the same for every k
        for k in range(first, p.max_confirm_weeks + 1):
            after, ratio, score, wrong, full_far = _window(s, bl, k, p, pre)
            penalty = p.quick_penalty if k < p.confirm_weeks else p.penalty
            ok = start_ok & full_far & _sustained(wrong, k, p) & (score >= penalty) & (hit_k == 0)
            hit_k[ok] = k
            stats[k] = (after, ratio, score)
    return hit_k, stats


def _date(grid: Grid, s: Counts, bl: Baseline, k: int, r: int, c: int, stats, p: ShiftParams):
    """The moment confirmed by the k-week window from column c of row r, and its start offset.

    The window that confirmed the change may open on a chance week before it (one busy or
    quiet week is allowed in it); the change is dated where it most likely began.
    """
    d = c + k - 1
    e, g = s.events, s.exposure
    off = change_week(e[r, c : d + 1], g[r, c : d + 1], float(bl.base[r, c]), down=p.down)
    after, ratio, score = (a[r, c] for a in stats[k])
    if off:
        after = float(np.nanmean(e[r, c + off : d + 1]))
        scale = max(float(bl.base[r, c]), 1e-9)
        ratio = np.nansum(e[r, c + off : d + 1]) / np.nansum(g[r, c + off : d + 1]) / scale
    row = {
        "account_id": grid.ids[r],
        "kind": p.kind,
        "started_on": grid.week_end[c + off] - WEEK + dt.timedelta(days=1),
        "detected_on": grid.week_end[d],
        "metric_before": float(bl.base_raw[r, c]),
        "metric_after": float(after),
        "ratio": float(ratio),
        "score": float(score),
        "weeks": k - off,
        "baseline_weeks": int(bl.weeks[r, c]),
    }
    return row, off


# A level-shift test to run: its settings, and the grid's weekly active users (drops) or None.
Test = tuple["ShiftParams", np.ndarray | None]


def _level_shifts(grid: Grid, index: np.ndarray, tests: list[Test]) -> list[pl.DataFrame]:
    """Sequential test of a level shift at every week: confirmed at the first window that holds.

    The window after s grows from `confirm_weeks` to `max_confirm_weeks`: a large account shows
    a real change within weeks, a small one needs longer before its counts say anything. One
    change per account within `refractory_weeks`, by order of detection. `tests`: (settings,
    users) per kind, run block by block of accounts together (one frame each, in that order), so
    a block's baseline is computed once for the kinds whose baselines agree (_shared).
    """
    n, t = grid.events.shape
    size = max(1, BASELINE_CELLS // max(t, 1))
    blocks = [slice(a, min(a + size, n)) for a in range(0, n, size)]
    pools = [
        _lazy(lambda p=p: _pool(grid, index, p, blocks))
        if len(blocks) > 1 and p.phi_prior > 0
        else None
        for p, _ in tests
    ]
    out: list[list[dict]] = [[] for _ in tests]
    for rows in blocks:
        part = _grid_rows(grid, rows) if len(blocks) > 1 else grid
        held: list[tuple[ShiftParams, Baseline]] = []
        for (p, users), pool, found in zip(tests, pools, out, strict=True):
            s = Counts.of(part, index, None if users is None else users[rows])
            bl = _shared(held, p) or _baseline(part, index, p, pool)
            held.append((p, bl))
            found.extend(_block_shifts(part, s, bl, index, p))
    return [pl.DataFrame(rows, schema=SHIFT_SCHEMA) for rows in out]


def _shared(held: list[tuple[ShiftParams, Baseline]], p: ShiftParams) -> Baseline | None:
    """A baseline computed for the same block under settings that give `p`'s: the same ones, or
    the same without the months before it (a jump's: no slide guard), where baseline_stats
    gives a slide of 1 and its llr 0."""
    shape = lambda q: (  # noqa: E731 - the settings a baseline reads, less ref_weeks
        q.baseline_weeks,
        q.baseline_events,
        q.pre_weeks,
        q.min_age_weeks,
        q.phi_prior,
    )
    for q, bl in held:
        if shape(q) != shape(p):
            continue
        if q.ref_weeks == p.ref_weeks:
            return bl
        if p.ref_weeks == 0:
            return replace(bl, slide=np.ones(bl.slide.shape), slide_llr=np.zeros(bl.slide.shape))
    return None


def _block_shifts(part: Grid, s: Counts, bl: Baseline, index: np.ndarray, p: ShiftParams):
    """The level shifts of one block of accounts, as rows, by account then day."""
    hit_k, stats = _search(s, bl, _may_start(bl, index, p), p)
    hit_rows, cols = np.nonzero(hit_k)
    order = np.lexsort((cols, cols + hit_k[hit_rows, cols], hit_rows))  # by account, then day
    last, out = {}, []
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
        for r, c in zip(hit_rows[order].tolist(), cols[order].tolist(), strict=True):
            if r in last and abs(c - last[r]) < p.refractory_weeks:
                continue
            row, off = _date(part, s, bl, int(hit_k[r, c]), r, c, stats, p)
            last[r] = c + off
            out.append(row)
    return out


def _lazy(make):
    """A pool function made on its first call (not at all when every block's baseline is shared)."""
    made = []

    def pooled(*args):
        if not made:
            made.append(make())
        return made[0](*args)

    return pooled


# Account-weeks in one block of the level-shift test: its baselines hold some fifty such
# matrices, so past this many accounts x weeks it runs block by block of accounts, with the
# pooled overdispersion (per week, over every account) read in a pass of its own.
BASELINE_CELLS = 1 << 20


def _grid_rows(grid: Grid, rows: slice) -> Grid:
    return Grid(grid.ids[rows], grid.week_end, grid.events[rows], grid.age[rows])


def _pool(grid: Grid, index: np.ndarray, p: ShiftParams, blocks: list[slice]):
    """adaptive_baseline's pool for a block of accounts: per baseline length, each week's median
    overdispersion over every account at a similar level (as baseline._pooled_phi on all)."""
    n, t = grid.events.shape
    phi: dict[int, np.ndarray] = {}
    band: dict[int, np.ndarray] = {}
    for rows in blocks:

        def collect(length, own, level, valid, rows=rows):
            phi.setdefault(length, np.full((n, t), np.nan))[rows] = np.where(valid, own, np.nan)
            band.setdefault(length, np.full((n, t), -1, dtype=np.int8))[rows] = np.where(
                valid, phi_band(level), -1
            )
            return own

        _baseline(_grid_rows(grid, rows), index, p, collect)
    tables = {length: pool_of(phi[length], band[length]) for length in phi}

    def pooled(length, own, level, valid):
        table = tables[length]
        overall = np.where(np.isnan(table.overall), 1.0, table.overall)
        return pool_spread(table, phi_band(level), overall)

    return pooled


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


# The level-shift detectors' parameters (see `ShiftParams`). Drops: the weeks from s
# average at most `limit` of the baseline median and stay under `sustain_ratio` (one dead
# week is not a drop), the `pre_weeks` just before s were still at `pre_ratio` or more (a slow
# slide is not a drop), and the change is significant for its counts: quasi-Poisson
# log-likelihood ratio at least `penalty` (a small account's noise is not a drop). Confirmed
# after `confirm_weeks` to `max_confirm_weeks` weeks; baseline median at least `min_base`
# events a week; account at least `min_age_weeks` old (not onboarding); one per
# `refractory_weeks`. The account's overdispersion is shrunk towards that of accounts at its
# level (`phi_prior`, see `baseline_stats`); a small account's baseline grows through the
# `baseline_weeks` lengths until it holds `baseline_events` events (`adaptive_baseline`). A
# slide already under way is a slow decline, not a drop: no drop starts where the later half
# of the baseline runs under `min_trend` of its earlier half, or the baseline under
# `min_slide` of the `ref_weeks` before it, when that difference is itself significant (llr
# at least `trend_penalty`, so a small account's noise blocks nothing). No drop starts in a
# shared holiday week (shared index under `holiday_index`). A large account's fall is called
# after `quick_weeks` when its counts alone are overwhelming (llr at least `quick_penalty`, no
# week of the window back near the level): chosen on the demo and holdout profiles (issue 17's
# sweep), it brings the median crisis delay from ~26 to ~17-22 days at the same precision.
# The real step is a fall below half within 4 weeks; a window between `limit` and
# `wide_limit` (half) counts only with a second sign of a step, not an easing: the active users
# fell with it (to `users_ratio` of their 8-week level: half or more gone, the step) or
# it is a step against the 4 weeks just before s (`step_limit`; a slide is already down there).
# Chosen on demo and holdout (seeds 7, 11, 23): mean drop recall .78 -> .82 for 3 more false
# crises over the six runs (users .7 and step .45: .84 for 7 more; see the README's moments
# section).
# Jumps mirror drops (at least `limit` times the baseline, staying above `sustain_ratio`, the
# pre weeks at most `pre_ratio`: steady growth is not a jump); the slide and holiday guards
# are off for them (backtests found they cost jumps).
LEVEL_SHIFTS: dict[str, dict] = {
    "engagement_drop": {
        "down": True,
        "baseline_weeks": (8, 13, 20),
        "baseline_events": 80.0,
        "confirm_weeks": 4,
        "max_confirm_weeks": 12,
        "pre_weeks": 2,
        "limit": 0.35,
        "wide_limit": 0.5,
        "users_ratio": 0.5,
        "step_limit": 0.4,
        "sustain_ratio": 0.7,
        "pre_ratio": 0.6,
        "penalty": 10.0,
        "quick_weeks": 2,
        "quick_penalty": 16.0,
        "min_base": 3.0,
        "min_age_weeks": 12,
        "refractory_weeks": 26,
        "phi_prior": 8.0,
        "min_trend": 0.75,
        "trend_penalty": 2.0,
        "ref_weeks": 26,
        "min_slide": 0.8,
        "holiday_index": 0.8,
    },
    "usage_spike": {
        "down": False,
        "baseline_weeks": (8, 13, 20),
        "baseline_events": 80.0,
        "confirm_weeks": 3,
        "max_confirm_weeks": 6,
        "pre_weeks": 2,
        "limit": 2.0,
        "sustain_ratio": 1.4,
        "pre_ratio": 1.5,
        "penalty": 10.0,
        "min_base": 3.0,
        "min_age_weeks": 12,
        "refractory_weeks": 26,
        "phi_prior": 8.0,
    },
}


def level_shifts(
    grid: Grid, index: np.ndarray, kind: str, users: np.ndarray | None = None, **params
) -> pl.DataFrame:
    """Sudden, sustained drops (`engagement_drop`) or jumps (`usage_spike`) in weekly events
    against each account's own baseline, after dividing out the shared weekly `index`
    (holidays); `users`: the grid's weekly active users (same rows and columns), a second
    signal of a drop; `params` override LEVEL_SHIFTS[kind]."""
    if not grid.ids:
        return pl.DataFrame(schema=SHIFT_SCHEMA)
    p = ShiftParams(kind=kind, **{**LEVEL_SHIFTS[kind], **params})
    return _level_shifts(grid, index, [(p, users)])[0]


def drops_and_jumps(
    grid: Grid,
    index: np.ndarray,
    users: np.ndarray | None = None,
    drop: dict | None = None,
    jump: dict | None = None,
) -> pl.DataFrame:
    """level_shifts(grid, index, "engagement_drop", users, **drop) and then level_shifts(grid,
    index, "usage_spike", **jump) in one frame (its `kind` tells them apart): the same rows, in
    one pass over the accounts that computes a block's baseline once for both."""
    if not grid.ids:
        return pl.DataFrame(schema=SHIFT_SCHEMA)
    tests = [
        (ShiftParams(kind=kind, **{**LEVEL_SHIFTS[kind], **(kw or {})}), u)
        for kind, kw, u in (("engagement_drop", drop, users), ("usage_spike", jump, None))
    ]
    return pl.concat(_level_shifts(grid, index, tests))
