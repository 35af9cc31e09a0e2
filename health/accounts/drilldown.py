"""One account, for the drill-down page: facts, why its health moved, people, support, voice."""

from __future__ import annotations

import polars as pl

from health import db


def facts(con, account_id: str) -> dict | None:
    """The header facts of one account, or None when there is no such account."""
    frame = db.query(con, "q_account_facts", account_id=account_id)
    return frame.row(0, named=True) if frame.height else None


def health_changes(con, account_id: str, weeks: int = 4) -> pl.DataFrame:
    """Each health component now and `weeks` weeks ago: which ones moved the score."""
    return db.query(con, "q_account_health_changes", account_id=account_id, weeks=weeks)


def moments(con, account_id: str) -> pl.DataFrame:
    """The account's moments of truth, newest first, with evidence and guidance."""
    return db.query(con, "q_account_moments", account_id=account_id)


def contacts(con, account_id: str) -> pl.DataFrame:
    """The people at the account, champion first, with their recent activity."""
    return db.query(con, "q_account_contacts", account_id=account_id)


def tickets(con, account_id: str) -> pl.DataFrame:
    """Support tickets, newest first."""
    return db.query(con, "q_account_tickets", account_id=account_id)


def nps(con, account_id: str) -> pl.DataFrame:
    """NPS answers, newest first."""
    return db.query(con, "q_account_nps", account_id=account_id)


def subscriptions(con, account_id: str) -> pl.DataFrame:
    """Contract periods, newest first, with the change from the one before."""
    return db.query(con, "q_account_subscriptions", account_id=account_id)


def choices(con, owner: str | None = None) -> pl.DataFrame:
    """Accounts to pick from (a CSM's own book when `owner` is given), biggest ARR first."""
    return db.run(
        con,
        "SELECT account_id, name FROM mart_account_overview "
        "WHERE $owner::VARCHAR IS NULL OR csm_owner = $owner ORDER BY arr DESC NULLS LAST, name",
        owner=owner,
    )


def action_points(acts: pl.DataFrame) -> pl.DataFrame:
    """Actions as timeline points: suggested on the day triggered, closed on the day recorded."""
    if acts.is_empty():
        return pl.DataFrame()
    c = pl.col
    return acts.select(
        pl.lit("Actions").alias("lane"),
        pl.coalesce(c("recorded_at").cast(pl.Date), c("triggered_on")).alias("on_date"),
        c("title").alias("label"),
        (c("status") + pl.lit(": ") + c("note").fill_null(c("reason"))).alias("detail"),
        c("status").alias("key"),
    )
