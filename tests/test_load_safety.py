"""A load that fails, or is killed, leaves the published database as it was."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from health import db as health_db
from health.ingest import loader as ingest
from tests.folders import (
    ACCOUNTS,
    EVENTS,
    make_folder,
    snapshot,
    table,
    with_rows,
    write_big_events,
)


def digest(path: Path) -> str:
    """The database file's bytes, hashed."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temp_copies(db: Path) -> list[Path]:
    """Work copies (and their WALs) that a writer left next to the database."""
    return sorted(db.parent.glob(f"{db.name}.tmp-*"))


def run_cli(*args: str, stderr=subprocess.PIPE) -> subprocess.Popen:
    """Start `python -m health ARGS` in a child process, from the project's root."""
    env = {k: v for k, v in os.environ.items() if k != "HEALTH_DB"}
    return subprocess.Popen(
        [sys.executable, "-m", "health", *args],
        cwd=health_db.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


@pytest.fixture
def published(tmp_path):
    """A database with one load in it: its path, and its contents and bytes before the test."""
    db = tmp_path / "db" / "health.duckdb"
    ingest.load(make_folder(tmp_path, "first"), db)
    return db, snapshot(db), digest(db)


def a_changed_folder(tmp_path: Path, name: str) -> Path:
    """A folder that would change every loaded table: A1 renamed, a new account with events."""
    accounts = with_rows(ACCOUNTS[:1], name="Acme Renamed") + ACCOUNTS[1:]
    accounts.append({"account_id": "A4", "signup_date": "2024-03-01"})
    events = EVENTS + [{"account_id": "A4", "event_time": "2024-03-05T12:00:00", "event": "login"}]
    return make_folder(tmp_path, name, accounts=accounts, events=events)


def test_a_load_that_fails_after_the_first_table_changes_nothing(tmp_path, published, monkeypatch):
    db, before, before_bytes = published
    merged = []
    real_merge = ingest._merge

    def merge_then_crash(con, table, report):
        real_merge(con, table, report)
        merged.append(table.name)
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(ingest, "_merge", merge_then_crash)
    with pytest.raises(RuntimeError, match="simulated"):
        ingest.load(a_changed_folder(tmp_path, "second"), db)

    assert merged == ["accounts"]
    assert snapshot(db) == before
    assert digest(db) == before_bytes
    assert temp_copies(db) == []


def test_the_same_load_without_the_crash_does_change_the_database(tmp_path, published):
    # The control for the test above: the folder really carries changes.
    db, before, _ = published
    ingest.load(a_changed_folder(tmp_path, "second"), db)
    assert snapshot(db) != before
    assert ("A4",) in [r[:1] for r in table(db, "accounts")]


def test_a_load_killed_midway_leaves_the_database_as_it_was(tmp_path, published):
    db, before, before_bytes = published
    folder = a_changed_folder(tmp_path, "big")
    write_big_events(folder, 2_000_000, ACCOUNTS)  # a few seconds of loading
    log = tmp_path / "load.log"

    with open(log, "w") as stderr:
        child = run_cli("load", str(folder), "--db", str(db), stderr=stderr)
        try:
            # Wait until accounts are merged into the work copy and events are being read.
            deadline = time.monotonic() + 30
            while not (temp_copies(db) and "load: events" in log.read_text()):
                assert child.poll() is None, (
                    f"the load ended before it could be killed:\n{log.read_text()}"
                )
                assert time.monotonic() < deadline, "the load never started writing"
                time.sleep(0.02)
            time.sleep(0.3)
            assert child.poll() is None, "the load finished before the kill; make it bigger"
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()

    assert child.returncode == -signal.SIGKILL
    assert temp_copies(db), "a killed writer leaves its work copy behind"
    assert digest(db) == before_bytes
    assert snapshot(db) == before

    # The next load takes the lock the dead writer held, and sweeps up its copy.
    again = run_cli("load", str(a_changed_folder(tmp_path, "small")), "--db", str(db))
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert temp_copies(db) == []
    assert ("A4",) in [r[:1] for r in table(db, "accounts")]
    # The killed load's events, if it had stored any, are gone from the events store: it holds
    # the first load's and this one's only.
    store = duckdb.connect(str(health_db.store.path_for(db)), read_only=True)
    assert store.execute("SELECT DISTINCT _load FROM events ORDER BY 1").fetchall() == [(1,), (2,)]
    store.close()


def test_the_cli_exits_0_on_success(tmp_path):
    db = tmp_path / "health.duckdb"
    child = run_cli("load", str(make_folder(tmp_path)), "--db", str(db))
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "Traceback" not in err
    assert f"Loaded into {db}" in err


def test_the_cli_exits_2_on_a_bad_folder_without_a_traceback(tmp_path, published):
    db, before, _ = published
    bad = make_folder(tmp_path, "bad", events=b"account_id,event\nA1,login\n")
    child = run_cli("load", str(bad), "--db", str(db))
    _, err = child.communicate(timeout=60)
    assert child.returncode == 2
    assert "Traceback" not in err
    assert "error: events.csv: required column event_time is missing" in err
    assert "Nothing was loaded; the database is unchanged." in err
    assert snapshot(db) == before
    assert temp_copies(db) == []
