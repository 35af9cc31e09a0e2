"""Moments of truth: relationship change, crisis and delight, dated, with evidence and guidance.

The refresh step `refresh_moments` reads the rollups, runs one pure detector per kind
(health/moments_*.py: frame in, frame of moments out, thresholds as keyword arguments) and
stores every moment detected up to the as-of date in the `moments` table. `PARAMS` overrides
the detectors' tuned defaults; `detect_moments` takes its own overrides for backtests.

Causality: a moment's `detected_on` is the first day its rule holds on data up to that day,
and neither `detected_on` nor `started_on` uses anything later: a run as of a date whole weeks
earlier finds exactly the moments detected by then (tests/test_moments_eval.py checks it).
Severity and the "since then" part of the evidence describe the moment as known at the as-of
date. Detection is incremental: the weeks are calendar weeks (Monday to Sunday, complete ones
only), every detector reads only data up to `detected_on`, and stories are merged in order of
detection, so a moment published for a past week never changes when a new day arrives
(tests/test_moments_eval.py runs as of D and D+1..D+7 and checks it).

What fools simple rules, and what each detector does about it: weekends vanish in whole weeks;
a holiday everybody takes is divided out with the shared weekly index; one dead week or a slow
slide fails the sustained and sudden tests; small accounts are judged on Poisson counts, not
percentages; a missing optional table only means its kinds are not looked for.

Engagement drops are tested on daily counts (int_account_days; health/moments/daily.py), so a
real fall is confirmed in days rather than whole weeks; without daily counts the weekly test runs.
A refresh after new days resumes that test from the state the last refresh kept and runs it over
the new days only (health/moments/carry.py), with the same result as a run over every day. The
daily test and the weekly search run block by block of accounts (health/moments/blocks.py,
levels.SEARCH_CELLS), so their memory stays bounded whatever the number of accounts.

Tuning: the keyword defaults were chosen by backtest on the demo profile (seeds 7, 11, 23 and
31, 600 accounts each, and a 4,000-account demo for the look-alikes), maximising F1 per kind
with the macro F1 over the three types as the check; issue 17's quick window for drops was
chosen on the demo and holdout profiles (seed 7). The field profile was never used to choose
anything. bench/moments_eval.py reproduces the figures for every profile and seed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from health import db
from health.moments import evidence as ev
from health.moments.carry import daily_found
from health.moments.delight import (
    detect_contract_expansions,
    detect_feature_adoption,
    detect_promoters,
)
from health.moments.levels import (
    build_grid,
    drops_and_jumps,
    shared_index,
)
from health.moments.memo import Memo
from health.moments.onboarding import (
    detect_early_wow,
    detect_stalled_onboarding,
    onboarding_stats,
)
from health.moments.people import detect_champion_left, detect_user_waves
from health.moments.people_inputs import remember_people, update_people
from health.moments.taxonomy import MOMENT_OF

# The rollups the detectors read, built by the refresh step itself (one STEPS entry), from the
# refresh's tables up to READS (int_moment_weeks takes its weeks' counts from int_account_weeks):
# steps_through(READS) + INPUTS builds them on a loaded database.
READS = "int_account_weeks"
INPUTS = [
    "int_moment_weeks",
    "int_moment_accounts",
    "int_moment_onboarding",
    "int_moment_feature_firsts",
    "int_moment_user_activity",
    "int_moment_users",
    "int_moment_silences",
]
# Inputs a refresh computes again only where new data can reach them: the rows this condition
# holds for are kept, and the SQL computes the rest (it reads params.rebuild_from, the Monday of
# the first week new data can change; see health/pipeline/incremental.py). Complete weeks before
# it, the onboarding of accounts whose first 12 weeks ended before it, and the first four weeks
# of an event first used 28 days before it (on an account signed up before it) can't change.
KEPT = {
    "int_moment_weeks": "week_end < $since",
    "int_moment_onboarding": (
        "account_id in (select account_id from stg_accounts where signup_date + 84 <= $since)"
    ),
    "int_moment_feature_firsts": (
        "first_day + 28 <= $since "
        "and account_id in (select account_id from stg_accounts where signup_date < $since)"
    ),
}
# Inputs whose rows to compute again have a query of their own (sql/int/<name>_since.sql), which
# reads the kept rows to find them: cheaper than computing every row and keeping most.
SINCE = {"int_moment_feature_firsts"}
# Per-detector overrides of the keyword defaults (which are the tuned values).
PARAMS: dict[str, dict] = {}
# Moments from these detectors on one account this close together (days between starts) are one
# story, told once: a champion leaving explains the drop that follows; new seats and new users
# explain the jump in usage that comes with them. Order breaks ties between same-day detections.
STORIES = {
    "crisis": (42, ("champion_left", "engagement_drop")),
    "growth": (35, ("contract_expansion", "user_wave", "feature_adoption", "usage_jump")),
}

COLUMNS = {
    "account_id": pl.String,
    "moment": pl.String,
    "kind": pl.String,
    "detected_on": pl.Date,
    "started_on": pl.Date,
    "severity": pl.Float64,
    "evidence": pl.String,
    "guidance": pl.String,
    "metric_before": pl.Float64,
    "metric_after": pl.Float64,
}


@dataclass
class Inputs:
    """The tidy frames the detectors read (empty frames where an optional table is missing)."""

    weekly: pl.DataFrame  # int_moment_weeks: account_id, week_end, age_weeks, events, active_users
    accounts: pl.DataFrame  # int_moment_accounts
    onboarding: pl.DataFrame = field(default_factory=pl.DataFrame)
    firsts: pl.DataFrame = field(default_factory=pl.DataFrame)
    users: pl.DataFrame = field(default_factory=pl.DataFrame)
    silences: pl.DataFrame = field(default_factory=pl.DataFrame)
    subscriptions: pl.DataFrame = field(default_factory=pl.DataFrame)
    surveys: pl.DataFrame = field(default_factory=pl.DataFrame)
    daily: pl.DataFrame = field(default_factory=pl.DataFrame)  # int_account_days: day, events


def load_inputs(con) -> Inputs:
    """Query the rollups into frames."""

    def q(text: str) -> pl.DataFrame:
        return db.run(con, text)

    return Inputs(
        weekly=q("select * from int_moment_weeks"),
        accounts=q("select * from int_moment_accounts"),
        onboarding=q("select * from int_moment_onboarding"),
        firsts=q("select * from int_moment_feature_firsts"),
        users=q("select * from int_moment_users"),
        silences=q("select * from int_moment_silences"),
        subscriptions=q("select account_id, start_date, seats, mrr, plan from stg_subscriptions"),
        surveys=q(
            "select s.account_id, s.user_id, s.responded_at, s.score, u.name "
            "from stg_surveys as s left join stg_users as u using (user_id)"
        ),
        daily=q("select account_id, day, events from int_account_days"),
    )


def detect_moments(
    inputs: Inputs, as_of: dt.date, params: dict[str, dict] | None = None, memo: Memo | None = None
) -> pl.DataFrame:
    """Every moment detected up to `as_of`, in the `moments` table's shape. `memo`: the last
    refresh's detector results, reused for a call whose inputs are the same (see memo.py)."""
    p = {**PARAMS, **(params or {})}
    run = memo.call if memo is not None else _direct
    kw = lambda name: p.get(name, {})  # noqa: E731 - one lookup per detector
    weekly = inputs.weekly.filter(pl.col("week_end") <= as_of)
    grid = build_grid(weekly)
    index = shared_index(grid, **kw("shared_index"))
    index_frame = pl.DataFrame({"week_end": grid.week_end, "index": index})
    parts: list[pl.DataFrame] = []

    drop_kw, jump_kw = kw("engagement_drop"), kw("usage_jump")
    users = build_grid(weekly.drop("events").rename({"active_users": "events"})).events
    # The weekly drop and jump tests in one pass (they share the baselines): complete weeks only,
    # so the memo reads them back on six days of seven.
    shifts = run("level_shifts", drops_and_jumps, grid, index, users, drop_kw, jump_kw)
    jumps = shifts.filter(pl.col("kind") == "usage_spike")
    weekly_drops = shifts.filter(pl.col("kind") == "engagement_drop")
    drops, describe = _drops(memo, inputs, as_of, weekly_drops, kw("daily_drop"))
    # An account that has churned by the time its fall is confirmed has left: no crisis to act on.
    churned = inputs.accounts.select("account_id", "churn_date")
    drops = (
        drops.join(churned, on="account_id", how="left")
        .filter(pl.col("churn_date").is_null() | (pl.col("churn_date") > pl.col("detected_on")))
        .drop("churn_date")
    )
    parts.append(ev.with_text(drops, describe, "engagement_drop"))
    parts.append(ev.with_text(jumps, ev.level_shift, "usage_jump"))

    if not inputs.firsts.is_empty():
        adopted = run(
            "feature_adoption",
            detect_feature_adoption,
            inputs.firsts,
            as_of,
            **kw("feature_adoption"),
        )
        parts.append(ev.with_text(adopted, ev.adoption, "feature_adoption"))

    if not inputs.onboarding.is_empty():
        stats = run(
            "onboarding_stats",
            onboarding_stats,
            inputs.onboarding,
            inputs.accounts,
            index_frame,
            **kw("onboarding_stats"),
        )
        segment = dict(inputs.accounts.select("account_id", "segment").iter_rows())
        unit = dict(inputs.accounts.select("account_id", "size_unit").iter_rows())
        for detect, name in (
            (detect_stalled_onboarding, "stalled_onboarding"),
            (detect_early_wow, "early_wow"),
        ):
            found = run(name, detect, stats, **kw(name)) if not stats.is_empty() else stats
            if not found.is_empty():
                parts.append(
                    ev.with_text(
                        found,
                        lambda r: ev.onboarding(
                            r, unit.get(r["account_id"]), segment[r["account_id"]]
                        ),
                        name,
                    )
                )

    if not inputs.users.is_empty():
        champs = run(
            "champion_left",
            detect_champion_left,
            inputs.silences,
            weekly,
            inputs.accounts,
            as_of,
            holiday_weeks=index_frame,
            **kw("champion_left"),
        )
        parts.append(ev.with_text(champs, ev.champion, "champion_left"))
        waves = run("user_wave", detect_user_waves, inputs.users, weekly, **kw("user_wave"))
        parts.append(ev.with_text(waves, ev.wave, "user_wave"))

    if not inputs.subscriptions.is_empty():
        subs = inputs.subscriptions.filter(pl.col("start_date") <= as_of)
        grown = run(
            "contract_expansion", detect_contract_expansions, subs, **kw("contract_expansion")
        )
        parts.append(ev.with_text(grown, ev.contract, "contract_expansion"))

    if not inputs.surveys.is_empty():
        answers = inputs.surveys.filter(pl.col("responded_at").cast(pl.Date) <= as_of)
        parts.append(
            ev.with_text(
                run("promoter", detect_promoters, answers, **kw("promoter")),
                ev.promoter,
                "promoter",
            )
        )

    found = pl.concat(
        [x for x in parts if not x.is_empty()] or [pl.DataFrame(schema=ev.MOMENT_COLUMNS)]
    )
    found = found.filter(pl.col("detected_on") <= as_of)
    return _finish(_merge(found))


