"""The refresh pipeline: everything derived from the loaded data, as of one date."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from pathlib import Path

from health import db
from health.db import catalog

# Build order, dbt-style layers: staging (views) -> intermediate -> marts. A name is a SQL file
# in health/db/sql; "module:function" is a Python step called as function(con, as_of), for work
# SQL does badly (model training, change-point detection). Explicit order, no DAG parser.
STEPS: list[str] = [
    "stg_accounts",
    "stg_events",
    "stg_users",
    "stg_subscriptions",
    "stg_tickets",
    "stg_surveys",
    "stg_touchpoints",
    "pipeline.refresh:define_macros",
    "int_weeks",
    "int_account_days",
    "int_user_days",
    "int_event_days",
    "int_feature_weeks",
    "int_account_weeks",
    "int_kpi_revenue_periods",
    "mart_account_overview",
    "int_account_rolling_users",
    "int_core_features",
    "int_account_feature_breadth",
    "int_account_event_breadth",
    "int_account_contract_weeks",
    "int_account_support_weeks",
    "int_account_people_weeks",
    "mart_account_features",
    "scoring.step:refresh_scores",
    "moments.detect:refresh_moments",
    "analytics.journey:refresh_milestones",
    "analytics.journey:refresh_stage",
    "actions.suggest:refresh_actions",
]


# What each step does, for the progress shown to people (the CLI prints the step names).
STEP_LABELS = {
    "stg_accounts": "Reading accounts",
    "stg_events": "Reading product events",
    "stg_users": "Reading users",
    "stg_subscriptions": "Reading subscriptions",
    "stg_tickets": "Reading support tickets",
    "stg_surveys": "Reading survey answers",
    "stg_touchpoints": "Reading CSM touchpoints",
    "define_macros": "Preparing shared calculations",
    "int_weeks": "Laying out the weeks",
    "int_account_days": "Adding up daily activity per account",
    "int_user_days": "Adding up daily activity per user",
    "int_event_days": "Adding up daily activity per event",
    "int_feature_weeks": "Adding up weekly feature use",
    "int_account_weeks": "Adding up weekly activity per account",
    "int_kpi_revenue_periods": "Computing revenue per month",
    "mart_account_overview": "Summarising each account",
    "int_account_rolling_users": "Counting active users over time",
    "int_core_features": "Finding the core features",
    "int_account_feature_breadth": "Measuring feature breadth",
    "int_account_event_breadth": "Measuring event breadth",
    "int_account_contract_weeks": "Following contracts week by week",
    "int_account_support_weeks": "Following support week by week",
    "int_account_people_weeks": "Following people and champions week by week",
    "mart_account_features": "Assembling health signals",
    "refresh_scores": "Scoring churn risk and health",
    "refresh_moments": "Detecting moments of truth",
    "refresh_milestones": "Mapping journey milestones",
    "refresh_stage": "Placing accounts on the journey",
    "refresh_actions": "Suggesting actions",
    "publish": "Publishing the new data",
}


def step_label(step: str) -> str:
    """A progress step (as passed to `progress`) in words, e.g. define_macros → Preparing…."""
    return STEP_LABELS.get(step) or step.replace("_", " ").capitalize()


def steps_through(last: str) -> list[str]:
    """The build order up to and including `last`, for partial pipelines (tests, backtests)."""
    return STEPS[: STEPS.index(last) + 1]


# Daily rollups: a day's row depends on that day's events only, so a refresh keeps the days
# built before and rebuilds just those from the first day with new events (and drops days
# after the as-of date). meta['events_changed_from'] is that day, written by every load that
# adds events ('all' after --replace or into an empty table); meta['daily_through'] is the
# as-of date the daily rollups were last built for.
DAILY = ("int_account_days", "int_user_days", "int_event_days")


def run_steps(
    con, as_of: dt.date, steps: list[str], progress: Callable[[str], None] | None = None
) -> None:
    """Set the as-of date and build the given steps in order on an open, writable connection."""
    con.execute("CREATE OR REPLACE TABLE params AS SELECT ?::DATE AS as_of", [as_of])
    since = daily_rebuild_from(con, as_of)
    for step in steps:
        if progress:
            progress(step.split(":")[-1])
        if ":" in step:
            module, function = step.split(":")
            getattr(importlib.import_module(f"health.{module}"), function)(con, as_of)
        elif step in DAILY and since is not None:
            con.execute(f"DELETE FROM {step} WHERE day >= ? OR day > ?", [since, as_of])
            if since <= as_of:
                con.execute(
                    f"INSERT INTO {step} SELECT * FROM ({db.sql(step)}) WHERE day >= ?", [since]
                )
        else:
            db.build(con, [step])
    if any(step in DAILY for step in steps) and db.table_exists(con, "meta"):
        con.execute("DELETE FROM meta WHERE key = 'events_changed_from'")
        con.execute("INSERT OR REPLACE INTO meta VALUES ('daily_through', ?)", [as_of.isoformat()])


def daily_rebuild_from(con, as_of: dt.date) -> dt.date | None:
    """The first day whose daily rollups must be rebuilt; None when they must be built whole."""
    meta = catalog.meta(con)
    built, changed = meta.get("daily_through"), meta.get("events_changed_from")
    if built is None or changed == "all" or not all(db.table_exists(con, t) for t in DAILY):
        return None
    since = dt.date.fromisoformat(built) + dt.timedelta(days=1)
    if changed is not None:
        since = min(since, dt.date.fromisoformat(changed))
    # Events changed by anything but a load (an edit in SQL) would leave the kept days stale:
    # the kept days must still count exactly the events before `since`.
    kept = con.execute(
        "SELECT (SELECT coalesce(sum(events), 0) FROM int_account_days WHERE day < ?),"
        " (SELECT count(*) FROM events WHERE event_time < ?::DATE)",
        [since, since],
    ).fetchone()
    return since if kept[0] == kept[1] else None


def define_macros(con, as_of: dt.date) -> None:
    """Refresh step: the SQL macros later steps and the app's queries use (after staging)."""
    con.execute(db.sql("macros"))


