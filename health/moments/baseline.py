"""The level an account had before a candidate change week: baseline windows that grow for
small accounts, pooled overdispersion, and the slide already under way before the change.

Every statistic is per account and candidate week s, computed for all of them at once on the
accounts x weeks matrix, from weeks before s only (causal).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Values sorted at once by window_median: windows of many accounts are taken block by block of
# accounts (rows), so its copies stay this size whatever the number of accounts.
MEDIAN_CELLS = 1 << 21


def window_median(windows: np.ndarray) -> np.ndarray:
    """NaN-skipping median over the last axis; np.nanmedian is ~20x slower on small windows."""
    if windows.ndim == 3 and windows.size > MEDIAN_CELLS and windows.shape[0] > 1:
        size = max(1, MEDIAN_CELLS // (windows.size // windows.shape[0]))
        return np.concatenate(
            [window_median(windows[a : a + size]) for a in range(0, windows.shape[0], size)]
        )
    ordered = np.sort(windows, axis=-1)  # NaN sorts last
    n = np.sum(~np.isnan(windows), axis=-1)
    lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(ordered, (n // 2)[..., None], axis=-1)[..., 0]
    return np.where(n > 0, (lo + hi) / 2, np.nan)


def trailing(x: np.ndarray, width: int) -> np.ndarray:
    """Windows of the `width` columns before each column: shape (rows, cols, width), NaN-padded."""
    pad = np.full((x.shape[0], width), np.nan)
    return sliding_window_view(np.concatenate([pad, x], axis=1), width, axis=1)[:, : x.shape[1]]


def leading(x: np.ndarray, width: int) -> np.ndarray:
    """Windows of each column and the `width - 1` after it: shape (rows, cols, width)."""
    pad = np.full((x.shape[0], width - 1), np.nan)
    return sliding_window_view(np.concatenate([x, pad], axis=1), width, axis=1)


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
    trend: np.ndarray  # rate of the baseline's later half over that of its earlier half
    trend_llr: np.ndarray  # quasi-Poisson log-likelihood ratio of that difference
    weeks: np.ndarray  # int: length of the baseline used
    slide: np.ndarray  # baseline rate over the rate of the `ref_weeks` before the baseline
    slide_llr: np.ndarray  # quasi-Poisson log-likelihood ratio of that difference


def _pooled_phi(phi: np.ndarray, level: np.ndarray, ok: np.ndarray, min_accounts: int = 10):
    """Per week, the median overdispersion of the accounts at a similar level (a doubling band).

    Only the candidate week's own baseline windows go in (causal), and only valid ones; a band
    with fewer than `min_accounts` accounts that week falls back to all of them.
    """
    band = np.floor(np.log2(np.maximum(np.nan_to_num(level, nan=1.0), 1.0))).astype(np.int64)
    band = np.minimum(band, 12)
    overall = window_median(np.where(ok, phi, np.nan).T)
    out = np.broadcast_to(np.where(np.isnan(overall), 1.0, overall), phi.shape).copy()
    for b in np.unique(band[ok]):
        inside = ok & (band == b)
        med = window_median(np.where(inside, phi, np.nan).T)
        use = (band == b) & (inside.sum(axis=0) >= min_accounts)[None, :]
        out[use] = np.broadcast_to(med, phi.shape)[use]
    return out


def window_sums(x: np.ndarray, skip: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the non-NaN values over the `width` columns ending `skip` columns
    before each column (cut at the first column): nansum and the count of
    `trailing(x, skip + width)[:, :, :width]`, from two running sums instead of the windows."""
    seen = ~np.isnan(x)
    zero = np.zeros((x.shape[0], 1))
    total = np.concatenate([zero, np.cumsum(np.where(seen, x, 0.0), axis=1)], axis=1)
    count = np.concatenate([zero, np.cumsum(seen, axis=1)], axis=1)
    col = np.arange(x.shape[1])
    hi, lo = np.clip(col - skip, 0, None), np.clip(col - skip - width, 0, None)
    return total[:, hi] - total[:, lo], count[:, hi] - count[:, lo]


def poisson_llr(x_b, t_b, x_a, t_a) -> np.ndarray:
    """Log-likelihood ratio of two Poisson rates against one (counts x over exposures t)."""

    def xlogy(x, y):
        return np.where(x > 0, x * np.log(np.maximum(y, 1e-12)), 0.0)

    pooled = (x_b + x_a) / np.maximum(t_b + t_a, 1e-12)
    return (
        xlogy(x_b, x_b / np.maximum(t_b, 1e-12))
        + xlogy(x_a, x_a / np.maximum(t_a, 1e-12))
        - xlogy(x_b + x_a, pooled)
    )