# Accounts under this many events a week give the daily test little to go on: their falls are
# also looked for by the weekly test (months of sparse weekly counts); the first call stands.
SMALL_WEEKLY = 10.0


def _drops(memo, inputs: Inputs, as_of, weekly: pl.DataFrame, daily_kw):
    """Engagement drops and how to describe them: on daily counts when the rollup has them
    (confirmed in days, not weeks), with the weekly test's (`weekly`) for small accounts; else
    the weekly test's. The daily test resumes from the state the memo kept (carry.py)."""
    if inputs.daily.is_empty():
        return weekly, ev.level_shift
    found = daily_found(inputs, as_of, memo, daily_kw).with_columns(daily=True)
    small = weekly.filter(pl.col("metric_before") < SMALL_WEEKLY).with_columns(daily=False)
    rows, last = [], {}
    for r in pl.concat([found, small]).sort("detected_on", "daily").iter_rows(named=True):
        prev = last.get(r["account_id"])
        if prev is None or abs((r["started_on"] - prev).days) >= 182:  # one per half-year
            last[r["account_id"]] = r["started_on"]
            rows.append(r)
    out = pl.DataFrame(rows, schema=found.schema)
    return out, lambda r: ev.daily_drop(r) if r["daily"] else ev.level_shift(r)


