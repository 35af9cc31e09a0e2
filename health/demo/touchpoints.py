"""What the CS team did and felt: notes whose sentiment lags health, and is sometimes biased."""

from __future__ import annotations

import numpy as np
import polars as pl

from health.demo.accounts import Accounts
from health.demo.contracts import Contracts
from health.demo.latent import Latent
from health.demo.people import Users
from health.demo.profiles import Profile
from health.demo.seasons import Calendar, working_second
from health.demo.stories import Plan
from health.demo.support import Tickets

SENTIMENTS = ("green", "yellow", "red")
NOTES = {
    "kickoff": (
        "Kickoff with {champ}: goals agreed, rollout plan set.",
        "Kickoff call; {champ} leads the rollout.",
    ),
    "onboarding": (
        "Onboarding session: set up projects and invited the team.",
        "Training session for new users.",
        "Walked {champ} through admin settings.",
    ),
    "qbr": (
        "Quarterly business review with {champ}.",
        "QBR: reviewed adoption and next quarter's goals.",
    ),
    "call": (
        "Check-in call with {champ}.",
        "Regular sync.",
        "Call about roadmap and open tickets.",
    ),
    "email": (
        "Sent best-practice guide.",
        "Follow-up email on open questions.",
        "Shared release notes.",
    ),
    "escalation": (
        "Escalated urgent ticket to engineering.",
        "Urgent issue escalated; daily updates to {champ}.",
    ),
    "renewal": ("Renewal discussion with {champ}.", "Renewal prep: reviewed usage and pricing."),
}
MOOD = {
    "green": "Customer is happy.",
    "yellow": "Some concerns raised.",
    "red": "Customer is frustrated.",
}
STORY_NOTES = {
    "stalled": "Team has not started using it yet; short of time to roll out.",
    "dropped": "Usage fell off sharply; asked what changed on their side.",
    "champion": "{champ} has left the company; looking for a new sponsor.",
    "expansion": "Discussed adding seats for another team.",
    "leaving": "Customer signalled they will not renew.",
}


def build_touchpoints(
    profile: Profile,
    acc: Accounts,
    plan: Plan,
    lat: Latent,
    con: Contracts,
    users: Users,
    tickets: Tickets,
    cal: Calendar,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, np.ndarray]:
    """Touchpoints, and each account's CSM bias (+ optimistic, - pessimistic, 0 none)."""
    n_days = cal.n_days
    seg_names = [s.name for s in profile.segments]
    # ~10 % of accounts have a CSM whose judgement is systematically off.
    bias = np.where(rng.random(acc.n) < 0.1, np.where(rng.random(acc.n) < 0.5, 1.2, -1.2), 0.0)
    lag = rng.integers(2, 7, acc.n)  # weeks before the CSM's view catches up with reality
    first_user = np.searchsorted(users.account, np.arange(acc.n))
    urgent = {}
    for a, d in zip(tickets.urgent_account.tolist(), tickets.urgent_day.tolist(), strict=True):
        urgent.setdefault(a, []).append(d)
    rows: dict[str, list] = {"account": [], "day": [], "kind": [], "shift": [], "note": []}

    def add(i: int, day: int, kind: str, shift: float = 0.0, note: str | None = None) -> None:
        rows["account"].append(i)
        rows["day"].append(int(day))
        rows["kind"].append(kind)
        rows["shift"].append(shift)
        rows["note"].append(note)

    for i in range(acc.n):
        s = int(acc.signup[i])
        end = min(int(con.churn[i]) if con.churn[i] >= 0 else n_days, n_days)
        seg = seg_names[acc.segment[i]]
        add(i, s, "kickoff", 0.6)
        stalled = plan.at["stalled_onboarding"][i] >= 0
        for d in np.sort(s + rng.integers(5, 43, int(rng.integers(2, 5)))):
            add(i, d, "onboarding", 0.3, STORY_NOTES["stalled"] if stalled and d > s + 20 else None)
        if seg != "SMB":
            for d in range(s + 90, end, 91):
                add(i, d + int(rng.integers(-7, 8)), "qbr")
        gap = {"SMB": (40, 80), "Mid-Market": (25, 40)}.get(seg, (12, 25))
        d = s + 45
        while d < end:
            add(i, d, "email" if rng.random() < (0.7 if seg == "SMB" else 0.4) else "call")
            d += int(rng.integers(*gap))
        for d in urgent.get(i, []):
            if rng.random() < 0.6:
                add(i, d + int(rng.integers(0, 3)), "escalation", -0.8)
        for _start, stop, *_ in con.periods[i]:
            if acc.annual[i] and 0 <= stop < n_days:
                add(i, stop - int(rng.integers(30, 60)), "renewal")
        x = int(plan.at["engagement_drop"][i])
        if x >= 0 and rng.random() < 0.7:
            add(i, x + int(rng.integers(10, 25)), "call", -1.0, STORY_NOTES["dropped"])
        x = int(plan.at["champion_left"][i])
        if x >= 0 and rng.random() < 0.5:
            add(i, x + int(rng.integers(7, 35)), "email", -0.6, STORY_NOTES["champion"])
        x = int(plan.at["expansion"][i])
        if x >= 0:
            add(i, x - int(rng.integers(7, 21)), "call", 0.5, STORY_NOTES["expansion"])
        if con.churn[i] >= 0 and rng.random() < 0.25:
            add(
                i,
                int(con.churn[i]) - int(rng.integers(14, 40)),
                "call",
                -1.5,
                STORY_NOTES["leaving"],
            )

    acc_idx = np.array(rows["account"], dtype=np.int64)
    day = np.array(rows["day"], dtype=np.int64)
    end = np.where(con.churn >= 0, con.churn, n_days)[acc_idx]
    keep = (day >= acc.signup[acc_idx]) & (day < np.minimum(end, n_days))
    idx = np.flatnonzero(keep)
    acc_idx, day = acc_idx[idx], day[idx]
    shift = np.array(rows["shift"])[idx]
    week = np.clip(day // 7 - lag[acc_idx], 0, cal.n_weeks - 1)
    seen = lat.health[acc_idx, week] + bias[acc_idx] + shift + rng.normal(0, 0.45, len(idx))
    sentiment = np.select([seen > -0.25, seen > -1.2], [0, 1], 2)
    champ_name = [users.name[first_user[i]].split(" ")[0] for i in range(acc.n)]
    notes = []
    for k, j in enumerate(idx):
        i, kind = int(acc_idx[k]), rows["kind"][j]
        text = rows["note"][j]
        if text is None:
            pool = NOTES[kind]
            text = pool[int(rng.integers(len(pool)))]
            if kind not in ("kickoff", "onboarding"):
                text = f"{text} {MOOD[SENTIMENTS[sentiment[k]]]}"
        notes.append(text.format(champ=champ_name[i]))
    centre = np.array([r[2] for r in profile.regions])[acc.region[acc_idx]]
    when = cal.epoch_seconds(day, working_second(rng, centre, len(idx)))
    order = np.lexsort((when, acc_idx))
    return (
        pl.DataFrame(
            {
                "account_id": [acc.ids[acc_idx[k]] for k in order],
                "occurred_at": cal.iso_times(when[order]),
                "kind": [rows["kind"][idx[k]] for k in order],
                "sentiment": [SENTIMENTS[sentiment[k]] for k in order],
                "author": [profile.csms[acc.csm[acc_idx[k]]][0] for k in order],
                "note": [notes[k] for k in order],
            }
        ),
        bias,
    )
