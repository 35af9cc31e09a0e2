"""The customer base: who the accounts are, when they signed up, how well they fit the product."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from health.demo.names import company_names, slug
from health.demo.profiles import Profile
from health.demo.seasons import Calendar


@dataclass
class Accounts:
    """One entry per account, in signup order (IDs follow signup)."""

    ids: list[str]
    names: list[str]
    domains: list[str]
    segment: np.ndarray  # index into profile.segments
    industry: np.ndarray
    region: np.ndarray
    csm: np.ndarray
    signup: np.ndarray  # day index
    fit: np.ndarray  # latent product fit, N(0, 1): the slow part of health
    level: np.ndarray  # usage intensity per active user, relative to the segment's typical
    active_target: np.ndarray  # users active at steady state
    seats: np.ndarray  # seats bought at signup
    plan: np.ndarray  # index into profile.plans, at signup
    annual: np.ndarray  # bool: annual contract (else monthly)
    price_factor: np.ndarray  # paid price per seat relative to list
    price_sensitivity: np.ndarray  # N(0, 1); drives price churn, visible through price_factor
    n_advanced: np.ndarray  # advanced features the account adopts during onboarding

    @property
    def n(self) -> int:
        """Number of accounts."""
        return len(self.ids)


def _choice(rng: np.random.Generator, weights, size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def build_accounts(profile: Profile, cal: Calendar, n: int, rng: np.random.Generator) -> Accounts:
    """Draw `n` accounts for the profile."""
    segs = profile.segments
    segment = _choice(rng, [s.share for s in segs], n)
    industry = _choice(rng, [w for _, w in profile.industries], n)
    region = _choice(rng, [r[1] for r in profile.regions], n)
    # A growing company signs up more accounts lately: density ∝ exp(g · t).
    last = cal.n_days - 8
    g = profile.signup_growth
    u = rng.random(n)
    signup = np.floor(last * np.log1p(u * np.expm1(g)) / g).astype(np.int64)
    fit = rng.normal(size=n)
    level = np.clip(np.exp(0.15 * fit + rng.normal(0, 0.2, n)), 0.65, 1.5)
    lo = np.array([segs[s].active_users[0] for s in segment], dtype=float)
    hi = np.array([segs[s].active_users[1] for s in segment], dtype=float)
    # Log-uniform: many small teams, a few large ones.
    active = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi + 0.49)))).astype(np.int64)
    seat_lo = np.array([segs[s].seats[0] for s in segment])
    seat_hi = np.array([segs[s].seats[1] for s in segment])
    seats = np.clip(np.round(active * rng.uniform(1.1, 2.0, n)), seat_lo, seat_hi).astype(np.int64)
    plan = np.array([_choice(rng, segs[s].plan_weights, 1)[0] for s in segment])
    annual = rng.random(n) < np.array([segs[s].annual_share for s in segment])
    price_sensitivity = rng.normal(size=n)
    price_factor = np.clip(0.9 + 0.07 * price_sensitivity + rng.normal(0, 0.04, n), 0.7, 1.15)
    n_adv_events = sum(e.advanced for e in profile.events)
    base = np.array([segs[s].advanced_base for s in segment])
    n_advanced = np.clip(np.round(base + fit + rng.normal(0, 0.8, n)), 0, n_adv_events - 1)
    csm_w = np.array([w for _, w in profile.csms])  # csm x segment
    csm = np.array([_choice(rng, csm_w[:, s], 1)[0] for s in segment])

    order = np.argsort(signup, kind="stable")
    pick = lambda a: a[order]  # noqa: E731 -- same reordering for every column
    industry_names = [profile.industries[i][0] for i in pick(industry)]
    names = company_names(rng, industry_names)
    return Accounts(
        ids=[f"A{i + 1:05d}" for i in range(n)],
        names=names,
        domains=[slug(nm) for nm in names],
        segment=pick(segment),
        industry=pick(industry),
        region=pick(region),
        csm=pick(csm),
        signup=pick(signup),
        fit=pick(fit),
        level=pick(level),
        active_target=pick(active),
        seats=pick(seats),
        plan=pick(plan),
        annual=pick(annual),
        price_factor=pick(price_factor),
        price_sensitivity=pick(price_sensitivity),
        n_advanced=pick(n_advanced).astype(np.int64),
    )