def _merge(found: pl.DataFrame) -> pl.DataFrame:
    """One moment per story: close moments of one story on one account are folded together.

    Stories form in order of detection: a moment joins the story of its account and group whose
    first moment started within the story's days of it, else it opens a new one. So a later
    detection only ever adds evidence to a story already told; it never re-cuts it.
    """
    group_of = {src: g for g, (_, srcs) in STORIES.items() for src in srcs}
    rank_of = {src: i for _, (_, srcs) in STORIES.items() for i, src in enumerate(srcs)}
    rows = found.with_columns(
        group=pl.col("source").replace_strict(group_of, default=pl.col("source")),
        rank=pl.col("source").replace_strict(rank_of, default=0, return_dtype=pl.Int64),
    ).sort("account_id", "group", "detected_on", "rank", "started_on")
    stories: dict[tuple, list[list[dict]]] = {}
    for r in rows.iter_rows(named=True):
        days = STORIES.get(r["group"], (0, ()))[0]
        told = stories.setdefault((r["account_id"], r["group"]), [])
        home = next(
            (s for s in told if abs((r["started_on"] - s[0]["started_on"]).days) <= days),
            None,
        )
        if home is None:
            told.append([r])
        else:
            home.append(r)
    out = []
    for told in stories.values():
        for lead, *rest in told:
            # The first detection dates and names the story (that is what the feed showed then);
            # later ones only add evidence and severity, so nothing is dated with hindsight.
            out.append(
                {
                    **lead,
                    "severity": max(r["severity"] for r in [lead, *rest]),
                    "evidence": "; ".join(dict.fromkeys(r["evidence"] for r in [lead, *rest])),
                }
            )
    if not out:
        return found
    return pl.DataFrame(out, schema=rows.schema).drop("group", "rank")


