"""A CSM's book of business: active accounts ranked by what is at stake, with the next step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from health import db
from health.actions import suggest as actions


@dataclass(frozen=True)
class BookFilters:
    """What a CSM narrowed the book to; empty means everything."""

    owner: str | None = None
    account_ids: tuple[str, ...] | None = None  # the global sidebar scope
    tiers: tuple[str, ...] = ()
    moment_types: tuple[str, ...] = ()  # accounts with such a moment in the last `moment_days`
    moment_days: int = 90
    renewal_within_days: int | None = None


def book(con, log: str | Path, filters: BookFilters = BookFilters()) -> pl.DataFrame:
    """Active accounts ranked by ARR x risk x renewal proximity, with the next open action."""
    frame = db.query(con, "q_book")
    f = filters
    c = pl.col
    if f.owner:
        frame = frame.filter(c("csm_owner") == f.owner)
    if f.account_ids is not None:
        frame = frame.filter(c("account_id").is_in(list(f.account_ids)))
    if f.tiers:
        frame = frame.filter(c("tier").is_in(list(f.tiers)))
    if f.moment_types:
        as_of = con.execute("SELECT as_of FROM params").fetchall()[0][0]
        recent = c("newest_moment_on") > pl.lit(as_of) - pl.duration(days=f.moment_days)
        frame = frame.filter(c("newest_moment").is_in(list(f.moment_types)) & recent)
    if f.renewal_within_days is not None:
        frame = frame.filter(c("renewal_in_days").is_between(0, f.renewal_within_days))
    return frame.join(next_actions(con, log, f.owner), on="account_id", how="left")


def next_actions(con, log: str | Path, owner: str | None) -> pl.DataFrame:
    """Each account's most pressing open action (today's list first, then the queue)."""
    todo = actions.todays_actions(con, log, owner)
    if todo.is_empty():
        return pl.DataFrame(schema={"account_id": pl.String, "next_action": pl.String})
    return (
        todo.sort("priority", descending=True)
        .group_by("account_id", maintain_order=True)
        .first()
        .select("account_id", pl.col("title").alias("next_action"))
    )
