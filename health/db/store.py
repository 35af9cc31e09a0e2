"""The events store: the raw events in a DuckDB file of their own, beside the database.

A writer copies the database file and swaps the copy in whole (door.writing); with the events
inside, that copy would grow with the events on every load and refresh. So the events live in
`<stem>.events.duckdb`, which only writers open, under the writer lock, and change in place; the
app never reads raw events (the event layer's daily tables are what it reads).

Each stored event carries the number of the load that added it (`_load`). The database's meta
says which loads are published (`events_floor` to `events_top`), and a writer reads the events
through a temp view `events` of those rows only. A load's rows become part of the last good
state when the database naming its number is swapped in: rows of a load killed before its swap
are outside the range, never read, and deleted by the next load. A load that replaces every
event raises the floor instead of deleting rows, so the last good state stays whole until then.

A database from before the store (its events a table inside it) is migrated by the next writer,
load or refresh: the events are copied into a new store once, and the table leaves the database
in the same swap.
"""

from __future__ import annotations

from pathlib import Path

from health.ingest import days
from health.ingest.contract import TABLES
from health.ingest.validate import SQL_TYPES

EVENTS = next(t for t in TABLES if t.name == "events")
COLUMNS = ", ".join(EVENTS.names)
# meta keys: the published range of load numbers; the marker of a database that has a store.
FLOOR, TOP, MARK = "events_floor", "events_top", "events_store"
# Followed by a relation of the contract's event columns: inserts them as rows of this load.
INSERT = (
    f"INSERT INTO store.events ({COLUMNS}, _load) SELECT {COLUMNS}, getvariable('events_load') FROM"
)


class StoreError(Exception):
    """The events store is missing or unreadable; the message says what to do."""


def path_for(database: Path) -> Path:
    """The events store beside a database: data/health.duckdb -> data/health.events.duckdb."""
    database = Path(database)
    return database.with_name(f"{database.stem}.events.duckdb")


def open_for(con, database: Path, *, write: bool) -> None:
    """Make temp view `events` on a writer's work copy: the published events, plus (`write`)
    those this load adds. Migrates a database from before the store first."""
    store = path_for(database)
    meta = _meta(con)
    migrating = MARK not in meta and _has_own_events(con)
    if migrating:
        _migrate(con, store)
        meta = _meta(con)
    elif MARK in meta and not store.exists():
        raise StoreError(
            f"{store}: the events of {database} are missing. Copy the database together with "
            "this file, or load the data folder again into a new database."
        )
    floor, top = int(meta.get(FLOOR, 0)), int(meta.get(TOP, 0))
    if write:
        _attach(con, store, read_only=False)
        _ensure_table(con)
        # Rows of a load killed before its swap, and rows a replacing load has left behind.
        con.execute("DELETE FROM store.events WHERE _load > ? OR _load < ?", [top, floor])
        top += 1
    elif store.exists():
        _attach(con, store, read_only=True)
    con.execute("SET VARIABLE events_floor = ?", [floor])
    con.execute("SET VARIABLE events_load = ?", [top])
    _view(con, has_store=write or store.exists())
    if migrating:
        days.ensure(con)  # the events' manifest, which the refresh reads instead of them


def attach(con, database: Path, *, read_only: bool) -> None:
    """Make temp view `events` of the published events on a connection to `database` (tools,
    tests and scripts, never the app: an open store would block the next load). Writable, the
    store is `store.events`; whoever edits it there recounts `event_days` (ingest/days.py)."""
    meta = _meta(con)
    store = path_for(database)
    if MARK not in meta or not store.exists():
        if not _has_own_events(con):  # a database from before the store reads its own table
            _view(con, has_store=False)
        return
    _attach(con, store, read_only=read_only)
    con.execute("SET VARIABLE events_floor = ?", [int(meta.get(FLOOR, 0))])
    con.execute("SET VARIABLE events_load = ?", [int(meta.get(TOP, 0))])
    _view(con, has_store=True)


def clear(con) -> None:
    """Take every stored event out of the view: a load that replaces the data starts empty.
    The rows go when the load is published (the next writer deletes them)."""
    con.execute("SET VARIABLE events_floor = getvariable('events_load')")


def publish(con, *, write: bool) -> None:
    """Before the swap: name this load's rows in meta and make the store durable."""
    if not write:
        return
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "INSERT OR REPLACE INTO meta VALUES (?, getvariable('events_floor')::VARCHAR), "
        "(?, getvariable('events_load')::VARCHAR), (?, 'separate')",
        [FLOOR, TOP, MARK],
    )
    con.execute("CHECKPOINT store")


def home(con) -> str:
    """The database holding the data: `warehouse` on a reader (whose own catalog is in memory
    and first in its search path, for the macros), else the connection's own."""
    readers = con.execute(
        "SELECT 1 FROM duckdb_databases() WHERE database_name = 'warehouse'"
    ).fetchall()
    return "warehouse" if readers else con.execute("SELECT current_database()").fetchone()[0]


def _meta(con) -> dict[str, str]:
    hit = con.execute(
        "SELECT 1 FROM duckdb_tables() WHERE database_name = ? AND table_name = 'meta'",
        [home(con)],
    ).fetchall()
    return dict(con.execute("SELECT key, value FROM meta").fetchall()) if hit else {}


def _has_own_events(con) -> bool:
    return bool(
        con.execute(
            "SELECT 1 FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name = 'main' AND table_name = 'events'",
            [home(con)],
        ).fetchall()
    )


def _attach(con, store: Path, *, read_only: bool) -> None:
    # The path is the database's own, with a fixed suffix: never a value from a web form.
    quoted = str(store).replace("'", "''")
    mode = " (READ_ONLY)" if read_only else ""
    con.execute(f"ATTACH '{quoted}' AS store{mode}")


def _ensure_table(con) -> None:
    cols = ", ".join(f"{c.name} {SQL_TYPES[c.type]}" for c in EVENTS.columns)
    con.execute(f"CREATE TABLE IF NOT EXISTS store.events ({cols}, _load INTEGER)")
    for col in EVENTS.columns:  # a store made before a column joined the contract
        kind = SQL_TYPES[col.type]
        con.execute(f"ALTER TABLE store.events ADD COLUMN IF NOT EXISTS {col.name} {kind}")


def _view(con, *, has_store: bool) -> None:
    if has_store:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW events AS SELECT {COLUMNS} FROM store.events "
            "WHERE _load BETWEEN getvariable('events_floor') AND getvariable('events_load')"
        )
        return
    cols = ", ".join(f"NULL::{SQL_TYPES[c.type]} AS {c.name}" for c in EVENTS.columns)
    con.execute(f"CREATE OR REPLACE TEMP VIEW events AS SELECT {cols} WHERE false")


def _migrate(con, store: Path) -> None:
    """Move the database's own events table into a new store (in the work copy: the old file
    stays as it was until the swap; a store left by a killed migration is made again)."""
    for leftover in (store, store.with_name(store.name + ".wal")):
        leftover.unlink(missing_ok=True)
    _attach(con, store, read_only=False)
    _ensure_table(con)
    own = f"{con.execute('SELECT current_database()').fetchone()[0]}.main.events"
    con.execute(f"INSERT INTO store.events SELECT {COLUMNS}, 0 FROM {own}")
    con.execute(f"DROP TABLE {own}")
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "INSERT OR REPLACE INTO meta VALUES (?, '0'), (?, '0'), (?, 'separate')",
        [FLOOR, TOP, MARK],
    )
    con.execute("CHECKPOINT store")
    con.execute("DETACH store")
