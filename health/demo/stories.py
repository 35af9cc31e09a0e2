"""Which accounts live which planted story, when, and how strongly: the plan the data follows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from health.demo.accounts import Accounts
from health.demo.profiles import Profile
from health.demo.seasons import Calendar

MOMENT_OF = {
    "stalled_onboarding": "relationship_change",
    "early_wow": "relationship_change",
    "engagement_drop": "crisis",
    "champion_left": "crisis",
    "usage_spike": "delight",
    "expansion": "delight",
    "promoter": "delight",
}
KINDS = tuple(MOMENT_OF)
LOOKALIKES = ("one_week_gap", "slow_decline")
WEEK = 7
# Crises and usage spikes need this much steady history first (ramp + 12 steady weeks).
BASELINE_DAYS = 16 * WEEK
FIRST_SURVEY = 75  # days after signup
SURVEY_EVERY = 182


@dataclass
class Plan:
    """Planted stories per account: day of each (-1 for none) and their magnitudes."""

    at: dict[str, np.ndarray]  # kind -> day index of the moment (or look-alike start)
    decline_end: np.ndarray  # slow_decline: day the decline bottoms out
    drop: np.ndarray  # engagement_drop: usage multiplier after the fall
    spike: np.ndarray  # usage_spike: usage multiplier during the jump
    spike_feature: np.ndarray  # usage_spike is a newly adopted advanced feature (not volume)
    wow: np.ndarray  # early_wow: intensity multiplier during the first weeks
    stall: np.ndarray  # stalled_onboarding: intensity multiplier during the first 8 weeks
    champion_remaining: np.ndarray  # champion_left: usage left after the decline
    champion_deactivated: np.ndarray  # champion_left: deactivated_at is set (else goes silent)
    wave: np.ndarray  # expansion: new users as a share of active ones
    decline_to: np.ndarray  # slow_decline: usage left at the bottom
    forced_churn: np.ndarray  # churn at the first decision point after protect_until
    protect_until: np.ndarray  # no churn before this day, so the story is fully visible
    episodes_from: np.ndarray  # ordinary health declines may only start from this day
    survey_jitter: np.ndarray  # shifts the account's NPS survey waves
    stall_days: np.ndarray | None = None  # stalled_onboarding: how long it lasts (None: for good)

    def stories(self, i: int) -> list[str]:
        """The planted stories of account i, in time order."""
        found = [(int(v[i]), k) for k, v in self.at.items() if v[i] >= 0]
        return [k for _, k in sorted(found)]


def survey_waves(signup: int, jitter: int, n_days: int) -> list[int]:
    """Days the account is asked for NPS: ~75 days after signup, then every ~6 months."""
    first = signup + FIRST_SURVEY + jitter
    return list(range(first, n_days, SURVEY_EVERY))


def _weekday(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    """Move days onto a Monday-Thursday of the same week: changes start on working days."""
    return day - day % 7 + rng.integers(0, 4, size=np.shape(day))


def _quiet_week(cal: Calendar, monday: int) -> bool:
    """True when the week and its neighbours are free of shared holidays."""
    lo, hi = max(monday - 7, 0), min(monday + 14, cal.n_days)
    ref = np.array([1.02, 1.05, 1.03, 1.0, 0.88, 0.16, 0.13])
    span = cal.factor[lo:hi]
    return bool(np.all(span / np.resize(ref, len(span)) > 0.9))


def plan_stories(profile: Profile, acc: Accounts, cal: Calendar, rng: np.random.Generator) -> Plan:
    """Choose the planted accounts and their timing."""
    n, d_end, s = acc.n, cal.n_days, acc.signup
    uni = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731 -- one draw per account
    jitter = rng.integers(-10, 11, n)
    plan = Plan(
        at={k: np.full(n, -1, dtype=np.int64) for k in KINDS + LOOKALIKES},
        decline_end=np.full(n, -1, dtype=np.int64),
        drop=uni(*profile.drop_to),
        spike=uni(*profile.spike_to),
        spike_feature=rng.random(n) < 0.4,
        wow=uni(*profile.wow_to),
        stall=uni(*profile.stall_to),
        champion_remaining=uni(*profile.champion_remaining),
        champion_deactivated=rng.random(n) < 0.6,
        wave=uni(*profile.expansion_wave),
        decline_to=uni(*profile.slow_decline_to),
        forced_churn=np.zeros(n, dtype=bool),
        protect_until=s.copy(),
        episodes_from=s + 12 * WEEK,
        survey_jitter=jitter,
    )
    at = plan.at
    taken = np.zeros(n, dtype=bool)
    order = rng.permutation(n)
    target = max(1, round(profile.story_share * n))
    n_double = max(1, round(profile.double_share * target))

    def pick(mask: np.ndarray, k: int) -> np.ndarray:
        cand = order[mask[order] & ~taken[order]][: max(k, 0)]
        taken[cand] = True
        return cand

    def between(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return _weekday(rng, np.floor(lo + rng.random(len(lo)) * (hi - lo)).astype(np.int64))

    late = d_end - 6 * WEEK  # a crisis or spike needs 4+ weeks of data after it
    after = max(profile.crisis_after_weeks * WEEK, BASELINE_DAYS)  # steady history first
    crisis_ok = s + after < late - WEEK
    exp_ok = s + 12 * WEEK < d_end - 3 * WEEK

    # A WOW start needs ordinary weeks: not one that runs into the year-end or August break.
    month = np.convolve(cal.factor, np.ones(5 * WEEK) / (5 * WEEK), mode="full")[5 * WEEK - 1 :]
    wow_ok = (s <= d_end - 9 * WEEK) & (month[s] >= 0.88 * np.median(month))

    # Two stories in sequence on a few accounts: a WOW start that turns into an upsell ...
    c = pick(wow_ok & exp_ok, n_double)
    at["early_wow"][c] = s[c]
    at["expansion"][c] = between(s[c] + 10 * WEEK, np.minimum(s[c] + 45 * WEEK, d_end - 3 * WEEK))
    # ... and a usage spike that later shows in the NPS answers.
    waves = [survey_waves(int(s[i]), int(jitter[i]), d_end - 14) for i in range(n)]
    spike_wave = np.array(
        [
            next((w for w in ws[1:] if w >= s[i] + after + 5 * WEEK), -1)
            for i, ws in enumerate(waves)
        ]
    )
    c = pick(crisis_ok & (spike_wave > 0), n_double)
    at["usage_spike"][c] = between(s[c] + after, spike_wave[c] - 4 * WEEK)
    at["promoter"][c] = spike_wave[c]

    eligible = {
        "stalled_onboarding": s <= d_end - 11 * WEEK,
        "early_wow": wow_ok,
        "engagement_drop": crisis_ok,
        "champion_left": crisis_ok & (acc.active_target >= 5),
        "usage_spike": crisis_ok,
        "expansion": exp_ok,
        "promoter": np.array([len(w) >= 2 for w in waves]),
    }
    for kind in KINDS:
        c = pick(eligible[kind], target - int((at[kind] >= 0).sum()))
        if kind in ("stalled_onboarding", "early_wow"):
            at[kind][c] = s[c]
        elif kind == "expansion":
            at[kind][c] = between(s[c] + 12 * WEEK, np.full(len(c), d_end - 3 * WEEK))
        elif kind == "promoter":
            at[kind][c] = [waves[i][rng.integers(1, len(waves[i]))] for i in c]
        else:
            at[kind][c] = between(s[c] + after, np.full(len(c), late))

    # Look-alikes live on otherwise steady accounts.
    steady = int((~taken).sum())
    gap_ok = s + BASELINE_DAYS < d_end - 4 * WEEK
    c = pick(gap_ok, round(profile.gap_share * steady))
    for i in c:
        for _ in range(20):
            day = int(rng.integers(s[i] + BASELINE_DAYS, d_end - 4 * WEEK))
            monday = day - day % 7
            if _quiet_week(cal, monday):
                at["one_week_gap"][i] = monday
                break
    c = pick(s + BASELINE_DAYS + 30 * WEEK < d_end, round(profile.slow_decline_share * n))
    at["slow_decline"][c] = between(s[c] + BASELINE_DAYS, d_end - 30 * WEEK)
    length = rng.integers(26 * WEEK, 40 * WEEK, n)
    plan.decline_end[c] = np.minimum(at["slow_decline"][c] + length[c], d_end - 7)

    # A WOW start comes from a team the product fits; a stalled one from a team it fits poorly.
    wow, stalled = at["early_wow"] >= 0, at["stalled_onboarding"] >= 0
    acc.fit[wow] = np.abs(acc.fit[wow]) + 0.3
    acc.fit[stalled] = -np.abs(acc.fit[stalled]) - 0.3

    if profile.stall_weeks is not None:  # drawn last: the other draws stay as they were
        lo, hi = profile.stall_weeks
        plan.stall_days = 7 * rng.integers(lo, hi + 1, n)

    # Churn waits until each story has fully played out; ordinary declines keep out of the way.
    protect = plan.protect_until
    for kind in ("stalled_onboarding", "early_wow"):
        has = at[kind] >= 0
        ends = kind == "stalled_onboarding" and plan.stall_days is not None
        wait = plan.stall_days[has] + 6 * WEEK if ends else 10 * WEEK
        protect[has] = np.maximum(protect[has], s[has] + wait)
        plan.episodes_from[has] = np.maximum(plan.episodes_from[has], s[has] + 30 * WEEK)
    for kind, wait in (
        ("engagement_drop", 6),
        ("champion_left", 6),
        ("usage_spike", 8),
        ("expansion", 8),
        ("promoter", 4),
    ):
        has = at[kind] >= 0
        protect[has] = np.maximum(protect[has], at[kind][has] + wait * WEEK)
        quiet = 12 * WEEK if MOMENT_OF[kind] == "delight" else d_end
        plan.episodes_from[has] = np.maximum(plan.episodes_from[has], at[kind][has] + quiet)
    has = at["one_week_gap"] >= 0
    protect[has] = np.maximum(protect[has], at["one_week_gap"][has] + 4 * WEEK)
    has = at["slow_decline"] >= 0
    protect[has] = np.maximum(protect[has], plan.decline_end[has] + 2 * WEEK)
    plan.episodes_from[has | (at["one_week_gap"] >= 0)] = d_end
    plan.episodes_from[at["stalled_onboarding"] >= 0] = d_end
    # Half of the accounts whose champion leaves do not renew.
    champ = at["champion_left"] >= 0
    plan.forced_churn[champ] = rng.random(int(champ.sum())) < 0.5
    return plan
