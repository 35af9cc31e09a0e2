"""The event layer on DuckDB: the only code that reads events; it builds the daily tables.

Everything after the daily tables is small (accounts × days) and reads them, never the events.
An engine gives the manifest of the events it reads (one row per day: events, latest event
time) and builds the daily tables for the days from `since` to the as-of date. The stored
manifest is the one the daily tables were last built from: the first day where it and the
current one differ is the first day to build again.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from health import db

# The daily tables: a day's row depends on that day's events only, so a refresh keeps the days
# built before and rebuilds just those from the first day that changed (and drops days after
# the as-of date). The last is the narrow table the adoption KPIs count (user × feature × day).
DAILY = ("int_account_days", "int_user_days", "int_event_days", "int_user_feature_days")
# Built whole in batches of accounts (DuckDBEvents): the tables with about a row per user or
# event name per day, whose group-by is as large as the events. int_account_days, a row per
# account per day, is a small group-by: batches only added their scans (1.0 -> 1.4 CPU s).
BATCHED = ("int_user_days", "int_event_days", "int_user_feature_days")
MANIFEST = "event_manifest"  # the stored manifest: what the daily tables were built from
MANIFEST_SCHEMA = {"day": pl.Date, "events": pl.Int64, "max_event_time": pl.Datetime("us")}
# meta['daily_through'] is the as-of date the daily tables were last built for.
THROUGH = "daily_through"


class EventsError(Exception):
    """The events can't be read or rolled up as asked; the message says why and what to do."""