def _finish(found: pl.DataFrame) -> pl.DataFrame:
    """The moments columns in order, with guidance, sorted for reading."""
    if found.is_empty():
        return pl.DataFrame(schema=COLUMNS)
    text = ev.guidance()
    return (
        found.with_columns(
            moment=pl.col("kind").replace_strict(MOMENT_OF),
            guidance=pl.col("kind").replace_strict(text, default=None, return_dtype=pl.String),
            severity=pl.col("severity").clip(0, 1).round(3).fill_nan(0.0),
        )
        .select([pl.col(c).cast(t) for c, t in COLUMNS.items()])
        .sort("detected_on", "account_id", "kind")
    )


def refresh_moments(con, as_of: dt.date) -> None:
    """The refresh step: build the inputs, detect (reusing the last refresh's result of each
    detector call whose inputs are the same), and replace the `moments` table."""
    build_inputs(con)
    memo = Memo.read(con)
    found = detect_moments(load_inputs(con), as_of, memo=memo)
    write(con, found)
    memo.write(con)


def build_inputs(con) -> None:
    """Build the detectors' rollups: whole on a full refresh, else keeping the rows of KEPT, and
    the people's rollups updated for the users with new days (people_inputs.py)."""
    since, changed = con.execute("select rebuild_from, changed_from from params").fetchall()[0]
    people = update_people(con, changed)
    for name in INPUTS:
        if name in people:
            continue
        keep = KEPT.get(name)
        if keep is None or since == dt.date.min or not db.table_exists(con, name):
            db.build(con, [name])
            continue
        text = db.sql(f"{name}_since" if name in SINCE else name)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _moment_rows AS {text}")
        con.execute(f"DELETE FROM {name} WHERE NOT ({keep})", {"since": since})
        con.execute(
            f"INSERT INTO {name} BY NAME SELECT * FROM _moment_rows WHERE NOT ({keep})",
            {"since": since},
        )
        con.execute("DROP TABLE _moment_rows")
    remember_people(con)


def _direct(name: str, fn, *args, **kwargs):
    """A detector call without a memo (backtests, tests)."""
    return fn(*args, **kwargs)


def write(con, found: pl.DataFrame) -> None:
    """Replace the `moments` table with a frame in its shape."""
    db.write_frame(con, "moments", found.select(pl.col(c).cast(t) for c, t in COLUMNS.items()))
