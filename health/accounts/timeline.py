"""One account's journey on one time axis: usage, health, milestones, CS, support, moments."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from health import db

LANES = ("Milestones", "Moments", "Actions", "Contract", "CSM", "Support", "NPS")


@dataclass(frozen=True)
class Timeline:
    """What the timeline chart draws: weekly usage by feature, weekly health, dated points."""

    activity: pl.DataFrame  # week_end, feature, events
    health: pl.DataFrame  # week_end, health_score, churn_risk, tier
    points: pl.DataFrame  # lane, on_date, label, detail, key


def build(con, account_id: str, actions: pl.DataFrame | None = None) -> Timeline:
    """Everything that happened to one account, as of the refresh date."""
    points = db.query(con, "q_timeline_points", account_id=account_id)
    if actions is not None and not actions.is_empty():
        points = pl.concat([points, actions.select(points.columns)], how="vertical_relaxed")
    return Timeline(
        activity=db.query(con, "q_timeline_activity", account_id=account_id),
        health=db.query(con, "q_timeline_health", account_id=account_id),
        points=points.sort("on_date"),
    )
