"""The daily drop test block by block of accounts: memory bounded whatever the number of accounts.

The test on the whole accounts x days matrix (daily.track) holds some forty such matrices at
once, so its memory grew with the accounts (1.8 GB at 4,000 accounts x 913 days). Almost all of
it is per account: an account's levels, CUSUMs and drops read its own days only. Two things read
every account, both per day: the shared daily index (sums over accounts) and the pooled
overdispersion (medians over the accounts at a similar level). So the test runs in three passes
over blocks of `CELLS` accounts x days, each block built again from the long frame when needed:
the index (days.daily_index, its sums added row after row as on the whole matrix), the pool's
medians (from one float and one band per account and day: a tenth of a matrix's width each), and
the levels, CUSUMs and drops of each block. The result is the whole-matrix test's, bit for bit
(tests/test_moments_daily.py checks it on small blocks); smaller matrices are also faster (they
stay in the processor's caches).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import polars as pl

from health.moments.daily import (
    DAILY_DROP,
    STATE_SCHEMA,
    _cusum,
    _from,
    _rhos,
    _Run,
    _starts_ok,
    _state_in,
    _state_out,
    drop_row,
)
from health.moments.days import (
    Days,
    _users,
    build_days,
    cum,
    daily_index,
    day_level,
    phi_band,
    pool_of,
    pool_with,
)
from health.moments.levels import SHIFT_SCHEMA

CELLS = 1 << 19  # accounts x days in one block (a float matrix of 4 MB)
# Account-days of block matrices (counts and ages: 16 bytes each) kept from one pass to the next.
KEPT_CELLS = 1 << 22
LEVEL_KEYS = ("baseline_days", "baseline_events", "pre_days", "min_age_days", "min_per_week")


def track_blocks(
    daily: pl.DataFrame,
    accounts: pl.DataFrame,
    as_of: dt.date,
    weekly: pl.DataFrame | None = None,
    *,
    since: dt.date | None = None,
    state: pl.DataFrame | None = None,
    keep_days: int = 0,
    cells: int = CELLS,
    **params,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """daily.track(days, daily_index(days), state, keep_days, **params) on the matrix
    days = build_days(daily, accounts, as_of, weekly, since), computed block by block of
    accounts: the same drops and states."""
    p = {**DAILY_DROP, **params}
    daily = daily.filter(pl.col("day") <= as_of)
    if daily.is_empty() or accounts.is_empty():
        return pl.DataFrame(schema=SHIFT_SCHEMA), pl.DataFrame(schema=STATE_SCHEMA)
    blocks = _Blocks(daily, accounts, as_of, weekly, since, cells)
    index = daily_index(lambda: (blocks.days(i) for i in range(blocks.count)))
    n_days = blocks.n_days
    first = 0 if state is None else (state["day"].max() - blocks.first).days + 1
    since_col = max(first + 1 - p["max_days"], 0)  # the oldest start a running CUSUM can have
    level_kw = {"ref_days": p["ref_days"], "since": since_col, **{k: p[k] for k in LEVEL_KEYS}}

    # The pool: each account's own overdispersion and level band on every day, then the medians.
    phi = np.full((len(blocks.ids), n_days - since_col), np.nan)
    band = np.full(phi.shape, -1, dtype=np.int8)
    for i in range(blocks.count):
        days, rows = blocks.days(i), blocks.rows(i)

        def collect(own, per_week, valid, rows=rows):
            phi[rows] = np.where(valid, own, np.nan)
            band[rows] = np.where(valid, phi_band(per_week), -1)
            raise _Pooled  # the rest of the levels waits for the pool: computed in the next pass

        with contextlib.suppress(_Pooled):
            day_level(days, _exposure(days, index), pool=collect, **level_kw)
    pool = pool_of(phi, band)
    phi = band = None  # the medians are all the blocks need of them

    view = SimpleNamespace(ids=blocks.ids, first_day=blocks.first + dt.timedelta(days=since_col))
    held = _state_in(state, view, len(_rhos(p)))
    keep_from = max(n_days - keep_days, first) - since_col if keep_days else None
    found, kept = [], []
    for i in range(blocks.count):
        days, rows = blocks.days(i, users=True), blocks.rows(i)
        g = _exposure(days, index)
        lv = day_level(days, g, pool=lambda *a: pool_with(pool, *a[:2]), **level_kw)
        part = _from(days, since_col)
        x0, cx, cg = (
            np.nan_to_num(part.events),
            cum(days.events)[:, since_col:],
            cum(g)[:, since_col:],
        )
        run = _Run(part, lv, _starts_ok(lv, p), g[:, since_col:], x0, cx, cg)
        start = None
        if held is not None:
            day, cusum, starts, quiet = held
            start = (day, cusum[:, rows].copy(), starts[:, rows].copy(), quiet[rows].copy())
        with np.errstate(all="ignore"), warnings.catch_warnings(action="ignore"):
            got, states = _cusum(run, p, start, keep_from)
        for r, s, d, ratio, score, fall in got:
            row = drop_row(part, lv, r, s, d, ratio, score)
            found.append(((d, fall, rows.start + r), row))
        kept.append(states)
    # in the whole-matrix test's order: by day, fall size, account
    out = pl.DataFrame([row for _, row in sorted(found, key=lambda f: f[0])], schema=SHIFT_SCHEMA)
    return out, _state_out(_joined(kept), view)


class _Pooled(Exception):
    """The pool's inputs of a block are in: day_level need go no further on this pass."""


