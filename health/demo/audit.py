"""Read the generated activity against the moment definitions, so no pattern goes unrecorded."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from health.demo.accounts import Accounts
from health.demo.contracts import Contracts
from health.demo.people import Users
from health.demo.profiles import Profile
from health.demo.seasons import Calendar
from health.demo.usage import Activity

# The thresholds below are the definitions the detectors use, written as checks.
BASELINE_WEEKS = 12
SUSTAIN_WEEKS = 4
DROP_TO = 0.4
SPIKE_TO = 2.0
MIN_BASELINE = 12.0  # events a week: below this, a "drop" or "jump" is Poisson noise
STALL_AT = 0.25
WOW_AT = 2.5


def _week_factor(cal: Calendar) -> np.ndarray:
    """Each week's share of a normal week's usage, from the shared calendar."""
    pad = cal.n_weeks * 7 - cal.n_days
    f = np.pad(cal.factor, (0, pad), constant_values=np.nan).reshape(cal.n_weeks, 7)
    total = np.nanmean(f, axis=1)
    return total / np.nanmedian(total)


def usage_patterns(
    acc: Accounts, con: Contracts, act: Activity, cal: Calendar, unhealthy_from: np.ndarray
) -> list[tuple[int, str, int, str]]:
    """Sudden sustained drops and jumps against the account's own 12-week baseline."""
    # Holiday weeks are left out of both windows: shared dips are look-alikes, not moments. A
    # drop is a crisis only after healthy engagement, so none is looked for from
    # `unhealthy_from` on.
    out = []
    g = _week_factor(cal)
    normal = g > 0.85
    for i in range(acc.n):
        end = int(con.churn[i]) if con.churn[i] >= 0 else cal.n_days
        # Full, ordinary weeks after the onboarding ramp and before the end.
        weeks = np.arange((int(acc.signup[i]) + 28) // 7 + 1, end // 7)
        weeks = weeks[normal[weeks]]
        if len(weeks) < BASELINE_WEEKS + SUSTAIN_WEEKS:
            continue
        # The noise-free rate (users' rates, their arrivals and departures, the account's own
        # story; no holidays, vacations or chance): a moment is a change in the rate, and a
        # run of quiet weeks in Poisson counts is not one.
        n = (
            7 * act.expected[i, weeks]
            if act.expected is not None
            else act.weekly[i, weeks] / g[weeks]
        )
        cs = np.concatenate([[0.0], np.cumsum(n)])
        p = np.arange(BASELINE_WEEKS, len(weeks) - SUSTAIN_WEEKS + 1)
        base = (cs[p] - cs[p - BASELINE_WEEKS]) / BASELINE_WEEKS
        post = sliding_window_view(n, SUSTAIN_WEEKS)[p]
        before = n[p - 1]
        drop = (
            (weeks[p] * 7 < unhealthy_from[i])
            & (base >= MIN_BASELINE)
            & (post.mean(axis=1) <= DROP_TO * base)
            & (post.max(axis=1) <= 0.6 * base)
            & (before > 0.6 * base)
        )
        spike = (
            (base >= MIN_BASELINE)
            & (post.mean(axis=1) >= SPIKE_TO * base)
            & (post.min(axis=1) >= 0.8 * SPIKE_TO * base)
            & (before < 1.5 * base)
        )
        for kind, hits, ratio in (
            ("engagement_drop", drop, "fell to"),
            ("usage_spike", spike, "rose to"),
        ):
            quiet_until = -1
            for k in np.flatnonzero(hits):
                if p[k] <= quiet_until:
                    continue
                quiet_until = p[k] + BASELINE_WEEKS
                share = post[k].mean() / base[k]
                note = f"weekly events {ratio} {share:.0%} of the 12-week baseline"
                note += f" ({base[k]:.0f}/week)"
                out.append((i, kind, int(weeks[p[k]]) * 7, note))
    return out


def first_uses(
    profile: Profile, acc: Accounts, con: Contracts, act: Activity, cal: Calendar
) -> list[tuple[int, str, int, str]]:
    """Advanced features first used after onboarding and then used in 3+ of the next 4 weeks."""
    out = []
    for e, spec in enumerate(profile.events):
        if not spec.advanced:
            continue
        first = act.first_day[:, e]
        end = np.where(con.churn >= 0, con.churn, cal.n_days)
        for i in np.flatnonzero((first >= acc.signup + 84) & (first < end - 28)):
            w = int(first[i]) // 7
            used = int((act.weekly_event[i, e, w : w + SUSTAIN_WEEKS] > 0).sum())
            if used >= 3:
                out.append(
                    (i, "usage_spike", int(first[i]), f"first use of {spec.name}, then weekly")
                )
    return out


def silent_champions(
    acc: Accounts,
    con: Contracts,
    users: Users,
    act: Activity,
    cal: Calendar,
    unhealthy_from: np.ndarray,
):
    """Champions who went silent 5+ weeks before the account's end while others carried on."""
    # Only while the account was healthy: a crisis needs healthy engagement before it.
    out = []
    names = np.array(users.name, dtype=object)
    for i in range(acc.n):
        end = int(con.churn[i]) if con.churn[i] >= 0 else cal.n_days
        last = int(act.champion_last[i])
        healthy = last < unhealthy_from[i]
        if healthy and last >= 0 and end - last > 35 and act.weekly[i, last // 7 + 1 :].sum() > 0:
            who = names[(users.account == i) & users.champion][0]
            out.append((i, "champion_left", last + 1, f"champion {who} went silent"))
    return out


def onboarding_ratios(profile: Profile, acc: Accounts, users: Users, act: Activity, cal: Calendar):
    """Per account: 8- and 5-week events per seat against the segment's median, and seats."""
    # A seat is a user invited in the first three weeks, active or not: a stalled team has seats
    # but does not use them, so per-seat intensity shows the stall without small-count noise.
    ob = act.onboarding
    invited = np.bincount(
        users.account[users.created < acc.signup[users.account] + 21], minlength=acc.n
    )
    full = acc.signup <= cal.n_days - 8 * 7
    per8 = ob["events_8w"] / np.maximum(invited, 1) / 8
    per5 = ob["events_5w"] / np.maximum(invited, 1) / 5
    r8, r5 = np.full(acc.n, np.nan), np.full(acc.n, np.nan)
    for seg in range(len(profile.segments)):
        mine = full & (acc.segment == seg)
        if mine.any():
            r8[mine] = per8[mine] / np.median(per8[mine])
            r5[mine] = per5[mine] / np.median(per5[mine])
    return r8, r5, invited


def onboarding_patterns(
    profile: Profile, acc: Accounts, users: Users, act: Activity, cal: Calendar
) -> list[tuple[int, str, int, str]]:
    """Stalled onboardings and early WOWs against the segment's typical per-seat intensity."""
    ob = act.onboarding
    r8, r5, invited = onboarding_ratios(profile, acc, users, act, cal)
    adv = np.array([e.advanced for e in profile.events])
    early_adv = ((act.first_day < acc.signup[:, None] + 21) & adv[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore"):
        stalled = (r8 <= STALL_AT) & (ob["active_8w"] <= 0.5 * invited)
        wow = (r5 >= WOW_AT) & (ob["active_5w"] >= 0.7 * invited) & (early_adv >= 3)
    out = []
    for i in np.flatnonzero(stalled):
        note = f"{r8[i]:.0%} of the segment's per-seat intensity"
        note += f"; {ob['active_8w'][i]:.0f}/{invited[i]} active"
        out.append((i, "stalled_onboarding", int(acc.signup[i]), note))
    for i in np.flatnonzero(wow):
        note = f"{r5[i]:.1f}x the segment's per-seat intensity; {early_adv[i]} advanced features"
        out.append((i, "early_wow", int(acc.signup[i]), note))
    return out
