"""The book of accounts: overview rows, filters, and weekly activity of a set of accounts."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from health import db


@dataclass(frozen=True)
class Filters:
    """What a person narrowed the list to; empty means everything."""

    segments: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    search: str = ""
    active_only: bool = True


def options(con) -> dict[str, list[str]]:
    """The values each filter can take."""
    frame = db.run(con, "SELECT segment, csm_owner, plan, region FROM mart_account_overview")
    return {c: sorted(frame[c].unique().to_list()) for c in frame.columns}


def overview(con, filters: Filters = Filters()) -> pl.DataFrame:
    """One row per account matching the filters, biggest ARR first."""
    return db.query(
        con,
        "q_account_overview",
        segments=list(filters.segments),
        owners=list(filters.owners),
        plans=list(filters.plans),
        regions=list(filters.regions),
        search=filters.search.strip().lower(),
        active_only=filters.active_only,
    )


def weekly_activity(con, account_ids: list[str], weeks: int = 52) -> pl.DataFrame:
    """Events and active accounts per week over the given accounts, the last `weeks` weeks."""
    return db.query(con, "q_weekly_activity", account_ids=account_ids, weeks=weeks)
