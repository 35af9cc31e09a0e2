"""The answer key: planted and incidental moments, look-alikes, and each account's story."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from health.demo import audit
from health.demo.accounts import Accounts
from health.demo.contracts import Contracts
from health.demo.mix import Mix
from health.demo.people import Users
from health.demo.profiles import Profile
from health.demo.seasons import Calendar
from health.demo.stories import KINDS, MOMENT_OF, Plan
from health.demo.usage import Activity

MATCH_DAYS = 42  # an incidental finding this close to a planted moment of the same kind is that one
# What started_on means per kind, written into profile.json so evaluators read the same rules.
STARTED_ON = {
    "stalled_onboarding": "signup date (first 8 weeks at <=25% of the segment's per-seat events)",
    "early_wow": "signup date (first 5 weeks at >=2.5x per seat, most seats active, 3+ advanced)",
    "engagement_drop": "the day usage fell (to <=40% of its 12-week baseline, for 4+ weeks)",
    "champion_left": "the champion's first day without activity (= deactivated_at when set)",
    "usage_spike": "first day of the >=2x jump, or first use of the newly adopted feature",
    "expansion": "start_date of the subscription period with more seats or MRR",
    "promoter": "date of the first NPS answer >=9 after an answer <=8",
}


def _promoter_flips(surveys: pl.DataFrame) -> list[tuple[str, str, str]]:
    """(account_id, date, note) of every answer >= 9 that follows an answer <= 8."""
    out = []
    low: dict[str, int] = {}
    for acc_id, when, score in surveys.sort(["account_id", "responded_at"]).iter_rows():
        if score >= 9 and acc_id in low:
            out.append((acc_id, when[:10], f"NPS {low.pop(acc_id)} then {score}"))
        elif score <= 8:
            low[acc_id] = score
    return out


def _expansions(acc: Accounts, con: Contracts) -> list[tuple[int, int, str]]:
    """(account, day, note) of every contract period with more seats or MRR than the one before."""
    out = []
    for i, rows in enumerate(con.periods):
        for prev, cur in zip(rows, rows[1:], strict=False):
            if cur[3] > prev[3] or cur[2] > prev[2]:
                note = f"seats {prev[3]} -> {cur[3]}, MRR {prev[2]:.0f} -> {cur[2]:.0f}"
                out.append((i, cur[0], note))
    return out


def build_truth(
    profile: Profile,
    acc: Accounts,
    plan: Plan,
    mix: Mix,
    con: Contracts,
    users: Users,
    act: Activity,
    surveys: pl.DataFrame,
    csm_bias: np.ndarray,
    cal: Calendar,
) -> dict[str, pl.DataFrame]:
    """Moments, look-alikes and account stories as frames."""
    r8, r5, seats = audit.onboarding_ratios(profile, acc, users, act, cal)
    champ_name = {
        int(a): n for a, n, c in zip(users.account, users.name, users.champion, strict=True) if c
    }
    planted: list[tuple[int, str, int, str]] = []
    at = plan.at
    for i in np.flatnonzero(at["stalled_onboarding"] >= 0):
        planted.append(
            (
                i,
                "stalled_onboarding",
                int(acc.signup[i]),
                f"first 8 weeks at {r8[i]:.0%} of the segment's per-seat intensity; "
                f"{act.onboarding['active_8w'][i]:.0f}/{seats[i]} seats active",
            )
        )
    for i in np.flatnonzero(at["early_wow"] >= 0):
        planted.append(
            (
                i,
                "early_wow",
                int(acc.signup[i]),
                f"first 5 weeks at {r5[i]:.1f}x the segment's per-seat intensity; "
                f"{act.onboarding['active_5w'][i]:.0f}/{seats[i]} seats active",
            )
        )
    for i in np.flatnonzero(at["engagement_drop"] >= 0):
        planted.append(
            (
                i,
                "engagement_drop",
                int(at["engagement_drop"][i]),
                f"usage fell to ~{plan.drop[i]:.0%} of baseline",
            )
        )
    for i in np.flatnonzero(at["champion_left"] >= 0):
        how = "was deactivated" if plan.champion_deactivated[i] else "went silent"
        note = f"champion {champ_name[i]} {how}; usage down to ~{plan.champion_remaining[i]:.0%}"
        planted.append((i, "champion_left", int(at["champion_left"][i]), note))
    for i in np.flatnonzero(at["usage_spike"] >= 0):
        e = mix.spike_event[i]
        note = (
            f"started using {profile.events[e].name} steadily"
            if e >= 0
            else f"usage jumped to ~{plan.spike[i]:.1f}x baseline"
        )
        # A new feature's moment is its first actual use, a day or two after it became available.
        day = int(act.first_day[i, e]) if e >= 0 else int(at["usage_spike"][i])
        planted.append((i, "usage_spike", day, note))

    # After a crisis, inside a slow decline or a stalled start, the account is not healthy: a
    # further fall there is not a new crisis (the definition needs healthy engagement first).
    unhealthy = np.full(acc.n, cal.n_days, dtype=np.int64)
    for kind in ("engagement_drop", "champion_left"):
        has = at[kind] >= 0
        unhealthy[has] = np.minimum(unhealthy[has], at[kind][has] + MATCH_DAYS)
    has = at["slow_decline"] >= 0
    unhealthy[has] = np.minimum(unhealthy[has], at["slow_decline"][has])
    has = at["stalled_onboarding"] >= 0
    unhealthy[has] = acc.signup[has]
    found = audit.usage_patterns(acc, con, act, cal, unhealthy)
    found += audit.first_uses(profile, acc, con, act, cal)
    found += audit.silent_champions(acc, con, users, act, cal, unhealthy)
    found += audit.onboarding_patterns(profile, acc, users, act, cal)
    found += _real_steps(acc, plan, con, users, act)
    exp_day = at["expansion"]
    for i, day, note in _expansions(acc, con):
        if day == exp_day[i]:
            planted.append((i, "expansion", day, f"{note}, with a wave of new users"))
        else:
            found.append((i, "expansion", day, f"ordinary upsell: {note}"))
    index = {a: k for k, a in enumerate(acc.ids)}
    promo = at["promoter"]
    for acc_id, when, note in _promoter_flips(surveys):
        i, day = index[acc_id], cal.day(date.fromisoformat(when))
        if promo[i] >= 0 and promo[i] <= day <= promo[i] + 10:
            planted.append((i, "promoter", day, note))
        else:
            found.append((i, "promoter", day, note))

    rows = [(i, k, d, True, n) for i, k, d, n in planted]
    for i, kind, day, note in sorted(found, key=lambda f: (f[0], f[2], f[1])):
        if any(j == i and k == kind and abs(d - day) <= MATCH_DAYS for j, k, d, *_ in rows):
            continue
        rows.append((i, kind, day, False, note))
    rows.sort(key=lambda r: (r[2], r[0], KINDS.index(r[1])))
    moments = pl.DataFrame(
        {
            "account_id": [acc.ids[r[0]] for r in rows],
            "moment": [MOMENT_OF[r[1]] for r in rows],
            "kind": [r[1] for r in rows],
            "started_on": cal.iso_dates(np.array([r[2] for r in rows], dtype=np.int64)),
            "planted": [r[3] for r in rows],
            "note": [r[4] for r in rows],
        },
        # typed, so a company too short or small for any moment still has a truth table
        schema_overrides={
            **dict.fromkeys(("account_id", "moment", "kind", "started_on", "note"), pl.String),
            "planted": pl.Boolean,
        },
    )
    present = {(r[0], r[1]) for r in rows if r[3]}
    return {
        "moments": moments,
        "lookalikes": _lookalikes(acc, plan, cal),
        "accounts": _stories(acc, plan, con, csm_bias, present, cal),
    }


def _step_week(rate: np.ndarray, lo: int, hi: int) -> int | None:
    """First week in [lo, hi) where a noise-free weekly rate falls below half of its 8-week level
    within 4 weeks and stays there for 4 weeks (so one dead week is no step)."""
    for w in range(max(lo, 8), hi):
        level = rate[w - 8 : w].mean()
        for j in range(4):
            after = rate[w + j : w + j + 4]
            if level > 0 and len(after) == 4 and np.all(after < 0.5 * level):
                return w + j
    return None


def _real_steps(
    acc: Accounts, plan: Plan, con: Contracts, users: Users, act: Activity
) -> list[tuple[int, str, int, str]]:
    """Look-alikes with a real step in them, which a CSM would want called: the noise-free rate
    falls below half its level within 4 weeks, or half or more of the active users leave within
    4 weeks. Both are engagement drops, dated where the step began."""
    out = []
    weeks = act.expected.shape[1]
    for kind in ("one_week_gap", "slow_decline"):
        for i in np.flatnonzero(plan.at[kind] >= 0):
            x = int(plan.at[kind][i])
            y = int(plan.decline_end[i]) if kind == "slow_decline" else x + 6
            end = int(con.churn[i]) if con.churn[i] >= 0 else 7 * weeks
            lo, hi = x // 7 - 4, min(y // 7 + 4, end // 7 - 4)
            w = _step_week(act.expected[i], lo, hi)
            if w is not None:
                out.append((i, "engagement_drop", 7 * w, f"{kind} with a real step: rate halved"))
                continue
            mine = (users.account == i) & (users.stop < end)
            for day in range(7 * max(lo, 0), 7 * max(hi, 0), 7):
                active = (users.account == i) & (users.active_from <= day) & (users.stop > day)
                left = mine & active & (users.stop < day + 28)
                if active.sum() >= 2 and left.sum() >= 0.5 * active.sum():
                    note = f"{kind} with a real step: {left.sum()} of {active.sum()} users left"
                    out.append((i, "engagement_drop", int(users.stop[left].min()), note))
                    break
    return out


def _lookalikes(acc: Accounts, plan: Plan, cal: Calendar) -> pl.DataFrame:
    """Shared holiday dips, single dead weeks and slow declines: patterns that are not moments."""
    rows = [
        (
            "*",
            "holiday_dip",
            cal.day(h.start),
            cal.day(h.end),
            f"{h.name}: usage x{h.factor:.2f} for everybody",
        )
        for h in cal.holidays
    ]
    for i in np.flatnonzero(plan.at["one_week_gap"] >= 0):
        x = int(plan.at["one_week_gap"][i])
        rows.append(
            (acc.ids[i], "one_week_gap", x, x + 6, "no events for one week, then back to normal")
        )
    for i in np.flatnonzero(plan.at["slow_decline"] >= 0):
        x, y = int(plan.at["slow_decline"][i]), int(plan.decline_end[i])
        rows.append(
            (
                acc.ids[i],
                "slow_decline",
                x,
                y,
                f"usage eased to ~{plan.decline_to[i]:.0%} over {(y - x) // 7} weeks",
            )
        )
    rows.sort(key=lambda r: (r[2], r[0]))
    return pl.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "started_on": cal.iso_dates(np.array([max(r[2], 0) for r in rows], dtype=np.int64)),
            "ended_on": cal.iso_dates(
                np.array([min(r[3], cal.n_days - 1) for r in rows], dtype=np.int64)
            ),
            "note": [r[4] for r in rows],
        }
    )


def _stories(
    acc: Accounts, plan: Plan, con: Contracts, csm_bias: np.ndarray, present: set, cal: Calendar
) -> pl.DataFrame:
    """Per account: its planted stories (or steady), whether and when it churned, the CSM's bias."""
    stories = []
    for i in range(acc.n):
        mine = [k for k in plan.stories(i) if k not in MOMENT_OF or (i, k) in present]
        stories.append(",".join(mine) or "steady")
    bias = np.where(csm_bias > 0, "optimistic", np.where(csm_bias < 0, "pessimistic", "none"))
    return pl.DataFrame(
        {
            "account_id": acc.ids,
            "story": stories,
            "churned": con.churn >= 0,
            "churn_date": cal.iso_dates(con.churn),
            "csm_bias": bias.tolist(),
        }
    )
