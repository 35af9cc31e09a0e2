"""The action state machine: one place says which state an action is in, at refresh and live.

An action is `listed` (on a CSM's list today), `queued` (waiting for room in the daily budget),
`snoozed` (until a day), `done` or `dismissed` (closed by the CSM, from the action log), or set
aside by the refresh: `duplicate` (another action covers the same account and reason),
`covered` (an open action of another reason covers it) or `expired` (its trigger is over).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

STATES = ("listed", "snoozed", "queued", "done", "dismissed", "duplicate", "covered", "expired")
CLOSED = ("done", "dismissed")  # statuses a CSM closes an action with
SET_ASIDE = ("duplicate", "covered", "expired")  # decided by the refresh, not by the log


def snoozed(as_of: dt.date) -> pl.Expr:
    """Whether the latest log entry snoozes the action past the as-of date."""
    return (pl.col("status") == "snoozed") & (pl.col("snooze_until") > as_of)


def state(
    *,
    closed: pl.Expr,
    duplicate: pl.Expr,
    covered: pl.Expr,
    pending: pl.Expr,
    snoozed: pl.Expr,
    listed: pl.Expr,
) -> pl.Expr:
    """The state, the first that holds in this order: closed (its status), duplicate, covered,
    expired (not pending), snoozed, listed, else queued."""
    return (
        pl.when(closed)
        .then(pl.col("status"))
        .when(duplicate)
        .then(pl.lit("duplicate"))
        .when(covered)
        .then(pl.lit("covered"))
        .when(~pending)
        .then(pl.lit("expired"))
        .when(snoozed)
        .then(pl.lit("snoozed"))
        .when(listed)
        .then(pl.lit("listed"))
        .otherwise(pl.lit("queued"))
    )


def live(frame: pl.DataFrame, as_of: dt.date) -> pl.Expr:
    """The state now, from the latest log entry, for actions the refresh did not set aside."""
    c, no = pl.col, pl.lit(False)
    from_log = state(
        closed=c("status").is_in(CLOSED),
        duplicate=no,
        covered=no,
        pending=pl.lit(True),
        snoozed=snoozed(as_of),
        listed=c("surfaced_on").is_not_null(),
    )
    return pl.when(c("state").is_in(SET_ASIDE)).then(c("state")).otherwise(from_log)
