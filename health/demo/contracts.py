"""Contracts over time: renewals, upsells, contractions and churn, decided from latent health."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from health.demo.accounts import Accounts
from health.demo.latent import Latent
from health.demo.profiles import Profile
from health.demo.seasons import Calendar
from health.demo.stories import Plan

MONTH = 30.44


@dataclass
class Contracts:
    """Subscription periods per account, the churn day, and every seat change."""

    periods: list[list[tuple[int, int, float, int, int]]]  # (start, end or -1, mrr, seats, plan)
    churn: np.ndarray  # day index of churn, -1 while a customer
    changes: list[list[tuple[int, str, int, int]]] = field(default_factory=list)
    # per account: (day, "expansion" | "upsell" | "contraction", seats before, seats after)
    lines: list[list[tuple[int, int, float, int, int]]] = field(default_factory=list)
    # per account, as billing exports them: (start, end, mrr, seats or -1, plan or -1 = add-on)


ADDON_PRICE = 0.15  # an add-on line's MRR as a share of its plan line's


def _plus_year(cal: Calendar, day: int, months: int = 12) -> int:
    """The same calendar date a term of `months` later (the month's last day when it has none)."""
    d = cal.date(day)
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for dd in (d.day, 30, 29, 28):
        try:
            return cal.day(date(year, month, dd))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


class _Book:
    """One account's contract history while it is being walked through time."""

    def __init__(self, ctx: _Context, i: int) -> None:
        self.ctx, self.i = ctx, i
        acc = ctx.acc
        self.plan = int(acc.plan[i])
        self.seats = int(acc.seats[i])
        self.factor = float(acc.price_factor[i])
        self.rows: list[tuple[int, int, float, int, int]] = []
        self.changes: list[tuple[int, str, int, int]] = []
        self.start = int(acc.signup[i])
        self.expansion_day = int(ctx.plan.at["expansion"][i])
        self.protect = int(ctx.plan.protect_until[i])
        self.forced = bool(ctx.plan.forced_churn[i])
        self.term = int(ctx.terms[i])  # months per term for term payers

    @property
    def mrr(self) -> float:
        """Monthly price of the current seats and plan, with a volume discount."""
        price = self.ctx.profile.plans[self.plan][1] * self.factor
        discount = 1 - 0.06 * np.log2(max(self.seats, 10) / 10)
        return float(round(self.seats * price * discount))

    def close(self, day: int) -> None:
        """End the current period on `day`; the next one starts the same day."""
        self.rows.append((self.start, day, self.mrr, self.seats, self.plan))
        self.start = day

    def change(self, day: int, kind: str, seats: int, plan: int) -> None:
        """End the current period on `day` and start one with new seats or plan."""
        self.close(day)
        self.changes.append((day, kind, self.seats, seats))
        self.seats, self.plan = seats, plan

    def observed(self, day: int) -> float:
        """Health as the customer weighs it: a few weeks before the decision, never exactly."""
        ctx = self.ctx
        w = max(min(day // 7 - 2, ctx.cal.n_weeks - 1), 0)
        return float(ctx.lat.health[self.i, w]) + ctx.rng.normal(0, 0.8)

    def churns(self, day: int, base: float, nowarn: float) -> bool:
        """Decide at a decision point whether the customer leaves."""
        ctx, prof = self.ctx, self.ctx.profile
        x = base - prof.churn_health * self.observed(day)
        x += prof.churn_price * ctx.acc.price_sensitivity[self.i]
        p = 1.0 / (1.0 + np.exp(-x)) + nowarn
        if day < self.protect:
            return False
        return self.forced or ctx.rng.random() < p

    def expand(self, day: int) -> None:
        """The planted expansion: many more seats, sometimes a higher plan."""
        rng, top = self.ctx.rng, len(self.ctx.profile.plans) - 1
        up = max(self.seats + 1, round(self.seats * rng.uniform(1.3, 1.8)))
        new_plan = min(self.plan + 1, top) if rng.random() < 0.4 else self.plan
        self.change(day, "expansion", up, new_plan)

    def adjust(self, day: int, p_up: float, annual: bool) -> None:
        """At a decision point that renews: maybe contract (unhealthy) or upsell (healthy)."""
        rng, h = self.ctx.rng, self.observed(day)
        if h < -0.9 and rng.random() < 0.35:
            down = max(2, round(self.seats * rng.uniform(0.6, 0.85)))
            new_plan = max(self.plan - 1, 0) if rng.random() < 0.25 else self.plan
            self.change(day, "contraction", down, new_plan)
        elif h > 0.9 and rng.random() < p_up and abs(day - self.expansion_day) > 120:
            more = max(1, round(self.seats * rng.uniform(0.1, 0.3)))
            self.change(day, "upsell", self.seats + more, self.plan)
        elif annual:
            self.close(day)  # a plain renewal is a new contract period


@dataclass
class _Context:
    """What every account's walk reads."""

    profile: Profile
    acc: Accounts
    plan: Plan
    lat: Latent
    cal: Calendar
    rng: np.random.Generator
    terms: np.ndarray  # months per term of each account (12, or 6 for half-year payers)


def _walk_annual(book: _Book) -> int:
    """Yearly terms: churn (mostly) at renewal; returns the churn day or -1."""
    ctx, n_days = book.ctx, book.ctx.cal.n_days
    prof, x_exp = ctx.profile, book.expansion_day
    end = _plus_year(ctx.cal, book.start, book.term)
    while True:
        if book.start < x_exp <= end and x_exp < n_days:
            book.expand(x_exp)  # co-termed upsell: a fresh term from the expansion
            end = _plus_year(ctx.cal, x_exp, book.term)
            continue
        if end >= n_days:
            return -1
        if book.churns(end, prof.churn_base, prof.churn_nowarn):
            if ctx.rng.random() < prof.churn_midterm:
                # Some leave before the term ends (budget cuts, an acquisition).
                lo = max(book.start + 60, book.protect)
                if lo < end:
                    return int(ctx.rng.integers(lo, end))
            return end
        book.adjust(end, 0.08, annual=True)
        end = _plus_year(ctx.cal, end, book.term)


def _walk_monthly(book: _Book) -> int:
    """Monthly payers: may leave any month; changes at quarterly check-points."""
    ctx, n_days = book.ctx, book.ctx.cal.n_days
    prof, x_exp = ctx.profile, book.expansion_day
    m = 1
    while True:
        day = int(ctx.acc.signup[book.i] + round(m * MONTH))
        if book.start < x_exp <= day and x_exp < n_days:
            book.expand(x_exp)
        if day >= n_days:
            return -1
        if book.churns(day, prof.churn_monthly_base, prof.churn_nowarn / 12):
            return day
        if m % 3 == 0:
            book.adjust(day, 0.03, annual=False)
        m += 1


def _billing_days(acc: Accounts, i: int, start: int, end: int) -> list[int]:
    """A monthly payer's billing days in (start, end): signup plus whole months."""
    signup = int(acc.signup[i])
    m = max(1, int((start - signup) / MONTH))
    days = []
    while (day := int(signup + round(m * MONTH))) < end:
        if day > start:
            days.append(day)
        m += 1
    return days


def _plan_lines(acc: Accounts, i: int, periods: list, cal: Calendar) -> list[tuple]:
    """Contract periods as billed: annual terms as they are, monthly payers month by month (the
    open month ends on its next billing day)."""
    if acc.annual[i]:
        return list(periods)
    out = []
    for start, end, mrr, seats, plan in periods:
        stop = end if end >= 0 else cal.n_days
        cuts = [start, *_billing_days(acc, i, start, stop)]
        if end < 0:  # the month running at the end of the data ends on its billing day
            cuts.append(_billing_days(acc, i, cuts[-1], cuts[-1] + 40)[0])
        else:
            cuts.append(end)
        out += [(a, b, mrr, seats, plan) for a, b in zip(cuts, cuts[1:], strict=False)]
    return out


def billing_lines(contracts: Contracts, acc: Accounts, cal: Calendar, rng, addon_share: float):
    """Line items: plan lines, and for a share of accounts an add-on line beside each plan line
    from signup or the first expansion until a contraction (so MRR moves only on days the
    contract already changes)."""
    out = []
    for i, periods in enumerate(contracts.periods):
        plan = _plan_lines(acc, i, periods, cal)
        lines = [(a, b, mrr, seats, p) for a, b, mrr, seats, p in plan]
        if rng.random() < addon_share:
            grows = [d for d, kind, *_ in contracts.changes[i] if kind != "contraction"]
            shrinks = [d for d, kind, *_ in contracts.changes[i] if kind == "contraction"]
            start = int(acc.signup[i]) if rng.random() < 0.6 or not grows else grows[0]
            stop = min([d for d in shrinks if d > start], default=1 << 30)
            lines += [
                (a, b, float(round(mrr * ADDON_PRICE)), -1, -1)
                for a, b, mrr, _seats, _p in plan
                if start <= a < stop
            ]
        out.append(sorted(lines, key=lambda r: (r[0], r[4] < 0)))
    return out


def simulate_contracts(
    profile: Profile,
    acc: Accounts,
    plan: Plan,
    lat: Latent,
    cal: Calendar,
    rng: np.random.Generator,
    addon_share: float = 0.3,
    half_year_share: float = 0.0,
) -> Contracts:
    """Walk every account from signup to churn or the end of data. `half_year_share` of the
    term payers sign six-month terms instead of annual ones."""
    terms = np.full(acc.n, 12)
    if half_year_share > 0:  # no draw otherwise: the default company stays the same
        terms[rng.random(acc.n) < half_year_share] = 6
    ctx = _Context(profile, acc, plan, lat, cal, rng, terms)
    churn = np.full(acc.n, -1, dtype=np.int64)
    periods, changes = [], []
    for i in range(acc.n):
        book = _Book(ctx, i)
        annual = bool(acc.annual[i])
        churned = _walk_annual(book) if annual else _walk_monthly(book)
        # The last period ends on the churn date; else the current annual term runs past the
        # data, and a monthly one is open-ended.
        open_end = _plus_year(cal, book.start, book.term) if annual else -1
        end = churned if churned >= 0 else open_end
        book.rows.append((book.start, end, book.mrr, book.seats, book.plan))
        churn[i] = churned
        periods.append(book.rows)
        changes.append(book.changes)
    out = Contracts(periods, churn, changes)
    out.lines = billing_lines(out, acc, cal, rng, addon_share)
    return out
