"""Daily counts for the daily drop test: the accounts x days matrix, the shared daily index, and
each account's level before every day (baseline windows that grow for small accounts, pooled
overdispersion read on 7-day sums, and the slide already under way before a change).

Everything at a day uses days before it only (causal), and only a bounded number of them: the
index `INDEX_PASSES * level_days` days, a level `pre_days + max(baseline_days) + ref_days`. The
sums over those windows come out bit for bit the same whatever day the matrix starts on (the index
is kept on a binary grid, so running sums of it are exact, and the one sum of fractions is added
up inside its window), so a matrix of the trailing days gives the same levels and index as the
whole history (health/moments/daily.py resumes the test on one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from health.moments.baseline import poisson_llr

# The daily index: each account's level over the `level_days` before a day, read twice (see
# daily_index); a day's index depends on the INDEX_PASSES * level_days days before it.
INDEX_LEVEL_DAYS = 56
INDEX_PASSES = 2
# The index is rounded to multiples of 2^-GRID (a change under 1e-9): sums of such numbers are
# exact in float64 (up to 2^(53 - GRID) = 2 million), so a window's sum of exposure is the same
# computed from running sums that start on any day.
GRID = 32


@dataclass(frozen=True)
class Days:
    """Daily events as a dense matrix: one row per account, one column per day (oldest first)."""

    ids: list[str]
    first_day: dt.date
    events: np.ndarray  # float (accounts, days); NaN outside the account's observed life
    age: np.ndarray  # int (accounts, days): days since signup
    # Active users of the latest complete week by each day, that week's first day (column),
    # and their usual number: the median of the 8 weeks before the week holding the day.
    users: np.ndarray | None = None
    users_from: np.ndarray | None = None
    users_level: np.ndarray | None = None


def build_days(
    daily: pl.DataFrame,
    accounts: pl.DataFrame,
    as_of: dt.date,
    weekly: pl.DataFrame | None = None,
    since: dt.date | None = None,
    first_day: dt.date | None = None,
) -> Days:
    """The matrix form of the daily counts (account_id, day, events) over each account's life:
    from signup (or the export's first day) to the day before churn, up to `as_of`; with the
    `weekly` frame (account_id, week_end, active_users), the active users beside them. `since`:
    only the days from then on (the trailing window a resumed test reads). `first_day`: the
    matrix's first column, as given (a block of the accounts laid out like all of them)."""
    daily = daily.filter(pl.col("day") <= as_of)
    if (daily.is_empty() and first_day is None) or accounts.is_empty():
        return Days([], as_of, np.zeros((0, 0)), np.zeros((0, 0), dtype=np.int64))
    first = daily["day"].min() if first_day is None else first_day
    if since is not None and since > first:
        first = since
    if first_day is not None or since is not None:
        daily = daily.filter(pl.col("day") >= first)
    n_days = (as_of - first).days + 1
    acc = accounts.select("account_id", "signup_date", "churn_date").sort("account_id")
    ids = acc["account_id"].to_list()
    col = np.arange(n_days)
    signup = np.array([(d - first).days for d in acc["signup_date"]])
    churn = np.array([n_days if d is None else (d - first).days for d in acc["churn_date"]])
    alive = (col[None, :] >= np.maximum(signup, 0)[:, None]) & (col[None, :] < churn[:, None])
    events = np.where(alive, 0.0, np.nan)
    keep = daily.join(_rows(ids), on="account_id")
    r = keep["row"].to_numpy()
    c = (keep["day"] - first).dt.total_days().to_numpy()
    events[r, c] = np.where(alive[r, c], keep["events"].cast(pl.Float64).to_numpy(), np.nan)
    age = col[None, :] - signup[:, None]
    if weekly is None or weekly.is_empty() or "active_users" not in weekly.columns:
        return Days(ids, first, events, age)
    return Days(ids, first, events, age, *_users(weekly, ids, first, n_days))


def _users(weekly: pl.DataFrame, ids: list[str], first: dt.date, n_days: int):
    """Weekly active users laid out by day: the latest complete week by each day, the first day
    of that week, and the usual number before the week holding each day (8-week median)."""
    w = (
        weekly.filter(pl.col("account_id").is_in(ids))
        .select("account_id", "week_end", pl.col("active_users").cast(pl.Float64))
        .sort("account_id", "week_end")
        .with_columns(
            level=pl.col("active_users").shift(1).rolling_median(8).over("account_id"),
            col=(pl.col("week_end") - first).dt.total_days(),
        )
    )
    shape = (len(ids), n_days)
    now, since, level = np.full(shape, np.nan), np.full(shape, -1e9), np.full(shape, np.nan)
    w = w.filter(pl.col("col").is_between(-6, n_days - 1)).join(_rows(ids), on="account_id")
    r = w["row"].to_numpy()
    c = w["col"].to_numpy()
    inside = c >= 0
    now[r[inside], c[inside]] = w["active_users"].to_numpy()[inside]
    since[r[inside], c[inside]] = c[inside] - 6
    # Each day of a week gets the level from before that week.
    lv = w["level"].to_numpy()
    for k in range(7):
        day = c - k
        ok = (day >= 0) & (day < n_days)
        level[r[ok], day[ok]] = lv[ok]
    # Forward-fill the latest complete week to the days after it.
    idx = np.where(~np.isnan(now), np.arange(n_days)[None, :], 0)
    idx = np.maximum.accumulate(idx, axis=1)
    rows = np.arange(len(ids))[:, None]
    return now[rows, idx], since[rows, idx], level


def _rows(ids: list[str]) -> pl.DataFrame:
    """The matrix row of each account (account_id, row)."""
    return pl.DataFrame({"account_id": ids, "row": np.arange(len(ids), dtype=np.int64)})


def cum(x: np.ndarray) -> np.ndarray:
    """Running sums along days with a leading zero column (NaN counts as 0)."""
    zero = np.zeros((x.shape[0], 1))
    return np.concatenate([zero, np.cumsum(np.nan_to_num(x), axis=1)], axis=1)


def _between(cum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums over columns [lo, hi) of each row from its running sums (lo, hi clipped to range);
    bounds of shape (1, columns) are the same for every row (whole columns are gathered)."""
    n = cum.shape[1] - 1
    if lo.ndim == 2 and lo.shape[0] == 1 and hi.shape[0] == 1:
        return cum[:, np.clip(hi[0], 0, n)] - cum[:, np.clip(lo[0], 0, n)]
    rows = np.arange(cum.shape[0])[:, None] if lo.ndim == 2 else np.arange(cum.shape[0])
    return cum[rows, np.clip(hi, 0, n)] - cum[rows, np.clip(lo, 0, n)]


def on_grid(x: np.ndarray) -> np.ndarray:
    """`x` rounded to a multiple of 2^-GRID (exactly: scaling by a power of two is exact)."""
    return np.rint(x * 2.0**GRID) / 2.0**GRID


def daily_index(
    days: Days | Callable[[], Iterable[Days]],
    *,
    level_days: int = INDEX_LEVEL_DAYS,
    min_age_days: int = 84,
    min_accounts: int = 20,
):
    """Each day's usage across accounts relative to their usual daily level (1 = an average day).

    It carries the week's rhythm and every shared holiday, so neither is anyone's drop. Each
    account's level is its rate over the `level_days` before the day (causal), itself read
    against the index of those days: the first pass's levels are low after a holiday, which
    would make every ordinary day after it look busy, so a second pass divides that out.

    `days`: the matrix, or a function giving it again block by block of accounts (each pass
    reads every block; the sums over accounts are added row after row in the same order as on
    the whole matrix, so the index is the same bit for bit)."""
    blocks = (lambda: [days]) if isinstance(days, Days) else days
    index = None
    for _ in range(INDEX_PASSES):
        num = den = count = None
        for block in blocks():
            e = block.events
            n, t = e.shape
            index = np.ones(t) if index is None else index
            if n == 0:
                continue
            seen = ~np.isnan(e)
            cx, cn = cum(e), cum(seen)
            col = np.arange(t)[None, :]  # the same for every row: whole columns are gathered
            x, k = _between(cx, col - level_days, col), _between(cn, col - level_days, col)
            g = _between(cum(np.where(seen, index[None, :], 0.0)), col - level_days, col)
            level = np.where(k == level_days, x / np.maximum(g, 1e-9), np.nan)
            ok = (block.age >= min_age_days) & (level > 0) & seen
            num = _add_rows(num, np.where(ok, e, 0))
            den = _add_rows(den, np.where(ok, level, 0))
            count = _add_rows(count, ok)
        if num is None:
            return index
        enough = (count >= min_accounts) & (den > 0)
        index = on_grid(np.clip(np.where(enough, num / np.maximum(den, 1e-9), 1.0), 0.02, 5.0))
    return index


def _add_rows(total: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """`total` plus the sum of `rows` over axis 0, added one row after the other (as numpy sums
    a matrix over its rows), so blocks of rows sum to what the whole matrix does, bit for bit."""
    if total is None:
        return rows.sum(axis=0)
    return np.concatenate([total[None, :], rows.astype(total.dtype)]).sum(axis=0)


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


def _window_sums(x: np.ndarray, hi: np.ndarray, width: np.ndarray, lengths: list[int]):
    """Per cell, the sum of `x` over the `width` columns before column `hi` (clipped to the
    matrix), for widths among the baseline `lengths` less 6. The fractions are added in blocks
    of 1, 2, 4, 8... columns from the window's first column on, so a sum depends only on what is
    inside its window, not on the day the matrix starts (a running sum's difference would)."""
    widths = sorted({length - 6 for length in lengths})
    top = widths[-1]
    cols = np.clip(hi[0] if hi.ndim == 2 else hi, 0, x.shape[1])
    if cols.size == 0:
        return np.zeros(hi.shape)
    # Only the columns the asked-for windows read (a window's sum is the same wherever the
    # matrix starts): a resumed test asks for its last weeks' columns only.
    first = max(int(cols.min()) - top, 0)
    x, cols = x[:, first : int(cols.max())], cols - first
    n, t = x.shape
    # sums[w][:, j]: x's `w` columns before column j (zeros before the first)
    block = np.concatenate([np.zeros((n, top)), x], axis=1)
    starts = t + 1
    sums = {w: np.zeros((n, starts)) for w in widths}
    offset = {w: top - w for w in widths}
    size = 1
    while size <= top:
        for w in widths:
            if w & size:
                sums[w] += block[:, offset[w] : offset[w] + starts]
                offset[w] += size
        block = block[:, :-size] + block[:, size:]
        size *= 2
    out = np.zeros(hi.shape)
    for w in widths:
        out = np.where(width == w, sums[w][:, cols], out)
    return out


def _pooled(phi: np.ndarray, per_week: np.ndarray, ok: np.ndarray, min_accounts: int = 10):
    """Each account's overdispersion shrunk half-way (geometric mean) towards that day's median
    of accounts whose level is within a doubling of its own (all accounts when a band holds
    fewer than `min_accounts`); only that day's baselines go in, so it stays causal."""
    return pool_with(pool_medians(phi, per_week, ok), phi, per_week, min_accounts)


def phi_band(per_week: np.ndarray) -> np.ndarray:
    """The level band of each cell (log2 of its weekly events, 0 to 12) the pooling reads."""
    band = np.floor(np.log2(np.maximum(np.nan_to_num(per_week, nan=1.0), 1.0))).astype(np.int64)
    return np.minimum(band, 12)


@dataclass(frozen=True)
class Pool:
    """Per day (column): the median overdispersion over the accounts that pool (NaN: none),
    and per level band, that median and how many accounts it is over."""

    overall: np.ndarray  # (days,)
    median: np.ndarray  # (bands, days)
    count: np.ndarray  # int (bands, days)


def pool_medians(phi: np.ndarray, per_week: np.ndarray, ok: np.ndarray, block: int = 64) -> Pool:
    """The pooling's medians of `phi` over the `ok` cells of each column, over all of them and
    per band: exactly numpy's nanmedian (the middle value, or the mean of the two middle ones),
    from one sort per block of columns."""
    return pool_of(np.where(ok, phi, np.nan), np.where(ok, phi_band(per_week), -1), block)


def pool_of(phi: np.ndarray, band: np.ndarray, block: int = 64) -> Pool:
    """Pool from `phi` (NaN where a cell does not pool) and its band (-1 where it does not)."""
    bands, t = 13, phi.shape[1]
    overall = np.full(t, np.nan)
    median = np.full((bands, t), np.nan)
    count = np.zeros((bands, t), dtype=np.int64)
    for a in range(0, t, block):
        p, b = phi[:, a : a + block], band[:, a : a + block].astype(np.int64)
        width = p.shape[1]
        cols = np.arange(width)
        real = ~np.isnan(p)
        overall[a : a + width] = _middle(np.sort(p, axis=0), real.sum(axis=0), 0)
        per_band = (b[None, :, :] == np.arange(bands)[:, None, None]).sum(axis=1)
        count[:, a : a + width] = per_band
        # sorted by band, then value; NaN values (and cells outside every band) go last
        key = np.where(real & (b >= 0), b, bands)
        order = np.lexsort((p, key), axis=0)
        s = np.take_along_axis(p, order, axis=0)
        k = np.take_along_axis(key, order, axis=0)
        held = np.stack([((k == i) & ~np.isnan(s)).sum(axis=0) for i in range(bands)])
        starts = np.concatenate([np.zeros((1, width), dtype=np.int64), held.cumsum(axis=0)])
        for i in range(bands):
            median[i, a : a + width] = _middle(s, held[i], starts[i], cols)
    return Pool(overall, median, count)


def _middle(s: np.ndarray, n: np.ndarray, start, cols=None) -> np.ndarray:
    """Per column of sorted values `s`: the median of the `n` values from row `start` (NaN when
    there are none), as numpy's median computes it."""
    cols = np.arange(s.shape[1]) if cols is None else cols
    last = s.shape[0] - 1
    if last < 0:
        return np.full(s.shape[1], np.nan)
    lo = s[np.clip(start + (n - 1) // 2, 0, last), cols]
    hi = s[np.clip(start + n // 2, 0, last), cols]
    with np.errstate(all="ignore"):
        mid = np.where(n % 2 == 1, lo, (lo + hi) / 2)
    return np.where(n > 0, mid, np.nan)


def pool_with(pool: Pool, phi: np.ndarray, per_week: np.ndarray, min_accounts: int = 10):
    """Each cell's overdispersion shrunk towards its band's median of the day (see _pooled)."""
    out = pool_spread(pool, phi_band(per_week), np.nan_to_num(pool.overall, nan=1.0), min_accounts)
    return np.maximum(1.0, np.sqrt(np.maximum(phi, 1.0) * np.maximum(out, 1.0)))


def pool_spread(pool: Pool, band: np.ndarray, overall: np.ndarray, min_accounts: int = 10):
    """Per cell, its band's median of the day (column) when that band holds `min_accounts`
    accounts that day, else `overall` (the median of all, filled where there is none)."""
    out = np.broadcast_to(overall, band.shape).copy()
    for b in np.flatnonzero((pool.count >= min_accounts).any(axis=1)):
        use = (band == b) & (pool.count[b] >= min_accounts)[None, :]
        out[use] = np.broadcast_to(pool.median[b], band.shape)[use]
    return out


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
    since: int = 0,
    pool: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> Level:
    """The account's level before every day s from column `since` on (the arrays start there):
    the shortest `baseline_days` window (ending `pre_days` before s) that holds
    `baseline_events` events, else the longest its life allows. `pool(phi, per_week, valid)`:
    the pooled overdispersion (default: pooled over these accounts; a block of the accounts
    is given the pool of all of them)."""
    e = days.events
    seen = ~np.isnan(e)
    cx, cg, cn = cum(e), cum(np.where(seen, g, 0.0)), cum(seen)
    # Counts are overdispersed at the week's scale (a busy week, a user's week off), not just
    # the day's: the dispersion is read on 7-day sums, so a quiet week weighs what it should.
    x7, t7 = (c[:, 7:] - c[:, :-7] for c in (cx, cg))
    pad = np.zeros((e.shape[0], 6))
    x7, t7 = np.concatenate([pad, x7], axis=1), np.concatenate([pad, t7], axis=1)
    c7x, c7t = cum(x7), cum(t7)
    q7 = np.where(t7 > 0.05, x7 * x7 / np.maximum(t7, 0.05), 0.0)
    s = np.arange(since, e.shape[1])[None, :]  # the same for every row
    hi = s - pre_days
    e_shape = (e.shape[0], s.shape[1])
    pick = None
    for length in sorted(baseline_days):
        lo = hi - length
        x, t = _between(cx, lo, hi), _between(cg, lo, hi)
        full = (_between(cn, lo, hi) == length) & (lo >= 0)
        cand = (x, t, np.broadcast_to(lo, e_shape), np.full(e_shape, length), full)
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
        sx, st = (_between(c, w_lo, hi) for c in (c7x, c7t))
        q = _window_sums(q7, hi, length - 6, list(baseline_days))
        m = np.maximum(hi - w_lo - 1, 1)
        pearson = q / np.maximum(rate, 1e-9) - 2 * sx + rate * st
        phi = np.where(rate > 0, pearson / m, 1.0)
        per_week = 7 * x / np.maximum(length, 1)
        age = days.age[:, since:]
        valid = full & (_between(cn, hi, s) == pre_days) & (age - pre_days >= min_age_days)
        valid &= per_week >= min_per_week
        # the pool reads the above only (blocks.py's first pass stops in it)
        phi = (pool or _pooled)(phi, per_week, valid)
        x_pre, t_pre = _between(cx, hi, s), _between(cg, hi, s)
        pre = (x_pre / np.maximum(t_pre, 1e-9)) / np.maximum(rate, 1e-9)
        mid = lo + length // 2
        x1, t1 = _between(cx, lo, mid), _between(cg, lo, mid)
        x2, t2 = _between(cx, mid, hi), _between(cg, mid, hi)
        trend = (x2 / np.maximum(t2, 1e-9)) / np.maximum(x1 / np.maximum(t1, 1e-9), 1e-9)
        trend_llr = poisson_llr(x1, t1, x2, t2) / phi
        # The months before the baseline: was the account already sliding into it?
        x_ref, t_ref = _between(cx, lo - ref_days, lo), _between(cg, lo - ref_days, lo)
        has_ref = (_between(cn, lo - ref_days, lo) == ref_days) & (lo - ref_days >= 0)
        slide = np.where(has_ref, rate / np.maximum(x_ref / np.maximum(t_ref, 1e-9), 1e-9), 1.0)
        slide_llr = np.where(has_ref, poisson_llr(x_ref, t_ref, x, t) / phi, 0.0)
    return Level(
        rate, per_week, length, phi, pre, trend, trend_llr, slide, slide_llr, x_pre, t_pre, valid
    )
