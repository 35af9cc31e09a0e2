"""Latent health per account and week: the hidden state usage, NPS, tickets and CSMs reflect."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from health.demo.accounts import Accounts
from health.demo.seasons import Calendar
from health.demo.stories import Plan


@dataclass
class Latent:
    """Health per account and week, and the part of it that moves usage."""

    health: np.ndarray  # (accounts, weeks): fit + drift + declines + story effects; ~N(0, 1)
    usage_dev: np.ndarray  # (accounts, weeks): the slow drift usage follows, log-scale units
    episode_start: np.ndarray  # day an ordinary (gradual) decline starts, -1 for none


def _ramp(weeks: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """0 before `start`, rising linearly to 1 over `length` weeks, per row."""
    return np.clip((weeks[None, :] - start[:, None]) / np.maximum(length, 1)[:, None], 0, 1)


def latent_health(acc: Accounts, plan: Plan, cal: Calendar, rng: np.random.Generator) -> Latent:
    """Simulate each account's health path."""
    n, n_weeks = acc.n, cal.n_weeks
    weeks = np.arange(n_weeks, dtype=float)
    # Slow mean-reverting drift: month-to-month ups and downs, never sudden.
    drift = np.empty((n, n_weeks))
    drift[:, 0] = rng.normal(0, 0.25, n)
    shocks = rng.normal(0, 0.09, (n, n_weeks))
    for w in range(1, n_weeks):
        drift[:, w] = 0.93 * drift[:, w - 1] + shocks[:, w]

    # Ordinary souring: some accounts slide over 2-6 months, poorly fitting ones more often.
    p = 0.22 + 0.3 / (1 + np.exp(2 * acc.fit))
    lo = plan.episodes_from
    can = lo < cal.n_days - 4 * 7
    has = can & (rng.random(n) < p)
    start_day = np.where(has, lo + rng.random(n) * np.maximum(cal.n_days - lo, 0), -1).astype(
        np.int64
    )
    depth = rng.uniform(0.8, 2.2, n) * has
    length = rng.uniform(10, 26, n)
    recover = (rng.random(n) < 0.3) * 0.5
    start_w = start_day / 7
    episode = -depth[:, None] * (
        _ramp(weeks, start_w, length)
        - recover[:, None] * _ramp(weeks, start_w + length + 8, np.full(n, 20.0))
    )
    usage_dev = np.clip(drift + episode, -2.0, 0.8)

    health = acc.fit[:, None] + drift + episode
    at = {k: v / 7 for k, v in plan.at.items()}
    signup_w = acc.signup / 7

    def add(kind: str, delta: float, lead: float = 0, ramp: float = 1) -> None:
        has = plan.at[kind] >= 0
        if has.any():
            start = at[kind][has] - lead
            health[has] += delta * _ramp(weeks, start, np.full(int(has.sum()), ramp))

    add("engagement_drop", -2.0)
    add("champion_left", -1.3, ramp=4)
    add("usage_spike", 0.6, lead=1, ramp=3)
    add("expansion", 0.5, lead=8, ramp=6)
    add("promoter", 0.8, lead=5, ramp=4)
    stalled = plan.at["stalled_onboarding"] >= 0
    if stalled.any():
        k = int(stalled.sum())
        health[stalled] -= 1.8 - 0.6 * _ramp(weeks, signup_w[stalled] + 8, np.full(k, 26.0))
    wow = plan.at["early_wow"] >= 0
    if wow.any():
        k = int(wow.sum())
        health[wow] += 0.8 - 0.4 * _ramp(weeks, signup_w[wow] + 6, np.full(k, 20.0))
    slow = plan.at["slow_decline"] >= 0
    if slow.any():
        span = (plan.decline_end[slow] - plan.at["slow_decline"][slow]) / 7
        health[slow] -= 1.3 * _ramp(weeks, at["slow_decline"][slow], span)
    return Latent(health.astype(np.float32), usage_dev.astype(np.float32), start_day)
