"""The people at each customer: who joins, who activates, who leaves, and who is the champion."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from health.demo.accounts import Accounts
from health.demo.contracts import Contracts
from health.demo.latent import Latent
from health.demo.names import TITLES, person_names
from health.demo.profiles import Profile
from health.demo.seasons import Calendar, working_second
from health.demo.stories import Plan

ROLES = ("admin", "member", "viewer")
NEVER = np.iinfo(np.int64).max // 4


@dataclass
class Users:
    """One entry per user, grouped by account and ordered by creation."""

    account: np.ndarray  # account index
    created: np.ndarray  # day index
    created_sec: np.ndarray  # second of the day (UTC)
    active_from: np.ndarray  # first day with events (NEVER if the user never activates)
    stop: np.ndarray  # first day without events (left, silent, churned or end of data)
    deactivated: np.ndarray  # day index of deactivated_at, -1 for none
    rate: np.ndarray  # events per ordinary weekday at multiplier 1
    role: np.ndarray  # index into ROLES
    champion: np.ndarray  # bool
    title: list[str]
    name: list[str]
    email: list[str]
    offset_hours: np.ndarray  # created_at written with this UTC offset (0 = no offset)
    active_weekly: np.ndarray  # (accounts, weeks) users active in each week

    @property
    def n(self) -> int:
        """Number of users."""
        return len(self.account)

    @cached_property
    def ids(self) -> list[str]:
        """User IDs, in the users' order."""
        return [f"U{k + 1:06d}" for k in range(self.n)]