def _exposure(days: Days, index: np.ndarray) -> np.ndarray:
    """The shared daily index where the account is seen, else 0."""
    e = days.events
    return np.where(~np.isnan(e), np.broadcast_to(index, e.shape), 0.0)


def _joined(kept: list[list]) -> list:
    """The blocks' states at the end of each kept day, joined into all accounts' states."""
    if not kept or not kept[0]:
        return []
    out = []
    for j, (d, _, _, _) in enumerate(kept[0]):
        parts = [block[j] for block in kept]
        out.append(
            (
                d,
                np.concatenate([x[1] for x in parts], axis=1),
                np.concatenate([x[2] for x in parts], axis=1),
                np.concatenate([x[3] for x in parts]),
            )
        )
    return out


class _Blocks:
    """The accounts (sorted, as build_days lays them out) in blocks, and each block's matrix."""

    def __init__(self, daily, accounts, as_of, weekly, since, cells):
        first = daily["day"].min()
        if since is not None and since > first:
            first = since
        self.first, self.as_of = first, as_of
        self.n_days = (as_of - first).days + 1
        self.accounts = accounts.select("account_id", "signup_date", "churn_date").sort(
            "account_id"
        )
        self.ids = self.accounts["account_id"].to_list()
        self.size = max(1, cells // self.n_days)
        self.count = -(-len(self.ids) // self.size)
        block = pl.DataFrame(
            {
                "account_id": self.ids,
                "_block": np.arange(len(self.ids), dtype=np.int64) // self.size,
            }
        )

        def parts(frame: pl.DataFrame) -> dict[int, pl.DataFrame]:
            split = frame.join(block, on="account_id").partition_by(
                "_block", as_dict=True, include_key=False
            )
            return {key[0]: part for key, part in split.items()}

        self.daily = parts(daily.filter(pl.col("day") >= first))
        self.kept: dict[int, Days] = {}
        self.empty = daily.clear()
        self.users = None
        if weekly is not None and not weekly.is_empty() and "active_users" in weekly.columns:
            self.users = parts(weekly)
            self.no_users = weekly.clear()

    def rows(self, i: int) -> slice:
        return slice(i * self.size, min((i + 1) * self.size, len(self.ids)))

    def days(self, i: int, users: bool = False) -> Days:
        """Block i's matrix, from the same first day as all of them (with the active users).
        The first KEPT_CELLS account-days are kept for the next pass instead of built again."""
        days = self.kept.get(i)
        if days is None:
            days = build_days(
                self.daily.get(i, self.empty),
                self.accounts[self.rows(i)],
                self.as_of,
                first_day=self.first,
            )
            if (len(self.kept) + 1) * self.size * self.n_days <= KEPT_CELLS:
                self.kept[i] = days
        if not users or self.users is None:
            return days
        weekly = self.users.get(i, self.no_users)
        return replace(
            days,
            **dict(
                zip(
                    ("users", "users_from", "users_level"),
                    _users(weekly, days.ids, self.first, self.n_days),
                    strict=True,
                )
            ),
        )
