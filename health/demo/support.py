"""Support tickets: more of them with more users, more and more urgent as health sours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from health.demo.accounts import Accounts
from health.demo.contracts import Contracts
from health.demo.latent import Latent
from health.demo.people import Users
from health.demo.profiles import Profile
from health.demo.seasons import Calendar, working_second
from health.demo.stories import Plan

PRIORITIES = ("low", "normal", "high", "urgent")
# Median hours to resolve, per priority.
RESOLVE_HOURS = np.array([80.0, 40.0, 20.0, 5.0])
WEEKDAY_P = np.array([0.21, 0.21, 0.2, 0.19, 0.15, 0.02, 0.02])


@dataclass
class Tickets:
    """The tickets table and what touchpoints need from it."""

    frame: pl.DataFrame
    urgent_account: np.ndarray  # account index of each urgent ticket
    urgent_day: np.ndarray  # its opening day


def build_tickets(
    profile: Profile,
    acc: Accounts,
    plan: Plan,
    lat: Latent,
    con: Contracts,
    users: Users,
    cal: Calendar,
    rng: np.random.Generator,
) -> Tickets:
    """Draw tickets week by week from active users and health."""
    n_days = cal.n_days
    bad = 1 / (1 + np.exp(1.2 * lat.health + 0.8))  # 0..1, high when health is poor
    lam = users.active_weekly * profile.tickets_per_user_month * 12 / 52 * np.exp(0.6 * bad)
    counts = rng.poisson(lam)
    a, w = np.nonzero(counts)
    reps = counts[a, w]
    t_acc, t_week = np.repeat(a, reps), np.repeat(w, reps)
    day = t_week * 7 + rng.choice(7, size=len(t_acc), p=WEEKDAY_P)
    prio_bad = bad[t_acc, t_week]
    # A crisis often comes with a loud ticket or two around it.
    extra_acc, extra_day = [], []
    for i in np.flatnonzero(plan.at["engagement_drop"] >= 0):
        if rng.random() < 0.6:
            k = int(rng.integers(1, 3))
            extra_acc += [i] * k
            extra_day += list(plan.at["engagement_drop"][i] + rng.integers(-3, 6, k))
    t_acc = np.concatenate([t_acc, np.array(extra_acc, dtype=np.int64)])
    day = np.concatenate([day, np.array(extra_day, dtype=np.int64)])
    prio_bad = np.concatenate([prio_bad, np.ones(len(extra_acc))])
    loud = np.arange(len(t_acc)) >= len(t_acc) - len(extra_acc)
    end = np.where(con.churn >= 0, con.churn, n_days)[t_acc]
    keep = (day >= acc.signup[t_acc]) & (day < end)
    t_acc, day, prio_bad, loud = t_acc[keep], day[keep], prio_bad[keep], loud[keep]
    n = len(t_acc)

    p_urgent = 0.03 + 0.17 * prio_bad
    p_high = 0.12 + 0.13 * prio_bad
    p_low = 0.3 - 0.15 * prio_bad
    u = rng.random(n)
    prio = np.select(
        [u < p_urgent, u < p_urgent + p_high, u < p_urgent + p_high + p_low], [3, 2, 0], 1
    )
    prio = np.where(loud, np.where(u < 0.7, 3, 2), prio)
    centre = np.array([r[2] for r in profile.regions])[acc.region[t_acc]]
    opened = cal.epoch_seconds(day, working_second(rng, centre, n))
    hours = RESOLVE_HOURS[prio] * np.exp(rng.normal(0, 0.9, n))
    closed = opened + (hours * 3600).astype(np.int64)
    now = cal.epoch_seconds(n_days, 0)
    is_open = closed >= now
    status = np.where(is_open, np.where(rng.random(n) < 0.5, "open", "pending"), "closed")
    weights = np.linspace(1.6, 0.6, len(profile.ticket_topics))
    topic = rng.choice(len(profile.ticket_topics), size=n, p=weights / weights.sum())
    health = lat.health[t_acc, np.minimum(day // 7, cal.n_weeks - 1)]
    score = (
        4.2 + 0.45 * health - 0.4 * (prio == 3) - 0.25 * np.log(hours / 24) + rng.normal(0, 0.8, n)
    )
    answered = ~is_open & (rng.random(n) < 0.55)
    csat = np.where(answered, np.clip(np.round(score), 1, 5), np.nan)

    order = np.lexsort((t_acc, opened))
    t_acc, day, prio, opened, closed, is_open = (
        x[order] for x in (t_acc, day, prio, opened, closed, is_open)
    )
    status, topic, csat = status[order], topic[order], csat[order]
    frame = pl.DataFrame(
        {
            "ticket_id": [f"T{k + 1:06d}" for k in range(n)],
            "account_id": [acc.ids[i] for i in t_acc],
            "opened_at": cal.iso_times(opened),
            "closed_at": cal.iso_times(np.where(is_open, -1, closed)),
            "priority": [PRIORITIES[p] for p in prio],
            "status": status.tolist(),
            "topic": [profile.ticket_topics[t] for t in topic],
            "csat": pl.Series(csat, dtype=pl.Float64).fill_nan(None).cast(pl.Int64),
        }
    )
    urgent = prio == 3
    return Tickets(frame, t_acc[urgent], day[urgent])