def build_users(
    profile: Profile,
    acc: Accounts,
    plan: Plan,
    lat: Latent,
    con: Contracts,
    cal: Calendar,
    rng: np.random.Generator,
) -> Users:
    """Create every account's users over its lifetime."""
    n_days = cal.n_days
    cols: dict[str, list] = {
        k: [] for k in ("account", "created", "active_from", "stop", "deact", "w", "role", "champ")
    }
    # Weekly leaving hazard: ~12 %/year, several times that while the account sours.
    souring = np.clip(acc.fit[:, None] - lat.health, 0, 3)
    hazard = 0.12 / 52 * np.exp(0.6 * souring)
    cum = np.concatenate([np.zeros((acc.n, 1)), np.cumsum(hazard, axis=1)], axis=1)

    for i in range(acc.n):
        s = int(acc.signup[i])
        end = int(con.churn[i]) if con.churn[i] >= 0 else n_days
        n0 = int(acc.active_target[i])
        stalled = plan.at["stalled_onboarding"][i] >= 0
        wow = plan.at["early_wow"][i] >= 0
        x_champ = int(plan.at["champion_left"][i])
        queue: list[tuple[int, bool, bool]] = []  # (created day, may leave, champion)
        spread = 5 if wow else 21
        queue.append((s, False, True))
        queue += [(s + int(rng.integers(0, spread + 1)), True, False) for _ in range(n0 - 1)]
        # A few more join as the customer grows, spread over its life.
        years = (end - s) / 365
        growth = [
            int(rng.integers(s + 42, max(end, s + 43)))
            for _ in range(rng.poisson(0.08 * n0 * years))
        ]
        # Nobody hires into a team in trouble: no growth while health is down or after a crisis.
        crises = [
            int(plan.at[k][i])
            for k in ("engagement_drop", "champion_left", "slow_decline")
            if plan.at[k][i] >= 0
        ]
        crisis = min(crises, default=NEVER)
        queue += [
            (d, True, False)
            for d in growth
            if d < crisis and lat.health[i, min(d // 7, cal.n_weeks - 1)] > acc.fit[i] - 0.7
        ]
        for day, kind, _before, _after in con.changes[i]:
            if kind in ("expansion", "upsell"):
                share = plan.wave[i] if kind == "expansion" else rng.uniform(0, 0.15)
                k = max(1, round(n0 * share)) if kind == "expansion" else round(n0 * share)
                lo, hi = (day - 7, day + 14) if kind == "expansion" else (day, day + 30)
                queue += [(int(rng.integers(lo, hi)), True, False) for _ in range(k)]
        first_user = len(cols["account"])
        hazard_to = cum[i].tolist()  # cumulative leaving hazard by week
        j = 0
        while j < len(queue):
            created, may_leave, champ = queue[j]
            j += 1
            if created >= end or created < s:
                continue
            if champ:
                start, w = created + 1, 2.2
                role = 0 if rng.random() < 0.9 else 1
            else:
                w = min(max(math.exp(rng.normal(0, 0.55)), 0.3), 2.0)
                u = rng.random()
                role = 0 if u < 0.08 else 2 if u > 0.94 else 1  # admins, members, viewers
                w *= 0.4 if role == 2 else 1.0
                start = created + 1 + int(rng.integers(0, 4))
                if stalled and created < s + 21 and rng.random() > 0.3:
                    # Invited during a stalled onboarding: starts when the team gets going, if
                    # it ever does.
                    start = NEVER
                    if plan.stall_days is not None:
                        start = s + int(plan.stall_days[i]) + int(rng.integers(0, 8))
                elif rng.random() < 0.07 and not wow:
                    start = NEVER  # invited, never activated
            stop, deact = end, -1
            if may_leave:
                target = hazard_to[min(created // 7, cal.n_weeks)] + rng.exponential()
                week = bisect.bisect_left(hazard_to, target)
                leave = week * 7 + int(rng.integers(0, 7))
                if leave < end and leave > created + 14:
                    stop, deact = leave, leave
                    healthy = lat.health[i, min(leave // 7, cal.n_weeks - 1)] > acc.fit[i] - 0.7
                    if rng.random() < (0.85 if healthy else 0.5):
                        queue.append((leave + int(rng.integers(7, 43)), True, False))
            if champ and x_champ >= 0:
                stop = x_champ
                deact = x_champ if plan.champion_deactivated[i] else -1
            for k, v in zip(cols, (i, created, start, stop, deact, w, role, champ), strict=True):
                cols[k].append(v)
        # Rates are relative to the account's own early cohort, so its level sets its intensity.
        ws = np.array(cols["w"][first_user:])
        act = np.array(cols["active_from"][first_user:]) < NEVER
        scale = ws[act].mean() if act.any() else 1.0
        for k in range(first_user, len(cols["w"])):
            cols["w"][k] = profile.events_per_user_day * acc.level[i] * cols["w"][k] / scale
        # Seat cuts: when a contraction leaves fewer seats than active users, the quietest go.
        for day, kind, _before, after in con.changes[i]:
            if kind != "contraction":
                continue
            idx = [
                k
                for k in range(first_user, len(cols["account"]))
                if cols["active_from"][k] <= day < cols["stop"][k] and not cols["champ"][k]
            ]
            excess = len(idx) + 1 - after
            for k in sorted(idx, key=lambda k: cols["w"][k])[: max(excess, 0)]:
                cut = day + int(rng.integers(0, 10))
                if cut < cols["stop"][k]:
                    cols["stop"][k], cols["deact"][k] = cut, cut

    account = np.array(cols["account"], dtype=np.int64)
    created = np.array(cols["created"], dtype=np.int64)
    # Order users by account, then creation (ties keep insertion order) so IDs read naturally.
    order = np.lexsort((created, account))
    account, created = account[order], created[order]
    take = lambda k, dt: np.array(cols[k], dtype=dt)[order]  # noqa: E731
    role, champ = take("role", np.int64), take("champ", bool)
    centre = np.array([r[2] for r in profile.regions])[acc.region[account]]
    created_sec = working_second(rng, centre, len(account))
    names = person_names(rng, len(account))
    emails, titles = [], []
    seen: dict[tuple[int, str], int] = {}
    for k, (first, last) in enumerate(names):
        local = f"{first}.{last}".lower().replace("-", "").replace("'", "")
        key = (int(account[k]), local)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            local = f"{local}{seen[key]}"
        emails.append(f"{local}@{acc.domains[account[k]]}.example")
        pool = TITLES["champion"] if champ[k] else TITLES[ROLES[role[k]]]
        titles.append(pool[rng.integers(len(pool))])
    # Some European exports carry local offsets: exercise the loader's normalisation.
    region_names = [r[0] for r in profile.regions]
    emea = region_names.index("EMEA")
    offset_acc = (acc.region == emea) & (rng.random(acc.n) < 0.25)
    offset = np.where(offset_acc[account], 2, 0)

    active_from, stop = take("active_from", np.int64), take("stop", np.int64)
    diff = np.zeros((acc.n, n_days + 1), dtype=np.int32)
    live = active_from < stop
    np.add.at(diff, (account[live], np.minimum(active_from[live], n_days)), 1)
    np.add.at(diff, (account[live], np.minimum(stop[live], n_days)), -1)
    daily = np.cumsum(diff[:, :n_days], axis=1)
    pad = cal.n_weeks * 7 - n_days
    weekly = (
        np.pad(daily, ((0, 0), (0, pad)), mode="edge").reshape(acc.n, cal.n_weeks, 7).mean(axis=2)
    )
    return Users(
        account=account,
        created=created,
        created_sec=created_sec,
        active_from=active_from,
        stop=stop,
        deactivated=take("deact", np.int64),
        rate=take("w", float),
        role=role,
        champion=champ,
        title=titles,
        name=[f"{f} {la}" for f, la in names],
        email=emails,
        offset_hours=offset,
        active_weekly=weekly.astype(np.float32),
    )
