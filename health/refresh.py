"""The refresh pipeline: everything derived from the loaded data, as of one date."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from pathlib import Path

from health import db

# Build order, dbt-style layers: staging (views) -> intermediate -> marts. A name is a SQL file
# in health/sql; "module:function" is a Python step called as function(con, as_of), for work
# SQL does badly (model training, change-point detection). Explicit order, no DAG parser.
STEPS: list[str] = [
    "stg_accounts",
    "stg_events",
    "stg_users",
    "stg_subscriptions",
    "stg_tickets",
    "stg_surveys",
    "stg_touchpoints",
    "refresh:define_macros",
    "int_weeks",
    "int_account_days",
    "int_user_days",
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
    "model:refresh_scores",
    "moments:refresh_moments",
    "journey:refresh_milestones",
    "journey:refresh_stage",
    "actions:refresh_actions",
]


def steps_through(last: str) -> list[str]:
    """The build order up to and including `last`, for partial pipelines (tests, backtests)."""
    return STEPS[: STEPS.index(last) + 1]


def run_steps(
    con, as_of: dt.date, steps: list[str], progress: Callable[[str], None] | None = None
) -> None:
    """Set the as-of date and build the given steps in order on an open, writable connection."""
    con.execute("CREATE OR REPLACE TABLE params AS SELECT ?::DATE AS as_of", [as_of])
    for step in steps:
        if progress:
            progress(step.split(":")[-1])
        if ":" in step:
            module, function = step.split(":")
            getattr(importlib.import_module(f"health.{module}"), function)(con, as_of)
        else:
            db.build(con, [step])


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


def refresh(
    path: str | Path | None = None,
    as_of: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> dt.date:
    """Rebuild every derived table as of a date (default: the latest event) and publish it."""
    if not db.exists(path):
        raise RefreshError(
            f"{db.db_path(path)}: no database yet. Run `python -m health load DIR` first."
        )
    with db.writing(path) as con:
        if not db.table_exists(con, "events"):
            raise RefreshError("No data is loaded. Run `python -m health load DIR` first.")
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
