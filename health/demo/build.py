"""Run the whole simulation, step by step, and write the data folder and its truth beside it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from health.demo import writer
from health.demo.accounts import build_accounts
from health.demo.contracts import simulate_contracts
from health.demo.latent import latent_health
from health.demo.mix import feature_mix
from health.demo.people import build_users
from health.demo.profiles import PROFILES
from health.demo.seasons import build_calendar
from health.demo.stories import KINDS, plan_stories
from health.demo.support import build_tickets
from health.demo.surveys import build_surveys
from health.demo.touchpoints import build_touchpoints
from health.demo.truth import STARTED_ON, build_truth
from health.demo.usage import account_multiplier, simulate_usage


def generate(
    out_dir: Path,
    *,
    profile: str = "demo",
    seed: int = 7,
    n_accounts: int | None = None,
    end_date: date | None = None,
    events_scale: float = 1.0,
    months: float | None = None,
    addon_share: float = 0.3,
    half_year_share: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write a demo data folder into `out_dir` and its truth beside it; return the truth folder.

    `months`: history length (default the profile's); `addon_share`: accounts with an add-on
    line; `half_year_share`: term payers on six-month rather than annual terms."""
    if profile not in PROFILES:
        raise ValueError(f"unknown demo profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    prof = PROFILES[profile]
    if events_scale != 1.0:  # denser usage for benchmarks: every user does more, nothing else
        prof = dataclasses.replace(
            prof, events_per_user_day=prof.events_per_user_day * events_scale
        )
    if months is not None:
        prof = dataclasses.replace(prof, years=months / 12)
    n = prof.n_accounts if n_accounts is None else int(n_accounts)
    if n < 1:
        raise ValueError(f"n_accounts must be at least 1, got {n}")
    say = progress or (lambda _step: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Beside, never inside: "." has no name of its own, so work from the absolute path.
    here = Path(os.path.abspath(out_dir))
    truth_dir = here.parent / f"{here.name}.truth"
    # One independent stream per step: changing one step leaves the others' draws alone.
    rng = lambda step: np.random.default_rng([seed, step])  # noqa: E731

    say("accounts")
    cal = build_calendar(prof, end_date or prof.end_date)
    acc = build_accounts(prof, cal, n, rng(1))
    plan = plan_stories(prof, acc, cal, rng(2))
    lat = latent_health(acc, plan, cal, rng(3))
    say("subscriptions")
    con = simulate_contracts(prof, acc, plan, lat, cal, rng(4), addon_share, half_year_share)
    say("users")
    users = build_users(prof, acc, plan, lat, con, cal, rng(5))
    mix = feature_mix(prof, acc, plan, rng(6))
    mult = account_multiplier(prof, acc, plan, mix, lat, con, users, cal, rng(7))
    say("events")
    with writer.event_writer(out_dir / "events.parquet") as sink:
        act = simulate_usage(
            prof,
            acc,
            plan,
            mix,
            users,
            mult,
            cal,
            np.random.SeedSequence([seed, 8]),
            pa.array(users.ids),
            sink.write_table,
        )
    del mult
    say("tickets")
    tickets = build_tickets(prof, acc, plan, lat, con, users, cal, rng(9))
    say("surveys")
    surveys = build_surveys(prof, acc, plan, lat, con, users, cal, rng(10))
    say("touchpoints")
    touchpoints, bias = build_touchpoints(prof, acc, plan, lat, con, users, tickets, cal, rng(11))
    say("writing")
    writer.write_csv(writer.accounts_frame(prof, acc, con, cal), out_dir / "accounts.csv")
    writer.write_csv(writer.users_frame(acc, users, cal), out_dir / "users.csv")
    writer.write_csv(writer.subscriptions_frame(prof, acc, con, cal), out_dir / "subscriptions.csv")
    writer.write_csv(tickets.frame, out_dir / "tickets.csv.gz")
    writer.write_csv(surveys, out_dir / "surveys.csv")
    writer.write_csv(touchpoints, out_dir / "touchpoints.csv")
    say("truth")
    frames = build_truth(
        prof,
        acc,
        plan,
        mix,
        con,
        users,
        act,
        surveys.select("account_id", "responded_at", "score"),
        bias,
        cal,
    )
    moments = frames["moments"]
    meta = {
        "profile": prof.name,
        "seed": seed,
        "n_accounts": n,
        "start_date": cal.start.isoformat(),
        "end_date": cal.end.isoformat(),
        "holidays": [
            {
                "name": h.name,
                "start": h.start.isoformat(),
                "end": h.end.isoformat(),
                "factor": h.factor,
            }
            for h in cal.holidays
        ],
        "started_on": STARTED_ON,
        "counts": {
            "events": act.n_events,
            "users": users.n,
            "tickets": tickets.frame.height,
            "surveys": surveys.height,
            "touchpoints": touchpoints.height,
            "churned": int((con.churn >= 0).sum()),
            "moments": {k: int((moments["kind"] == k).sum()) for k in KINDS},
            "incidental": int((~moments["planted"]).sum()),
        },
    }
    writer.write_truth(truth_dir, frames, meta)
    return truth_dir
