"""What each account does in the product: its share of every event and when it starts using each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from health.demo.accounts import Accounts
from health.demo.people import NEVER
from health.demo.profiles import Profile
from health.demo.stories import Plan


@dataclass
class Mix:
    """Per account and event: share of the account's events and the first day it may occur."""

    weights: np.ndarray  # (accounts, events), rows sum to 1
    start: np.ndarray  # (accounts, events) day index; NEVER for events the account never uses
    core_weights: np.ndarray  # (accounts, events): the same restricted to core events
    spike_event: np.ndarray  # usage_spike by a new feature: that event's index, else -1


def feature_mix(profile: Profile, acc: Accounts, plan: Plan, rng: np.random.Generator) -> Mix:
    """Choose adopted features and their shares; advanced ones start within onboarding."""
    events = profile.events
    n, n_ev = acc.n, len(events)
    base = np.array([e.weight for e in events])
    advanced = np.array([e.advanced for e in events])
    adv_idx = np.flatnonzero(advanced)
    weights = base[None, :] * np.exp(rng.normal(0, 0.25, (n, n_ev)))
    start = np.full((n, n_ev), NEVER, dtype=np.int64)
    start[:, ~advanced] = acc.signup[:, None]
    spike_event = np.full(n, -1, dtype=np.int64)
    # Expected weekly events, so every adopted feature is frequent enough to show up at once:
    # a rarely used feature that surfaces late by chance would look like a new adoption.
    weekly = acc.active_target * acc.level * profile.events_per_user_day * 5.0
    for i in range(n):
        s = int(acc.signup[i])
        wow = plan.at["early_wow"][i] >= 0
        k = int(acc.n_advanced[i])
        if plan.at["stalled_onboarding"][i] >= 0:
            k = 0  # low breadth: nothing advanced, ever
        elif wow:
            k = max(k, 3)
        floor = 2.5 / weekly[i]
        chosen = [int(e) for e in rng.permutation(adv_idx)[:k]]
        w_adv = {e: max(weights[i, e], floor) for e in chosen}
        # Small teams cannot carry many advanced features: drop the rarest until they fit.
        while w_adv and sum(w_adv.values()) > 0.45 and not (wow and len(w_adv) <= 3):
            del w_adv[min(w_adv, key=lambda e: (w_adv[e], e))]
        weights[i, advanced] = 0.0
        for e, w in w_adv.items():
            weights[i, e] = w
            days = 12 if wow else 42
            start[i, e] = s + int(rng.integers(0, days + 1))
        x = int(plan.at["usage_spike"][i])
        unused = [int(e) for e in adv_idx if int(e) not in w_adv]
        if x >= 0 and plan.spike_feature[i] and unused:
            e = unused[int(rng.integers(len(unused)))]
            weights[i, e] = max(0.12, 2 * floor)
            start[i, e] = x
            spike_event[i] = e
    weights /= weights.sum(axis=1, keepdims=True)
    core = weights * ~advanced[None, :]
    core /= core.sum(axis=1, keepdims=True)
    return Mix(weights, start, core, spike_event)
