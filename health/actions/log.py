"""The action log: what CSMs did with each suggested action, kept in its own DuckDB file.

Refresh and load rebuild the warehouse as a copy and swap it in, so the log cannot live inside
it: it lives beside it, in `<db stem>.actions.duckdb`, and no swap touches it. It is
append-only; an action's current status is its latest row.

DuckDB lets one process write a file, or several read it, never both. The app (one thread per
browser session) and CLI processes therefore never hold it open: every write attaches it,
inserts in one transaction and detaches; every read attaches it read-only and detaches. Threads
of one process queue first come, first served; processes queue on a lock file beside the log
(shared for reads, exclusive for writes); a lock held by a program outside that protocol is
retried. Waiting is bounded (WAIT_SECONDS), so concurrent writes wait, never vanish, and a stuck
log ends in a clear error rather than a hang. Every value is bound as a parameter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

from health import db

STATUSES = ("open", "done", "snoozed", "dismissed")

# Suggestions for the outcome field; any text is stored.
OUTCOMES = ("improved", "no change", "worse", "no answer", "not relevant")
WAIT_SECONDS = 30.0  # how long a read or write waits for the log before giving up

COLUMNS = {
    "entry": pl.Int64,
    "action_id": pl.String,
    "account_id": pl.String,
    "status": pl.String,
    "note": pl.String,
    "outcome": pl.String,
    "snooze_until": pl.Date,
    "actor": pl.String,
    "recorded_at": pl.Datetime("us"),
    "as_of": pl.Date,
}
SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS action_log_entry;
CREATE TABLE IF NOT EXISTS action_log (
    entry BIGINT NOT NULL DEFAULT nextval('action_log_entry'),
    action_id VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('open', 'done', 'snoozed', 'dismissed')),
    note VARCHAR,
    outcome VARCHAR,
    snooze_until DATE,
    actor VARCHAR,
    recorded_at TIMESTAMP NOT NULL,
    as_of DATE
);
"""


class LogError(Exception):
    """The log can't take or give this entry; the message says why and what to do."""


def log_path(db_path: str | os.PathLike | None = None) -> Path:
    """The action log beside a warehouse: data/health.duckdb -> data/health.actions.duckdb."""
    target = db.db_path(db_path)
    return target.with_name(f"{target.stem}.actions.duckdb")


