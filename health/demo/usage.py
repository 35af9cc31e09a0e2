"""Product usage: a daily intensity per account, Poisson counts per user-day, expanded to events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from health.demo.accounts import Accounts
from health.demo.contracts import Contracts
from health.demo.latent import Latent
from health.demo.mix import Mix
from health.demo.people import NEVER, Users
from health.demo.profiles import Profile
from health.demo.seasons import Calendar, working_second
from health.demo.stories import Plan

CHAMPION_FLOOR = 0.3  # events per ordinary weekday
CHUNK_USERS = 4000  # users simulated together: bounds memory at ~100 MB whatever the size
EVENT_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("event", pa.string()),
        ("user_id", pa.string()),
        ("feature", pa.string()),
        ("value", pa.float64()),
    ]
)


@dataclass
class Activity:
    """What the events add up to, kept so the truth can be checked against the data."""

    weekly: np.ndarray  # (accounts, weeks) events
    weekly_event: np.ndarray  # (accounts, events, weeks) events
    first_day: np.ndarray  # (accounts, events) first day used, NEVER if never
    champion_last: np.ndarray  # last day with a champion event, -1 if none
    onboarding: dict[str, np.ndarray]  # per account: events and active users in early windows
    n_events: int
    # (accounts, weeks): the noise-free weekly rate, without holidays, vacations or chance
    expected: np.ndarray | None = None


def _lerp(days: np.ndarray, x0: int, x1: int, y0: float, y1: float) -> np.ndarray:
    """y0 before x0, y1 after x1, linear in between."""
    return y0 + (y1 - y0) * np.clip((days - x0) / max(x1 - x0, 1), 0, 1)


def account_multiplier(
    profile: Profile,
    acc: Accounts,
    plan: Plan,
    mix: Mix,
    lat: Latent,
    con: Contracts,
    users: Users,
    cal: Calendar,
    rng: np.random.Generator,
) -> np.ndarray:
    """Usage intensity per account and day, before the shared calendar and each user's rate."""
    n, n_days, n_weeks = acc.n, cal.n_days, cal.n_weeks
    days = np.arange(n_days)
    pos = np.clip((days - 3) / 7, 0, n_weeks - 1)  # week centres sit on Thursdays
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_weeks - 1)
    frac = (pos - lo)[None, :]
    dev = lat.usage_dev[:, lo] * (1 - frac) + lat.usage_dev[:, hi] * frac
    noise = rng.normal(0, 0.07, (n, n_weeks))[:, days // 7]  # gentle week-to-week wobble
    mult = np.exp(0.3 * dev + noise)
    age = days[None, :] - acc.signup[:, None]
    wow = plan.at["early_wow"] >= 0
    # Onboarding: teams get going over a few weeks (drawn per account only where the profile's
    # ramps differ in length, so a fixed-ramp profile's draws stay as they were).
    r_lo, r_hi = profile.ramp_weeks
    weeks = np.full(n, r_lo) if r_lo == r_hi else rng.uniform(r_lo, r_hi, n)
    start = profile.ramp_from
    ramp = start + (1 - start) * np.clip(age / (7 * weeks[:, None]), 0, 1)
    ramp[wow] = 1.0
    mult *= ramp
    mult[age < 0] = 0.0
    for i in np.flatnonzero(con.churn >= 0):
        mult[i, con.churn[i] :] = 0.0

    at = plan.at
    settle = rng.uniform(1.2, 1.45, n)

    def per_user(i: int, within: int) -> float:
        # Onboarding stories are defined per active user: undo this team's own level and mix.
        early = (users.account == i) & (users.active_from < acc.signup[i] + within)
        return (
            profile.events_per_user_day / max(float(users.rate[early].mean()), 1e-9)
            if early.any()
            else 1.0
        )

    for i in np.flatnonzero(wow):
        s = int(acc.signup[i])
        norm = per_user(i, 35)
        mult[i] *= _lerp(days, s + 35, s + 70, plan.wow[i] * norm, settle[i])
    for i in np.flatnonzero(at["stalled_onboarding"] >= 0):
        s = int(acc.signup[i])
        if plan.stall_days is None:
            mult[i] *= plan.stall[i] * per_user(i, 56)  # it stays low: the team never got going
        else:  # a fraction of its later level until the team gets going, then its ordinary ramp
            x = s + int(plan.stall_days[i])
            mult[i] *= _lerp(days, x, x + 14, plan.stall[i], 1.0)
            mult[i, x:] /= np.maximum(ramp[i, x:], 1e-9)
            mult[i, x:] *= start + (1 - start) * np.clip((days[x:] - x) / (7 * weeks[i]), 0, 1)
    for i in np.flatnonzero(at["engagement_drop"] >= 0):
        x = int(at["engagement_drop"][i])
        mult[i, x:] *= plan.drop[i]
    for i in np.flatnonzero(at["champion_left"] >= 0):
        x = int(at["champion_left"][i])
        mine = (users.account == i) & (users.active_from < x) & (users.stop >= x)
        share = users.rate[mine & users.champion].sum() / max(users.rate[mine].sum(), 1e-9)
        others = float(np.clip(plan.champion_remaining[i] / max(1 - share, 1e-9), 0.3, 1.0))
        mult[i] *= _lerp(days, x, x + int(rng.integers(21, 43)), 1.0, others)
    for i in np.flatnonzero(at["usage_spike"] >= 0):
        x = int(at["usage_spike"][i])
        if mix.spike_event[i] >= 0:
            # The delight is a new feature, not volume: usage barely moves.
            mult[i] *= _lerp(days, x, x + 7, 1.0, 1.1)
            continue
        top = x + 7 * int(rng.integers(8, 21))
        # Then it eases, slowly and not below 60 % of the peak: easing is not a new crisis.
        eased = plan.spike[i] * 0.65
        mult[i] *= np.where(days < x, 1.0, _lerp(days, top, top + 112, plan.spike[i], eased))
    for i in np.flatnonzero(at["slow_decline"] >= 0):
        mult[i] *= _lerp(
            days, int(at["slow_decline"][i]), int(plan.decline_end[i]), 1.0, plan.decline_to[i]
        )
    for i in np.flatnonzero(at["one_week_gap"] >= 0):
        x = int(at["one_week_gap"][i])
        mult[i, x : x + 7] = 0.0
    return mult.astype(np.float32)


def _vacations(
    rng: np.random.Generator, users: Users, sl: slice, n_days: int, plan: Plan, d0: int
) -> np.ndarray:
    """(users, days from d0) mask of days each user is away: ~1.2 spells of 5-12 days a year."""
    lo = np.minimum(users.active_from[sl], n_days)
    hi = np.minimum(users.stop[sl], n_days)
    years = np.maximum(hi - lo, 0) / 365
    k = rng.poisson(1.2 * years)
    owner = np.repeat(np.arange(len(k)), k)
    start = lo[owner] + (rng.random(len(owner)) * (hi - lo)[owner]).astype(np.int64)
    end = np.minimum(start + rng.integers(5, 13, len(owner)), n_days)
    # The champion who leaves is at work until the day they go: their last days are not a holiday.
    x = plan.at["champion_left"][users.account[sl][owner]]
    keep = ~(users.champion[sl][owner] & (x >= 0) & (end > x - 21))
    diff = np.zeros((len(k), n_days - d0 + 1), dtype=np.int16)
    np.add.at(diff, (owner[keep], start[keep] - d0), 1)
    np.add.at(diff, (owner[keep], end[keep] - d0), -1)
    return np.cumsum(diff[:, :-1], axis=1) > 0


def simulate_usage(
    profile: Profile,
    acc: Accounts,
    plan: Plan,
    mix: Mix,
    users: Users,
    mult: np.ndarray,
    cal: Calendar,
    seed: np.random.SeedSequence,
    user_ids: pa.Array,
    sink: Callable[[pa.Table], None],
) -> Activity:
    """Generate every event, chunk by chunk of accounts, handing each chunk's table to `sink`."""
    n, n_days, n_weeks, n_ev = acc.n, cal.n_days, cal.n_weeks, len(profile.events)
    act = Activity(
        weekly=np.zeros((n, n_weeks), dtype=np.int64),
        weekly_event=np.zeros((n, n_ev, n_weeks), dtype=np.int32),
        first_day=np.full((n, n_ev), NEVER, dtype=np.int64),
        champion_last=np.full(n, -1, dtype=np.int64),
        onboarding={k: np.zeros(n) for k in ("events_8w", "active_8w", "events_5w", "active_5w")},
        n_events=0,
        expected=np.zeros((n, n_weeks)),
    )
    acc_ids = pa.array(acc.ids)
    names = pa.array([e.name for e in profile.events])
    features = pa.array([e.feature for e in profile.events])
    centre = np.array([r[2] for r in profile.regions])[acc.region]
    epoch = (cal.start - date(1970, 1, 1)).days
    valued = [(k, e) for k, e in enumerate(profile.events) if e.value_mu is not None]
    # Users are grouped by account: cut chunks on account boundaries.
    bounds = np.searchsorted(users.account, np.arange(n + 1))
    cuts, total = [0], 0
    for a in range(n):
        total += bounds[a + 1] - bounds[a]
        if total >= CHUNK_USERS:
            cuts.append(a + 1)
            total = 0
    if cuts[-1] != n:
        cuts.append(n)
    seeds = seed.spawn(len(cuts) - 1)
    days = np.arange(n_days)
    for a0, a1, ss in zip(cuts[:-1], cuts[1:], seeds, strict=True):
        rng = np.random.default_rng(ss)
        sl = slice(int(bounds[a0]), int(bounds[a1]))
        ua = users.account[sl]
        # Accounts come in signup order: nothing in this chunk happens before its first signup.
        d0 = int(acc.signup[a0])
        span, factor = days[d0:], cal.factor[None, d0:]
        lam = users.rate[sl, None] * mult[ua, d0:] * factor
        lam *= (span[None, :] >= users.active_from[sl, None]) & (
            span[None, :] < users.stop[sl, None]
        )
        # The noise-free rate (before vacations, busy weeks and the calendar), per account-week.
        key = (ua[:, None] * n_weeks + (span // 7)[None, :]).ravel()
        free = np.bincount(key, weights=(lam / factor).ravel(), minlength=n * n_weeks)
        act.expected += free.reshape(n, n_weeks) / 7
        lam *= ~_vacations(rng, users, sl, n_days, plan, d0)
        # Personal week-to-week variation: busy weeks and quiet weeks.
        lam *= np.exp(rng.normal(-0.025, 0.22, (len(ua), n_weeks)))[:, span // 7]
        # Champions keep showing up (about once a week at least) while they are there, even
        # when the team is quiet; going silent is their story, not chance. Not in a stalled
        # onboarding, though: nobody there is really using the product.
        champ = users.champion[sl]
        stalled = plan.at["stalled_onboarding"][ua[champ]] >= 0
        alive = (mult[ua[champ], d0:] > 0) * (lam[champ] > 0) * ~stalled[:, None]
        lam[champ] = np.maximum(lam[champ], CHAMPION_FLOOR * factor * alive)
        counts = rng.poisson(lam)
        del lam
        _onboarding(act, counts, ua, acc.signup - d0, n_days - d0)
        u_loc, d = np.nonzero(counts)
        reps = counts[u_loc, d]
        del counts
        ev_user = np.repeat(u_loc + sl.start, reps)
        ev_day = np.repeat(d + d0, reps)
        ev_acc = users.account[ev_user]
        ev = _draw_events(rng, ev_acc - a0, mix.weights[a0:a1], len(ev_acc))
        early = ev_day < mix.start[ev_acc, ev]
        if early.any():
            ev[early] = _draw_events(
                rng, ev_acc[early] - a0, mix.core_weights[a0:a1], int(early.sum())
            )
        sec = working_second(rng, centre[ev_acc], len(ev_acc))
        value = np.full(len(ev), np.nan)
        for k, e in valued:
            hit = ev == k
            v = np.exp(e.value_mu + e.value_sigma * rng.standard_normal(int(hit.sum())))
            value[hit] = np.maximum(np.round(v), 1) if e.value_integer else np.round(v, 2)
        order = np.lexsort((ev, sec, ev_day, ev_acc))
        ev_user, ev_day, ev_acc, ev, sec, value = (
            x[order] for x in (ev_user, ev_day, ev_acc, ev, sec, value)
        )
        _aggregate(act, users, ev_user, ev_day, ev_acc, ev, n_weeks, n_ev)
        micros = ((epoch + ev_day) * 86_400 + sec) * 1_000_000
        sink(
            pa.table(
                [
                    acc_ids.take(pa.array(ev_acc)),
                    pa.array(micros, type=pa.timestamp("us", tz="UTC")),
                    names.take(pa.array(ev)),
                    user_ids.take(pa.array(ev_user)),
                    features.take(pa.array(ev)),
                    pa.array(value, mask=np.isnan(value)),
                ],
                schema=EVENT_SCHEMA,
            )
        )
        act.n_events += len(ev)
    return act


def _draw_events(
    rng: np.random.Generator, row: np.ndarray, weights: np.ndarray, size: int
) -> np.ndarray:
    """One event per item from its account's row of weights (inverse CDF, all rows at once)."""
    n_ev = weights.shape[1]
    cum = np.cumsum(weights, axis=1)
    cum /= cum[:, -1:]
    cum[:, -1] = 1.0
    flat = (cum + np.arange(len(weights))[:, None]).ravel()
    idx = np.searchsorted(flat, row + rng.random(size), side="right")
    return np.minimum(idx - row * n_ev, n_ev - 1)


def _onboarding(
    act: Activity, counts: np.ndarray, ua: np.ndarray, signup: np.ndarray, n_days: int
) -> None:
    """Per account: events and active users in the first 5 and 8 weeks after signup."""
    cs = np.concatenate([np.zeros((len(ua), 1), dtype=np.int64), np.cumsum(counts, axis=1)], axis=1)
    s = signup[ua]
    rows = np.arange(len(ua))
    for weeks, ev_key, act_key in (
        (8, "events_8w", "active_8w"),
        (5, "events_5w", "active_5w"),
    ):
        got = cs[rows, np.minimum(s + 7 * weeks, n_days)] - cs[rows, s]
        np.add.at(act.onboarding[ev_key], ua, got)
        np.add.at(act.onboarding[act_key], ua, got > 0)


def _aggregate(
    act: Activity, users: Users, ev_user, ev_day, ev_acc, ev, n_weeks: int, n_ev: int
) -> None:
    """Fold a chunk's events into the weekly and first-use summaries."""
    a0 = int(ev_acc.min()) if len(ev_acc) else 0
    a1 = int(ev_acc.max()) + 1 if len(ev_acc) else 0
    key = ((ev_acc - a0) * n_ev + ev) * n_weeks + ev_day // 7
    block = np.bincount(key, minlength=(a1 - a0) * n_ev * n_weeks).reshape(a1 - a0, n_ev, n_weeks)
    act.weekly_event[a0:a1] += block.astype(np.int32)
    act.weekly[a0:a1] += block.sum(axis=1)
    pair = (ev_acc - a0) * n_ev + ev
    first = np.full((a1 - a0) * n_ev, NEVER, dtype=np.int64)
    np.minimum.at(first, pair, ev_day)
    act.first_day[a0:a1] = np.minimum(act.first_day[a0:a1], first.reshape(a1 - a0, n_ev))
    champ = users.champion[ev_user]
    np.maximum.at(act.champion_last, ev_acc[champ], ev_day[champ])
