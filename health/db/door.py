"""The one door to DuckDB: paths, connections, atomic writes, named SQL."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from health.db import store

if TYPE_CHECKING:  # polars only in hints here: `load` runs without importing it (0.1 s)
    import polars as pl

ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = Path(__file__).resolve().parent / "sql"
DEFAULT_DB = ROOT / "data" / "health.duckdb"

# Leave room for Python, Streamlit and the OS on a 24 GB, 2-core machine; DuckDB spills past it.
MEMORY_LIMIT = os.environ.get("HEALTH_MEMORY_LIMIT", "3GB")


def db_path(path: str | os.PathLike | None = None) -> Path:
    """The database file: the argument, else $HEALTH_DB, else data/health.duckdb."""
    chosen = path or os.environ.get("HEALTH_DB") or DEFAULT_DB
    return Path(chosen).expanduser().resolve()


def connect(
    path: str | os.PathLike | None = None,
    *,
    read_only: bool = True,
    events: bool | None = None,
):
    """Open the database (read-only unless asked), in UTC, with a memory limit.

    A read-only connection is a fresh in-memory instance with the file attached. DuckDB shares
    one instance per path within a process, so a plain connect after a refresh swapped in a new
    file would be handed the old, still-open instance and serve stale data.

    `events` (default: when writable) also attaches the events store (writable when the
    connection is), as view `events`. The app never does: an open store would block a load.
    """
    path = db_path(path) if path != ":memory:" else path
    if not read_only or path == ":memory:":
        con = duckdb.connect(str(path), read_only=read_only)
        _configure(con, path)
    else:
        con = duckdb.connect(":memory:")
        _configure(con, path)
        # The path is ours (argument, $HEALTH_DB or the default), never a value from a web form.
        quoted = str(path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS warehouse (READ_ONLY)")
        _use_warehouse(con)
        _reading_macros(con)
    if path != ":memory:" and (not read_only if events is None else events):
        store.attach(con, path, read_only=read_only)
    return con


def cursor(con):
    """A cursor for one thread, reading the same database as `con`."""
    cur = con.cursor()
    _session(cur)  # a cursor is a session of its own: it does not inherit the connection's
    # Asked on the cursor, not on `con`: the connection is shared by threads, the cursor not.
    if _attached(cur):
        _use_warehouse(cur)
    return cur


def _reading_macros(con) -> None:
    # The app's queries call the macros of macros.sql, which a refresh writes into the file; one
    # refreshed by an older build lacks them (or holds older ones). The reader's own in-memory
    # database takes this build's copy instead: nothing is written to the read-only file.
    text = re.sub(r"(CREATE OR REPLACE MACRO) (\w+)", r"\1 memory.main.\2", sql("macros"))
    # Loaded but never refreshed, or a partial database in a test: no staging for the macros to
    # bind to, nor queries that would call them.
    with contextlib.suppress(duckdb.CatalogException, duckdb.BinderException):
        con.execute(text)


def _use_warehouse(con) -> None:
    # A setting per connection and per cursor: the macros above first, then the file's tables.
    con.execute("USE warehouse")
    con.execute("SET search_path = 'memory.main,warehouse.main'")


def _attached(con) -> bool:
    rows = con.execute("SELECT 1 FROM duckdb_databases() WHERE database_name = 'warehouse'")
    return bool(rows.fetchall())


def _configure(con, path) -> None:
    con.execute("SET enable_progress_bar = false")  # our own progress goes to the CLI
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")  # from the environment, not from users
    _session(con)
    if path != ":memory:":
        spill = Path(path).parent / ".spill"
        con.execute("SET temp_directory = ?", [str(spill)])


def release_memory(con) -> None:
    """Have DuckDB hand back what it keeps between queries before Python builds large frames.

    DuckDB keeps blocks it read or wrote (and finished intermediates) cached up to its memory
    limit, and a refresh's Python steps (the model, scores, moments) come on top of that. A
    lower limit makes it evict them at once (cached blocks dropped, unsaved ones to the spill
    folder), the limit is then put back: later queries read what they need again. Nothing
    computed changes. Blocks in use that cannot go leave the limit as it was. The limit is the
    database's, not the cursor's: never while another thread's query runs on it, which the low
    limit could fail (the refresh's steps beside hold a lock for it, see pipeline/refresh.py)."""
    with contextlib.suppress(duckdb.Error):
        con.execute("SET memory_limit = '64MB'")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")


def _session(con) -> None:
    # Settings of a session, which every connection and cursor sets: dates and weeks of
    # timestamps are UTC's, not the machine's zone (a cursor would otherwise take the machine's).
    con.execute("SET TimeZone = 'UTC'")
    _plan(con)


def _plan(con) -> None:
    # DuckDB runs an ASOF join as a nested loop when it expects a few rows on the left; behind a
    # CTE its estimate can be thousands of rows short, and the Playbooks page's outcomes query
    # then compared 6,400 actions with 479,000 weeks one by one (33 s at 10,000 accounts; 1.5 s
    # with the ASOF join's own sort). A session setting: every connection and cursor sets it.
    con.execute("SET asof_loop_join_threshold = 0")


def exists(path: str | os.PathLike | None = None) -> bool:
    """Whether a database has been built at the path."""
    return db_path(path).is_file()


@contextlib.contextmanager
def writing(
    path: str | os.PathLike | None = None,
    *,
    adds_events: bool = False,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Write to a copy of the database and swap it in atomically when the block succeeds.

    Readers (the app) keep reading the old file until the swap; a failure, or a kill at any
    point, leaves the published database exactly as it was. Writers queue on a lock file.
    The events are not in the copy: they stay in their store (db/store.py), read through view
    `events`; a writer that `adds_events` (a load) appends its own rows there, which count
    from the swap on.
    """
    target = db_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _writer_lock(target):
        _remove_stale_copies(target)
        work = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        try:
            if target.exists():
                shutil.copy2(target, work)
            con = duckdb.connect(str(work))
            _configure(con, work)
            try:
                store.open_for(con, target, write=adds_events)
                yield con
                store.publish(con, write=adds_events)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            os.replace(work, target)
            _fsync_dir(target.parent)
        finally:
            for leftover in (work, work.with_name(work.name + ".wal")):
                leftover.unlink(missing_ok=True)


def copy(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy a database and its events store (not a writer's work copy): a copy to change freely."""
    source, target = Path(source), Path(target)
    shutil.copy2(source, target)
    events = store.path_for(source)
    if events.exists():
        shutil.copy2(events, store.path_for(target))
    else:
        store.path_for(target).unlink(missing_ok=True)
    return target


def published_file(con) -> Path | None:
    """The database file a connection's work will be published as: its own file, without the
    `.tmp-<pid>` suffix of a `writing` copy; None in memory."""
    row = con.execute(
        "select path from duckdb_databases() where database_name = ?", [store.home(con)]
    ).fetchall()
    if not row or not row[0][0]:
        return None
    path = Path(row[0][0])
    return path.with_name(re.sub(r"\.tmp-\d+$", "", path.name))


@contextlib.contextmanager
def _writer_lock(target: Path) -> Iterator[None]:
    lock = target.with_name(target.name + ".lock")
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale_copies(target: Path) -> None:
    # Under the writer lock no other writer runs, so every copy left here is from a killed one.
    for stale in target.parent.glob(f"{target.name}.tmp-*"):
        stale.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def version(path: str | os.PathLike | None = None) -> tuple[int, int]:
    """A token that changes whenever a new database is swapped in (inode, mtime)."""
    try:
        st = db_path(path).stat()
    except FileNotFoundError:
        return (0, 0)
    return (st.st_ino, st.st_mtime_ns)


@cache
def sql(name: str) -> str:
    """The text of a named SQL file: health/db/sql/<layer>/<name>.sql, the layer its prefix."""
    layer = SQL_DIR / name.split("_", 1)[0] / f"{name}.sql"
    return (layer if layer.is_file() else SQL_DIR / f"{name}.sql").read_text()


def query(con, name: str, **params) -> pl.DataFrame:
    """Run the named SQL file with bound parameters and return a polars frame."""
    return run(con, sql(name), **params)


def run(con, text: str, **params) -> pl.DataFrame:
    """Run a SQL statement with bound parameters and return a polars frame.

    Not thread-safe on a shared connection: each thread passes its own cursor (see `cursor`).
    """
    return con.sql(text, params=params or None).pl()


def table_exists(con, name: str) -> bool:
    """Whether a table or view called `name` exists."""
    hit = con.execute(
        "select 1 from information_schema.tables where table_name = ?", [name]
    ).fetchall()
    return bool(hit)


def build(
    con,
    names: Sequence[str],
    progress: Callable[[str], None] | None = None,
    **params,
) -> None:
    """Create or replace one table per named SQL file, in the given order."""
    for name in names:
        if progress:
            progress(name)
        text = sql(name)
        used = {k: v for k, v in params.items() if f"${k}" in text}
        # Staging is rename/cast only: a view costs nothing to build and nothing to store.
        kind = "VIEW" if name.startswith("stg_") else "TABLE"
        con.execute(f"CREATE OR REPLACE {kind} {name} AS {text}", used or None)


@contextlib.contextmanager
def registered(con, name: str, frame: pl.DataFrame) -> Iterator[None]:
    """A frame readable as a view called `name` inside the block (through Arrow, not SQL text)."""
    con.register(name, frame.to_arrow())
    try:
        yield
    finally:
        con.unregister(name)


def write_frame(con, table: str, frame: pl.DataFrame, types: dict[str, str] | None = None) -> None:
    """Create or replace `table` from a frame, its columns cast to `types` where given.

    `table` and `types` come from the code, never from users; the values go in through Arrow.
    """
    view = f"_frame_{table}"
    cols = ", ".join(f"{c}::{t} AS {c}" for c, t in types.items()) if types else "*"
    with registered(con, view, frame):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {cols} FROM {view}")
