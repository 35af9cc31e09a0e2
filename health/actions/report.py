"""Did health improve after actions? Done actions against the same triggers left without one."""

from __future__ import annotations

import os

import polars as pl

from health import db
from health.actions import log as action_log

GROUPS = ("reason_kind", "reason")
ACTED, NOT_ACTED = "action done", "no action done"
REPORT_COLUMNS = {
    "group": pl.String,
    "n_4w": pl.UInt32,
    "mean_change_4w": pl.Float64,
    "share_improved_4w": pl.Float64,
    "n_8w": pl.UInt32,
    "mean_change_8w": pl.Float64,
    "share_improved_8w": pl.Float64,
}


def health_after_actions(con, log: str | os.PathLike, by: str = "reason_kind") -> pl.DataFrame:
    """Health change 4 and 8 weeks after actions marked done, next to triggers with none done.

    For each action marked done (latest status), health_score in the week it was marked (the
    as-of the CSM was looking at, else the day it was recorded) is compared with 4 and 8 weeks
    later (mart_health_history). Beside it, per `by` (reason_kind or reason), the same triggers
    whose action was not done (queued, expired, dismissed or left open), measured from the day
    they triggered. Health drifts on its own, and back towards the middle after a bad week: a
    rise after an action is evidence only as far as it exceeds the rise without one, and even
    then CSMs choose which actions to do, so it is a comparison, not a measured effect.
    Changes not yet observable (less than 4 or 8 weeks of history since) are left out.
    """
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}, not {by!r}")
    empty = pl.DataFrame(schema={by: pl.String, **REPORT_COLUMNS})
    if not (db.table_exists(con, "mart_actions") and db.table_exists(con, "mart_health_history")):
        return empty
    latest = action_log.statuses(log)
    done = latest.filter(pl.col("status") == "done").select(
        "action_id",
        marked_on=pl.coalesce(pl.col("as_of"), pl.col("recorded_at").dt.date()),
    )
    cur = db.cursor(con)
    try:
        with db.registered(cur, "done_actions", done):
            rows = cur.sql(db.sql("q_actions_health_after")).pl()
    finally:
        cur.close()
    if rows.is_empty():
        return empty
    c = pl.col
    return (
        rows.with_columns(
            group=pl.when(c("acted")).then(pl.lit(ACTED)).otherwise(pl.lit(NOT_ACTED))
        )
        .group_by(by, "group")
        .agg(
            n_4w=c("change_4w").count(),
            mean_change_4w=c("change_4w").mean().round(2),
            share_improved_4w=(c("change_4w") > 0).sum() / c("change_4w").count(),
            n_8w=c("change_8w").count(),
            mean_change_8w=c("change_8w").mean().round(2),
            share_improved_8w=(c("change_8w") > 0).sum() / c("change_8w").count(),
        )
        .with_columns(c("share_improved_4w", "share_improved_8w").round(3))
        .sort(by, "group")
        .select(by, *[c(k).cast(t) for k, t in REPORT_COLUMNS.items()])
    )