def baseline_stats(
    events: np.ndarray,
    age: np.ndarray,
    index: np.ndarray,
    *,
    baseline_weeks: int,
    pre_weeks: int,
    min_age_weeks: int,
    phi_prior: float = 0.0,
    ref_weeks: int = 0,
    pool: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> Baseline:
    """The level before every candidate week: `baseline_weeks` ending `pre_weeks` before it.

    With `phi_prior` > 0 an account's own overdispersion (a variance over a few noisy weeks)
    is shrunk towards the median of accounts at a similar level that week, weighing the pooled
    value like `phi_prior` weeks of the account's own. `pool(phi, level, valid)`: that median
    per cell (default: over these accounts; a block of the accounts is given all of theirs).
    """
    e = events
    norm = e / index[None, :]
    g = np.where(np.isnan(e), np.nan, np.broadcast_to(index, e.shape))  # exposure where seen
    span = baseline_weeks + pre_weeks  # the pre weeks are judged apart from the baseline
    with (
        np.errstate(all="ignore"),
        warnings.catch_warnings(action="ignore", category=RuntimeWarning),
    ):
        # Sums over the baseline window [s - span, s - pre_weeks) come from running sums; only
        # its median needs the windows themselves.
        base = window_median(trailing(norm, span)[:, :, :baseline_weeks])
        s1, n = window_sums(norm, pre_weeks, baseline_weeks)
        s2, _ = window_sums(norm * norm, pre_weeks, baseline_weeks)
        x, _ = window_sums(e, pre_weeks, baseline_weeks)
        t, _ = window_sums(g, pre_weeks, baseline_weeks)
        mean = s1 / n
        var = np.where(n > 1, np.maximum(s2 - s1 * s1 / n, 0.0) / (n - 1), np.nan)
        phi = np.maximum(1.0, np.where(mean > 0, var / mean, 1.0))
        pre_sum, pre_n = window_sums(norm, 0, pre_weeks)
        pre = (pre_sum / pre_n) / np.maximum(base, 1e-9)
        valid = (n == baseline_weeks) & (pre_n == pre_weeks) & (age >= min_age_weeks) & (base > 0)
        base_raw = x / n
        if phi_prior > 0:
            pooled = (pool or _pooled_phi)(phi, base_raw, valid)
            own = baseline_weeks - 1
            phi = np.maximum(1.0, (phi_prior * pooled + own * phi) / (phi_prior + own))
        # The slide before s: the later half's rate against the earlier half's, counted (a
        # small account's halves differ by chance; its llr says how much that means).
        half = baseline_weeks // 2
        x_early, _ = window_sums(e, span - half, half)
        t_early, _ = window_sums(g, span - half, half)
        x_late, _ = window_sums(e, pre_weeks, baseline_weeks - half)
        t_late, _ = window_sums(g, pre_weeks, baseline_weeks - half)
        trend = (x_late / np.maximum(t_late, 1e-9)) / np.maximum(x_early / t_early, 1e-9)
        trend_llr = poisson_llr(x_early, t_early, x_late, t_late) / phi
        # The months before the baseline: was the account already sliding into it?
        full = (np.arange(e.shape[1]) >= span + ref_weeks)[None, :] & (ref_weeks > 0)
        x_ref = np.where(full, window_sums(e, span, ref_weeks)[0], 0.0)
        t_ref = np.where(full, window_sums(g, span, ref_weeks)[0], 0.0)
        slide = np.where(t_ref > 0, (x / np.maximum(t, 1e-9)) / np.maximum(x_ref / t_ref, 1e-9), 1)
        slide_llr = np.where(t_ref > 0, poisson_llr(x_ref, t_ref, x, t) / phi, 0.0)
        return Baseline(
            base,
            base_raw,
            x,
            t,
            phi,
            pre,
            valid,
            trend,
            trend_llr,
            np.full(e.shape, baseline_weeks, dtype=np.int64),
            slide,
            slide_llr,
        )


def adaptive_baseline(
    events: np.ndarray,
    age: np.ndarray,
    index: np.ndarray,
    *,
    baseline_weeks: int | tuple[int, ...],
    baseline_events: float,
    pre_weeks: int,
    min_age_weeks: int,
    phi_prior: float = 0.0,
    ref_weeks: int = 0,
    pool: Callable[..., np.ndarray] | None = None,
) -> Baseline:
    """The shortest of the `baseline_weeks` lengths that holds `baseline_events` events.
    `pool(length, phi, level, valid)`: the pooled overdispersion of each length (baseline_stats).

    A large account's level is known from a few recent weeks; a small one needs months of its
    sparse counts before a fall or a jump can be told from noise. Where no length holds enough,
    the longest one the account's history allows is used.
    """
    lengths = sorted({baseline_weeks} if isinstance(baseline_weeks, int) else set(baseline_weeks))
    kw = {"pre_weeks": pre_weeks, "min_age_weeks": min_age_weeks, "phi_prior": phi_prior}
    kw["ref_weeks"] = ref_weeks

    def stats(length: int) -> Baseline:
        own = None if pool is None else partial(pool, length)
        return baseline_stats(events, age, index, baseline_weeks=length, pool=own, **kw)

    out = stats(lengths[0])
    if len(lengths) == 1:
        return out
    chosen = {f.name: getattr(out, f.name).copy() for f in fields(Baseline)}
    enough = out.valid & (out.x >= baseline_events)
    for length in lengths[1:]:
        longer = stats(length)
        # Still short of events: a longer window, where the account's history has one.
        take = ~enough & longer.valid & chosen["valid"]
        for name in chosen:
            chosen[name] = np.where(take, getattr(longer, name), chosen[name])
        enough |= take & (longer.x >= baseline_events)
    return Baseline(**chosen)
