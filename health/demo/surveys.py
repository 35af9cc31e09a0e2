"""NPS surveys: a few users answer every ~6 months; scores follow health, categories stay honest."""

from __future__ import annotations

import numpy as np
import polars as pl

from health.demo.accounts import Accounts
from health.demo.contracts import Contracts
from health.demo.latent import Latent
from health.demo.people import Users
from health.demo.profiles import Profile
from health.demo.seasons import Calendar, working_second
from health.demo.stories import Plan, survey_waves

RESPONDENTS = {"SMB": 1.3, "Mid-Market": 2.4, "Enterprise": 3.5}
COMMENTS = {
    "promoter": (
        "Our team can't imagine working without it now.",
        "Great product and even better support.",
        "Saves us hours every week.",
        "Rolled it out to two more teams, everyone loves it.",
        "The new features keep getting better.",
    ),
    "passive": (
        "Does the job, some rough edges.",
        "Good overall but the learning curve is steep.",
        "Would like better reporting.",
        "Solid, but pricing is getting hard to justify.",
        "Fine for now.",
    ),
    "detractor": (
        "Too slow and too many bugs lately.",
        "Hard to get the team to adopt it.",
        "Support takes too long to answer.",
        "We are evaluating alternatives.",
        "Missing the integrations we need.",
        "Too expensive for what we use.",
    ),
}


def _category(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def build_surveys(
    profile: Profile,
    acc: Accounts,
    plan: Plan,
    lat: Latent,
    con: Contracts,
    users: Users,
    cal: Calendar,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """NPS answers, a few users per account every ~6 months."""
    # Outside planted promoter flips, once an account answers <= 8 it never goes back to >= 9:
    # every detractor/passive -> promoter flip in the data is then a planted one.
    n_days = cal.n_days
    seg_names = [s.name for s in profile.segments]
    centre = np.array([r[2] for r in profile.regions])
    bounds = np.searchsorted(users.account, np.arange(acc.n + 1))
    rows: dict[str, list] = {
        "account": [],
        "user": [],
        "day": [],
        "sec": [],
        "score": [],
        "comment": [],
    }
    for i in range(acc.n):
        end = int(con.churn[i]) if con.churn[i] >= 0 else n_days
        flip = int(plan.at["promoter"][i])
        waves = survey_waves(int(acc.signup[i]), int(plan.survey_jitter[i]), end)
        k_flip = waves.index(flip) if flip in waves else -9
        mine = np.arange(bounds[i], bounds[i + 1])
        answers = []  # (day, sec, user, score)
        for k, wave in enumerate(waves):
            alive = mine[(users.active_from[mine] <= wave) & (users.stop[mine] > wave + 10)]
            if not len(alive):
                continue
            n_resp = rng.poisson(RESPONDENTS.get(seg_names[acc.segment[i]], 2.0))
            if k in (k_flip - 1, k_flip):
                n_resp = max(n_resp, 1)  # the flip needs an answer before it and at it
            who = rng.permutation(alive)[: min(n_resp, len(alive))]
            health = float(lat.health[i, min(wave // 7, cal.n_weeks - 1)])
            for u in who:
                score = int(np.clip(np.round(8.1 + 1.2 * health + rng.normal(0, 0.8)), 0, 10))
                day = wave + int(rng.integers(0, 11))
                answers.append(
                    (day, int(working_second(rng, centre[acc.region[i]], 1)[0]), int(u), score)
                )
        answers.sort()
        low_seen = False
        # A would-be promoter held back to passive answers 8 mostly, sometimes 7 or 6.
        capped = rng.choice([8, 7, 6], size=len(answers), p=[0.55, 0.35, 0.1])
        for k, (day, sec, u, score) in enumerate(answers):
            if day >= end or day >= n_days:
                continue
            if (flip >= 0 and day < flip) or (low_seen and not flip <= day <= flip + 10):
                score = min(score, int(capped[k]))  # planted: passive or detractor before the flip
            elif flip >= 0 and day <= flip + 10:
                score, low_seen = max(score, 9), False  # ... promoters in the flip wave
            low_seen = low_seen or score <= 8
            comment = None
            if rng.random() < 0.35:
                pool = COMMENTS[_category(score)]
                comment = pool[int(rng.integers(len(pool)))]
            for col, v in zip(rows, (i, u, day, sec, score, comment), strict=True):
                rows[col].append(v)
    order = np.lexsort((np.array(rows["sec"]), np.array(rows["day"]), np.array(rows["account"])))
    day = np.array(rows["day"], dtype=np.int64)[order]
    sec = np.array(rows["sec"], dtype=np.int64)[order]
    return pl.DataFrame(
        {
            "account_id": [acc.ids[rows["account"][k]] for k in order],
            "user_id": [users.ids[rows["user"][k]] for k in order],
            "responded_at": cal.iso_times(cal.epoch_seconds(day, sec)),
            "score": [rows["score"][k] for k in order],
            "comment": pl.Series([rows["comment"][k] for k in order], dtype=pl.String),
        }
    )