class DuckDBEvents:
    """The default engine: the events table of the database itself.

    A whole build runs each daily table's group-by over ranges of accounts, one after another,
    and appends them in account order: a group never spans two accounts, so the rows are the
    same, while each hash table is a batch's, not the whole table's (fewer cache misses and
    resizes, less memory), a stored order (account, ...) is sorted a batch at a time, and the
    tables without one come out grouped by account anyway. The store keeps each load's events
    in account order, so a batch's filter skips most row groups; where it cannot (events in
    time order), a batch reads the account column again, which the cap on batches bounds.
    At 4,000 accounts (16.1M events, 16 batches) the three batched tables took 17.2 CPU s
    instead of 20.9 (medians of 3 runs; the same rows).
    """

    name = "duckdb"

    def __init__(self, events_per_batch: int = 1_000_000, max_batches: int = 16):
        self.events_per_batch, self.max_batches = events_per_batch, max_batches

    def manifest(self, con) -> pl.DataFrame:
        """One row per day with events: day, events, max_event_time.

        Loads keep it (table event_days, health/ingest/days.py) for the days they touch, so a
        refresh does not scan the events for it; a database without one counts them."""
        if db.table_exists(con, "event_days"):
            return db.run(con, "SELECT day, events, max_event_time FROM event_days ORDER BY day")
        if not db.table_exists(con, "events"):
            return pl.DataFrame(schema=MANIFEST_SCHEMA)
        return db.query(con, "int_event_manifest")

    def build(self, con, as_of: dt.date, since: dt.date | None) -> None:
        """Build the daily tables in `con` whole (since None) or for the days since `since`."""
        db.build(con, ["stg_events"])
        ranges = self.account_ranges(con) if since is None else []
        for name in DAILY:
            if since is None:
                build_by_accounts(con, name, ranges if name in BATCHED else [])
                continue
            con.execute(f"DELETE FROM {name} WHERE day >= ? OR day > ?", [since, as_of])
            if since <= as_of:
                # The days since `since` only, read from their events only: the daily SQL's
                # filter on `day` (event_time::date) does not reach the scan, one on event_time
                # does, and skips every row group whose events all come before (after one new
                # day, 2 of 132 at 4,000 accounts: the scan of 16.1M events was 0.25 s a table).
                # The CTE stands in for the staging view in the daily SQL (main.stg_events is
                # the view itself); the same rows, as day >= since <=> event_time >= since.
                con.execute(
                    f"INSERT INTO {name} WITH stg_events AS (SELECT * FROM main.stg_events "
                    f"WHERE event_time >= ?::TIMESTAMP) "
                    f"SELECT * FROM ({db.sql(name)}) WHERE day >= ?",
                    [since, since],
                )

    def account_ranges(self, con) -> list[tuple[str | None, str | None]]:
        """Ranges [low, high) of account ids (None: open) that split the accounts evenly into
        one batch per `events_per_batch` events, at most `max_batches`; one open range when
        the events are few."""
        total = self.manifest(con)["events"].sum() or 0
        batches = min(self.max_batches, total // max(self.events_per_batch, 1))
        if batches < 2 or not db.table_exists(con, "accounts"):
            return [(None, None)]
        ids = [r[0] for r in con.execute("SELECT account_id FROM accounts ORDER BY 1").fetchall()]
        # In DuckDB's order (the filters compare as it does); each bound starts a batch.
        bounds = list(dict.fromkeys(ids[len(ids) * i // batches] for i in range(1, batches)))
        if not bounds:
            return [(None, None)]
        return list(zip([None, *bounds], [*bounds, None], strict=True))


def build_by_accounts(con, name: str, ranges: list[tuple[str | None, str | None]]) -> None:
    """Create daily table `name` whole, its group-by run over each range of account ids in turn
    (in range order, so a table stored in account order stays in it)."""
    if len(ranges) <= 1:  # one batch: all events
        db.build(con, [name])
        return
    text = db.sql(name)
    # The types of a whole build, whatever the first batch holds.
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM ({text}) WHERE false")
    for low, high in ranges:
        where = ["account_id >= ?"] if low is not None else []
        where += ["account_id < ?"] if high is not None else []
        if high is None:  # no valid event lacks an account; if one did, it would be kept
            where = [f"({' AND '.join(where)} OR account_id IS NULL)"]
        bounds = [b for b in (low, high) if b is not None]
        # The filter reaches the events' scan: a batch reads the row groups of its accounts.
        con.execute(
            f"INSERT INTO {name} SELECT * FROM ({text}) WHERE {' AND '.join(where)}", bounds
        )


def stored_manifest(con) -> pl.DataFrame:
    """The manifest the daily tables were last built from (empty before the first build)."""
    if not db.table_exists(con, MANIFEST):
        return pl.DataFrame(schema=MANIFEST_SCHEMA)
    return db.run(con, f"SELECT day, events, max_event_time FROM {MANIFEST} ORDER BY day")


def latest_day(manifest: pl.DataFrame) -> dt.date | None:
    """The latest day with an event in a manifest: the default as-of date."""
    return manifest["day"].max() if manifest.height else None


def first_changed_day(old: pl.DataFrame, new: pl.DataFrame) -> dt.date | None:
    """The first day whose events differ between two manifests (None when they are equal)."""
    old, new = _typed(old), _typed(new)
    joined = old.join(new, on="day", how="full", coalesce=True, suffix="_new")
    differs = joined.filter(
        pl.col("events").ne_missing(pl.col("events_new"))
        | pl.col("max_event_time").ne_missing(pl.col("max_event_time_new"))
    )
    return differs["day"].min() if differs.height else None


def _typed(manifest: pl.DataFrame) -> pl.DataFrame:
    return manifest.select([pl.col(name).cast(kind) for name, kind in MANIFEST_SCHEMA.items()])


def rebuild_from(con, manifest: pl.DataFrame, as_of: dt.date) -> dt.date | None:
    """The first day whose daily tables must be rebuilt; None when they must be built whole."""
    built = []
    if db.table_exists(con, "meta"):
        built = con.execute("SELECT value FROM meta WHERE key = ?", [THROUGH]).fetchall()
    if not built or not all(db.table_exists(con, t) for t in (*DAILY, MANIFEST)):
        return None
    since = dt.date.fromisoformat(built[0][0]) + dt.timedelta(days=1)
    changed = first_changed_day(stored_manifest(con), manifest)
    return since if changed is None else min(since, changed)


def refresh_events(con, as_of: dt.date, engine=None, manifest: pl.DataFrame | None = None):
    """Build the daily tables as of a date with an engine (DuckDB's by default), keeping the
    days whose events did not change, and store the manifest they were built from."""
    engine = engine or DuckDBEvents()
    manifest = engine.manifest(con) if manifest is None else manifest
    since = rebuild_from(con, manifest, as_of)
    engine.build(con, as_of, since)
    store_manifest(con, manifest)
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    # The loader's own marker of changed days is superseded by the manifests' difference.
    con.execute("DELETE FROM meta WHERE key = 'events_changed_from'")
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [THROUGH, as_of.isoformat()])
    return since


def store_manifest(con, manifest: pl.DataFrame) -> None:
    """Keep the manifest the daily tables were just built from."""
    con.register("_new_manifest", _typed(manifest).to_arrow())
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {MANIFEST} AS SELECT * FROM _new_manifest ORDER BY day"
        )
    finally:
        con.unregister("_new_manifest")
