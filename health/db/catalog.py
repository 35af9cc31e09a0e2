"""What is loaded: tables, row counts, date ranges, loads, rejected rows, refresh state."""

from __future__ import annotations

import polars as pl

from health import db
from health.ingest.contract import TABLES


def tables(con) -> pl.DataFrame:
    """One row per contract table: rows stored, first and last date, whether it is required."""
    rows = []
    for t in TABLES:  # names from the contract: an allow-list
        if t.name == "events" and db.table_exists(con, "event_days"):
            # The events are in their own store, which readers never open: their manifest.
            n, first, last = con.execute(
                "SELECT coalesce(sum(events), 0), min(day), max(day) FROM event_days"
            ).fetchall()[0]
        elif db.table_exists(con, t.name):
            n, first, last = con.execute(
                f"SELECT count(*), min({t.clock})::date, max({t.clock})::date FROM {t.name}"
            ).fetchall()[0]
        else:
            n, first, last = 0, None, None
        rows.append(
            {
                "table": t.name,
                "required": t.required,
                "rows": n,
                "first": first,
                "last": last,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"first": pl.Date, "last": pl.Date})


def meta(con) -> dict[str, str]:
    """Key facts about the database: as_of, refreshed_at, loaded_at."""
    if not db.table_exists(con, "meta"):
        return {}
    return dict(con.execute("SELECT key, value FROM meta").fetchall())


def recipe(con) -> str | None:
    """The mapping recipes the last load used ('segment + stripe'), or None for plain files."""
    used = meta(con).get("recipe")
    return None if used in (None, "none") else used


def loads(con) -> pl.DataFrame:
    """Every file loaded, newest first."""
    if not db.table_exists(con, "loads"):
        return pl.DataFrame()
    return db.run(con, "SELECT * FROM loads ORDER BY loaded_at DESC, table_name")


def rejects(con, table: str | None = None) -> pl.DataFrame:
    """Rejected rows of the latest load of each table, with their reasons."""
    if not db.table_exists(con, "rejects"):
        return pl.DataFrame()
    return db.run(
        con,
        """
        SELECT table_name, file, line, row_number, reason, record::VARCHAR AS record
        FROM rejects
        WHERE $table IS NULL OR table_name = $table
        ORDER BY table_name, row_number
        """,
        table=table,
    )


def is_refreshed(con) -> bool:
    """Whether the derived tables exist (a refresh has run)."""
    return db.table_exists(con, "mart_account_overview")