def record(
    log: str | os.PathLike,
    action_id: str,
    account_id: str,
    status: str,
    *,
    note: str | None = None,
    outcome: str | None = None,
    snooze_until: dt.date | None = None,
    actor: str | None = None,
    as_of: dt.date | None = None,
) -> None:
    """Append one status change; `as_of` is the data date the CSM was looking at."""
    if status not in STATUSES:
        raise LogError(f"status must be one of {', '.join(STATUSES)}, not {status!r}.")
    if status == "snoozed" and snooze_until is None:
        raise LogError("a snoozed action needs snooze_until: the day it comes back.")
    if not action_id or not account_id:
        raise LogError("an entry needs the action_id and the account_id it is about.")
    # Naive UTC, like every timestamp in the warehouse (connections run in UTC).
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    values = [action_id, account_id, status, note, outcome, snooze_until, actor, now, as_of]
    with _open(Path(log), write=True) as con:
        con.execute("BEGIN TRANSACTION")
        if not _has_log(con):
            con.execute(SCHEMA)
        con.execute(
            "INSERT INTO action_log (action_id, account_id, status, note, outcome, "
            "snooze_until, actor, recorded_at, as_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        con.execute("COMMIT")


def history(
    log: str | os.PathLike,
    *,
    account_id: str | None = None,
    action_id: str | None = None,
) -> pl.DataFrame:
    """Every entry, newest first; optionally for one account or one action."""
    return _read(
        log,
        "SELECT * FROM action_log WHERE ($account_id IS NULL OR account_id = $account_id) "
        "AND ($action_id IS NULL OR action_id = $action_id) ORDER BY entry DESC",
        account_id=account_id,
        action_id=action_id,
    )


def statuses(log: str | os.PathLike) -> pl.DataFrame:
    """The current status of every logged action: its latest entry."""
    return _read(
        log,
        "SELECT * FROM action_log QUALIFY row_number() OVER "
        "(PARTITION BY action_id ORDER BY entry DESC) = 1 ORDER BY entry",
    )


def _has_log(con) -> bool:
    return bool(
        con.execute(
            "SELECT 1 FROM duckdb_tables() "
            "WHERE database_name = 'action_log_db' AND table_name = 'action_log'"
        ).fetchall()
    )


def _read(log: str | os.PathLike, text: str, **params) -> pl.DataFrame:
    path = Path(log)
    if not path.is_file():
        return pl.DataFrame(schema=COLUMNS)
    with _open(path, write=False) as con:
        if not _has_log(con):
            return pl.DataFrame(schema=COLUMNS)
        frame = con.sql(text, params=params or None).pl()
    return frame.select([pl.col(c).cast(t) for c, t in COLUMNS.items()])


@contextlib.contextmanager
def _open(path: Path, *, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """The log attached as `action_log_db` (the default catalog) for one short operation."""
    deadline = time.monotonic() + WAIT_SECONDS
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
    # One operation at a time per process: threads queue here in arrival order (so a burst
    # of writers cannot starve one of them), processes on the lock file.
    if not _LOCAL.acquire(deadline):
        raise LogError(f"{path}: still busy after {WAIT_SECONDS:.0f} s; try again.")
    try:
        with open(path.with_name(path.name + ".lock"), "a") as handle:
            _lock(handle, fcntl.LOCK_EX if write else fcntl.LOCK_SH, deadline, path)
            cur = _hub().cursor()
            try:
                _attach(cur, path, write, deadline)
                try:
                    cur.execute("USE action_log_db")
                    yield cur
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        cur.execute("ROLLBACK")
                    raise
                finally:
                    cur.execute("USE memory")
                    # Detaching checkpoints (reads need not replay a write-ahead log, and
                    # the app reads far more often than CSMs write) and releases DuckDB's
                    # file lock for other processes.
                    cur.execute("DETACH action_log_db")
            finally:
                cur.close()
            # Closing the lock file's handle releases the lock.
    finally:
        _LOCAL.release()


class _Queue:
    """A lock that serves threads first come, first served (threading.Lock does not promise to)."""

    def __init__(self):
        self._turn = threading.Condition()
        self._next = 0
        self._serving = 0
        self._abandoned: set[int] = set()

    def acquire(self, deadline: float) -> bool:
        with self._turn:
            ticket, self._next = self._next, self._next + 1
            while ticket != self._serving:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._abandoned.add(ticket)  # passed over when its turn comes
                    return False
                self._turn.wait(left)
            return True

    def release(self) -> None:
        with self._turn:
            self._serving += 1
            while self._serving in self._abandoned:
                self._abandoned.discard(self._serving)
                self._serving += 1
            self._turn.notify_all()


_LOCAL = _Queue()
_HUB: tuple[int, duckdb.DuckDBPyConnection] | None = None


def _hub() -> duckdb.DuckDBPyConnection:
    # An in-memory database per process that attaches the log for each operation: creating a
    # DuckDB instance costs ~20 ms, attaching a file ~2 ms. Re-made after a fork.
    global _HUB
    if _HUB is None or _HUB[0] != os.getpid():
        con = db.connect(":memory:", read_only=False)
        _HUB = (os.getpid(), con)
    return _HUB[1]


def _lock(handle, mode: int, deadline: float, path: Path) -> None:
    for pause in _pauses(deadline):
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(pause)
    raise LogError(f"{path}: still busy after {WAIT_SECONDS:.0f} s; try again.")


def _attach(cur, path: Path, write: bool, deadline: float) -> None:
    # Another process that opened the file without the lock file (a DuckDB shell, an older
    # build) holds DuckDB's own lock: wait for it rather than lose the entry.
    mode = "" if write else " (READ_ONLY)"
    for pause in _pauses(deadline):
        try:
            cur.execute(f"ATTACH ? AS action_log_db{mode}", [str(path)])
            return
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if "lock" not in str(exc).lower():
                raise
            time.sleep(pause)
    raise LogError(f"{path}: another program keeps it open; close it and try again.")


def _pauses(deadline: float) -> Iterator[float]:
    """Pauses of 0.5-2 ms until the deadline: every waiting process retries about as often, so
    none is starved by others that happen to retry sooner (a holder keeps the log ~5 ms)."""
    while time.monotonic() < deadline:
        yield 0.0005 + 0.0015 * random.random()  # noqa: S311 - jitter, not security