class RefreshError(Exception):
    """The database can't be refreshed as asked; the message says why and what to do."""


def default_as_of(con) -> dt.date:
    """The latest day with an event: the default as-of date."""
    row = con.execute("SELECT max(event_time)::date FROM events").fetchall()
    if not row or row[0][0] is None:
        raise RefreshError("No events are loaded. Run `python -m health load DIR` first.")
    return row[0][0]


def data_range(con) -> tuple[dt.date | None, dt.date | None]:
    """The first day of the data (the earliest signup or event) and the latest event's day."""
    first_event, last_event = con.execute(
        "SELECT min(event_time)::date, max(event_time)::date FROM events"
    ).fetchall()[0]
    signups = con.execute("SELECT min(signup_date) FROM accounts").fetchall()[0][0]
    first = min((d for d in (first_event, signups) if d is not None), default=None)
    return first, last_event


def check_as_of(con, as_of: dt.date) -> None:
    """Refuse an as-of date outside the data: before it, nothing is active; after the latest
    event, every account looks silent. Either would replace good results with empty ones."""
    first, last = data_range(con)
    if first is None or last is None:
        return
    if not first <= as_of <= last:
        raise RefreshError(
            f"As-of date {as_of} is outside the data, which runs from {first} (the earliest "
            f"signup or event) to {last} (the latest event). Choose a date in that range (on the "
            "command line, --force computes as of it anyway). Nothing was changed."
        )


def refresh(
    path: str | Path | None = None,
    as_of: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
    check_range: bool = False,
) -> dt.date:
    """Rebuild every derived table as of a date (default: the latest event) and publish it.

    `check_range`: refuse (RefreshError) an as-of date outside the data, as the CLI and the
    app do unless told otherwise; tests and backtests pick any date on purpose."""
    if not db.exists(path):
        raise RefreshError(
            f"{db.db_path(path)}: no database yet. Run `python -m health load DIR` first."
        )
    with db.writing(path) as con:
        if not db.table_exists(con, "events"):
            raise RefreshError("No data is loaded. Run `python -m health load DIR` first.")
        if as_of is not None and check_range:
            check_as_of(con, as_of)
        as_of = as_of or default_as_of(con)
        run_steps(con, as_of, STEPS, progress)
        if progress:
            progress("publish")  # the checkpoint and the atomic swap
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES "
            "('as_of', ?), ('refreshed_at', strftime(now(), '%Y-%m-%d %H:%M:%S'))",
            [as_of.isoformat()],
        )
    return as_of
