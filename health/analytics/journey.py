"""The customer journey: milestones, current stage, time to value and the aggregate funnel."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from health import config, db

CONFIG = config.path("journey")
# Stages in journey order; at_risk and churned sit outside the forward path.
STAGES = (
    "signed_up",
    "onboarding",
    "first_value",
    "activated",
    "adopted",
    "expanding",
    "advocate",
    "at_risk",
    "churned",
)
MILESTONES = (
    ("onboarding_on", "Onboarding"),
    ("first_value_on", "First value"),
    ("activated_on", "Activated"),
    ("adopted_on", "Adopted"),
    ("expanding_on", "Expanding"),
    ("advocate_on", "Advocate"),
)


def settings(path: Path = CONFIG) -> dict:
    """The journey's settings as bound SQL parameters."""
    cfg = config.load(Path(path))
    return {
        "core_features": list(cfg["core"]["features"]),
        "min_account_share": float(cfg["core"]["min_account_share"]),
        "value_features": list(cfg["first_value"]["features"]),
        "window_days": int(cfg["activated"]["window_days"]),
        "min_core_features": int(cfg["activated"]["min_core_features"]),
        "min_users": int(cfg["activated"]["min_users"]),
        "min_active_weeks": int(cfg["adopted"]["min_active_weeks"]),
        "of_weeks": int(cfg["adopted"]["of_weeks"]),
        "recent_days": int(cfg["stage"]["recent_days"]),
    }


def refresh_milestones(con, as_of: dt.date) -> None:
    """Refresh step: the date each account reached each milestone, and the ordered steps."""
    db.build(
        con, ["int_journey_features", "int_journey_milestones", "int_journey_steps"], **settings()
    )


def refresh_stage(con, as_of: dt.date) -> None:
    """Refresh step, after scoring: each account's current stage (at risk comes from its tier)."""
    db.build(con, ["mart_account_stage"], **settings())


GROUPS = ("segment", "plan", "region", "cohort_month", "cohort_quarter")


def _group(group_by: str) -> str:
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}, not {group_by!r}")
    return group_by


def funnel(
    con,
    group_by: str = "segment",
    segments: list[str] | None = None,
    stall_days: int = 60,
    account_ids: list[str] | None = None,
) -> pl.DataFrame:
    """The journey map: per group and step, accounts reaching it in order, conversion, time."""
    return db.query(
        con,
        "q_journey_funnel",
        group_by=_group(group_by),
        segments=segments or [],
        stall_days=stall_days,
        # None keeps every account (the global filters are off); a list keeps only those.
        account_ids=None if account_ids is None else list(account_ids),
    )


def milestones(con, account_id: str) -> pl.DataFrame:
    """One account's milestones and current stage."""
    return db.run(
        con,
        "SELECT * FROM mart_account_stage WHERE account_id = $account_id",
        account_id=account_id,
    )
