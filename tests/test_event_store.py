"""The events live in a store of their own beside the database: a refresh neither copies nor
changes it, a load adds only the days that are new or changed, and a load or refresh that fails
or is killed leaves both files as they were published."""

from __future__ import annotations

import hashlib
import shutil
import signal
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from health import db as health_db
from health import events as layer
from health.db import door, store
from health.db.catalog import tables
from health.ingest import days
from health.ingest import loader as ingest
from health.pipeline import refresh as pipeline
from tests.folders import ACCOUNTS, EVENTS, make_folder, rejects, rows, snapshot
from tests.test_load_safety import run_cli, temp_copies

NEW_DAY = {"account_id": "A2", "event_time": "2024-03-04T08:00:00", "event": "export"}
LATE = {"account_id": "A3", "event_time": "2024-03-01T23:59:00", "event": "login"}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_loads(db: Path) -> list[tuple]:
    """(load number, rows) in the store, including rows no published load names."""
    con = duckdb.connect(str(store.path_for(db)), read_only=True)
    try:
        return con.execute("SELECT _load, count(*) FROM events GROUP BY 1 ORDER BY 1").fetchall()
    finally:
        con.close()


def events_report(report: ingest.LoadReport) -> ingest.TableReport:
    return next(t for t in report.tables if t.table == "events")


@pytest.fixture
def loaded(tmp_path) -> Path:
    db = tmp_path / "db" / "health.duckdb"
    ingest.load(make_folder(tmp_path, "first"), db)
    return db


def test_the_events_are_in_their_own_file_and_readers_never_open_it(loaded):
    assert store.path_for(loaded).is_file()
    con = duckdb.connect(str(loaded), read_only=True)
    own = con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name = 'events'")
    assert own.fetchall() == []
    con.close()
    reader = health_db.connect(loaded)  # as the app opens it
    assert not reader.execute(
        "SELECT 1 FROM duckdb_databases() WHERE database_name = 'store'"
    ).fetchall()
    counted = tables(reader).filter(table="events").row(0, named=True)
    assert counted["rows"] == len(EVENTS)
    assert (str(counted["first"]), str(counted["last"])) == ("2024-03-01", "2024-03-03")
    reader.close()


def test_a_re_export_with_one_more_day_checks_and_adds_only_that_day(tmp_path, loaded):
    again = make_folder(tmp_path, "again", events=[*EVENTS, NEW_DAY])
    report = events_report(ingest.load(again, loaded))
    assert (report.rows_read, report.rows_loaded, report.rows_skipped) == (5, 5, 4)
    assert len(rows(loaded, "SELECT * FROM events")) == len(EVENTS) + 1
    manifest = dict(rows(loaded, "SELECT day::VARCHAR, events FROM event_days"))
    assert manifest == {"2024-03-01": 2, "2024-03-02": 1, "2024-03-03": 1, "2024-03-04": 1}
    # The next day's export repeats all five: nothing to check, nothing added.
    report = events_report(ingest.load(again, loaded))
    assert (report.rows_skipped, len(rows(loaded, "SELECT * FROM events"))) == (5, 5)


def test_a_late_event_for_an_old_day_is_added_and_that_day_rolled_up_again(tmp_path, loaded):
    con = health_db.connect(loaded, read_only=False)
    before = layer.DuckDBEvents().manifest(con)
    con.close()
    report = events_report(
        ingest.load(make_folder(tmp_path, "late", events=[*EVENTS, LATE]), loaded)
    )
    assert report.rows_skipped == 2  # the two days without the late event
    con = health_db.connect(loaded, read_only=False)
    after = layer.DuckDBEvents().manifest(con)
    con.close()
    assert str(layer.first_changed_day(before, after)) == "2024-03-01"
    assert ("A3", "login") in rows(
        loaded, "SELECT account_id, event FROM events WHERE event_time::DATE = '2024-03-01'"
    )


def timed_frame(events: list[dict], zone: str | None) -> pl.DataFrame:
    """The events as a Parquet export writes them: event_time a timestamp, in UTC or naive."""
    frame = pl.DataFrame(events, schema={c: pl.String for c in EVENTS[0] | {"value": 0}})
    return frame.with_columns(pl.col("event_time").str.to_datetime(time_zone=zone))


@pytest.mark.parametrize("zone", ["UTC", None])
def test_a_parquet_re_export_with_typed_times_skips_the_same_days(tmp_path, zone):
    db = tmp_path / "health.duckdb"
    parquet = {"events": "parquet"}
    ingest.load(
        make_folder(tmp_path, "first", events=timed_frame(EVENTS, zone), formats=parquet), db
    )
    again = timed_frame([*EVENTS, NEW_DAY, LATE], zone)
    report = events_report(
        ingest.load(make_folder(tmp_path, "again", events=again, formats=parquet), db)
    )
    assert (report.rows_read, report.rows_loaded, report.rows_skipped) == (6, 6, 2)
    manifest = dict(rows(db, "SELECT day::VARCHAR, events FROM event_days"))
    assert manifest == {"2024-03-01": 3, "2024-03-02": 1, "2024-03-03": 1, "2024-03-04": 1}


@pytest.mark.parametrize("kind", sorted(days.KEYS))
def test_rows_of_one_day_key_all_print_the_same_day(kind):
    # The edges of a day and of the calendar: rows sharing a key must share the bucket a load
    # stored before keys existed, or a changed day could be taken for a stored one.
    times = [
        "2024-03-01 00:00:00",
        "2024-03-01 23:59:59.999999",
        "2024-03-02 00:00:00",
        "1969-12-31 23:59:59.999999",
        "1970-01-01 00:00:00",
        "0099-06-01 12:00:00",
        "9999-12-31 23:59:59",
        "infinity",
        "-infinity",
        None,
    ]
    texts = ["2024-03-01T09:00:00", " 2024-03-01", "2024-03-01 23:00:00+05:00", "soon", ""]
    values = texts if kind == "VARCHAR" else times
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # as every writer's connection is
    con.execute(
        f"CREATE TABLE raw AS SELECT v::{kind} AS event_time FROM unnest(?) AS t(v)", [values]
    )
    spans = con.execute(
        f"SELECT {days.KEYS[kind]} AS key, count(DISTINCT {days.BUCKET}), "
        f"count(*) FILTER (WHERE {days.BUCKET} IS NULL) FROM raw GROUP BY ALL"
    ).fetchall()
    assert all(n <= 1 and (key is None) == (nulls > 0) for key, n, nulls in spans)
    assert len(spans) >= len(values) - 2  # midnight and its own day, two rows per key at most


def table_report(report: ingest.LoadReport, name: str) -> ingest.TableReport:
    return next(t for t in report.tables if t.table == name)


def test_a_re_export_skips_a_file_its_last_load_merged_and_checks_a_changed_one(tmp_path, loaded):
    again = make_folder(tmp_path, "again", events=[*EVENTS, NEW_DAY])  # the same accounts.csv
    accounts = table_report(ingest.load(again, loaded), "accounts")
    assert (accounts.rows_read, accounts.rows_loaded, accounts.rows_skipped) == (3, 3, 3)
    renamed = [{**ACCOUNTS[0], "name": "Acme Inc"}, *ACCOUNTS[1:]]
    folder = make_folder(tmp_path, "renamed", accounts=renamed, events=[*EVENTS, NEW_DAY])
    assert table_report(ingest.load(folder, loaded), "accounts").rows_skipped == 0
    assert rows(loaded, "SELECT name FROM accounts WHERE account_id = 'A1'") == [("Acme Inc",)]


def test_a_file_with_a_rejected_row_is_checked_again_every_time(tmp_path):
    db = tmp_path / "health.duckdb"
    users = [{"user_id": "u1", "account_id": "A1"}, {"user_id": "u9", "account_id": "A9"}]
    for name in ("first", "same"):
        report = table_report(ingest.load(make_folder(tmp_path, name, users=users), db), "users")
        assert (report.rows_rejected, report.rows_skipped) == (1, 0)
    assert rejects(db, "users") == [(3, "account_id 'A9' is not in accounts")]


def test_days_missing_from_a_sliding_window_export_are_kept(tmp_path, loaded):
    window = [e for e in EVENTS if not e["event_time"].startswith("2024-03-01")] + [NEW_DAY]
    report = events_report(ingest.load(make_folder(tmp_path, "window", events=window), loaded))
    assert report.rows_skipped == 2
    assert len(rows(loaded, "SELECT * FROM events")) == len(EVENTS) + 1


def test_a_day_with_a_rejected_row_is_checked_again_and_loads_once_its_account_arrives(tmp_path):
    db = tmp_path / "health.duckdb"
    stranger = {"account_id": "A9", "event_time": "2024-03-02T12:00:00", "event": "login"}
    events = [*EVENTS, stranger]
    ingest.load(make_folder(tmp_path, "first", events=events), db)
    assert rejects(db, "events") == [(6, "account_id 'A9' is not in accounts")]
    # The same export again: the same reject, with the same line, though two days are skipped.
    report = events_report(ingest.load(make_folder(tmp_path, "same", events=events), db))
    assert (report.rows_rejected, report.rows_skipped) == (1, 3)
    assert [e.where for e in report.examples] == ["line 6"]
    accounts = [*ACCOUNTS, {"account_id": "A9", "signup_date": "2024-01-01"}]
    folder = make_folder(tmp_path, "with-a9", accounts=accounts, events=events)
    report = events_report(ingest.load(folder, db))
    assert report.rows_rejected == 0
    assert rows(db, "SELECT count(*) FROM events WHERE account_id = 'A9'") == [(1,)]


def test_a_re_export_counts_unknown_users_in_skipped_and_checked_days_but_not_in_rejects(
    tmp_path,
):
    db = tmp_path / "health.duckdb"
    users = [{"user_id": "u1", "account_id": "A1"}]
    first = [*EVENTS, {**EVENTS[2], "user_id": "u7"}]  # u7 on 2024-03-02, not in users
    ingest.load(make_folder(tmp_path, "first", users=users, events=first), db)
    stranger = {"account_id": "A9", "event_time": "2024-03-04T09:00:00", "event": "login"}
    again = [
        *first,
        {**NEW_DAY, "user_id": " u8 "},  # checked, trimmed, not in users
        {**NEW_DAY, "user_id": "u1"},
        {**stranger, "user_id": "u9"},  # rejected: not a loaded row, so not counted
    ]
    report = events_report(
        ingest.load(make_folder(tmp_path, "again", users=users, events=again), db)
    )
    assert (report.rows_skipped, report.rows_rejected) == (5, 1)
    assert report.warnings == ["events.csv: 2 rows name a user_id that is not in users"]


def test_a_re_export_checks_a_row_without_event_time_among_skipped_days(tmp_path, loaded):
    timeless = {"account_id": "A1", "event_time": "", "event": "login"}
    again = make_folder(tmp_path, "again", events=[*EVENTS, timeless, NEW_DAY])
    report = events_report(ingest.load(again, loaded))
    assert (report.rows_skipped, report.rows_rejected, report.rows_loaded) == (4, 1, 5)
    assert rejects(loaded, "events") == [(6, "event_time is missing")]


def test_a_load_that_fails_after_adding_events_leaves_the_published_events(
    tmp_path, loaded, monkeypatch
):
    before = snapshot(loaded)

    def crash(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(days, "record", crash)  # right after the events went into the store
    folder = make_folder(tmp_path, "more", events=[*EVENTS, NEW_DAY])
    with pytest.raises(RuntimeError, match="simulated"):
        ingest.load(folder, loaded)
    assert stored_loads(loaded) == [(1, 4), (2, 1)]  # the failed load's row is in the store…
    assert snapshot(loaded) == before  # …but not in the published events
    monkeypatch.undo()
    ingest.load(make_folder(tmp_path, "other", events=EVENTS), loaded)
    assert stored_loads(loaded) == [(1, 4)]  # the next load swept it away


def test_a_replacing_load_that_fails_keeps_every_published_event(tmp_path, loaded, monkeypatch):
    before = snapshot(loaded)
    monkeypatch.setattr(days, "record", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        ingest.load(make_folder(tmp_path, "new", events=[NEW_DAY]), loaded, replace=True)
    assert snapshot(loaded) == before
    monkeypatch.undo()
    ingest.load(make_folder(tmp_path, "new2", events=[NEW_DAY]), loaded, replace=True)
    assert len(rows(loaded, "SELECT * FROM events")) == 1


@pytest.fixture
def refreshed(warehouse, tmp_path) -> Path:
    return health_db.copy(warehouse, tmp_path / "live.duckdb")


def test_a_refresh_neither_copies_nor_changes_the_events(refreshed, monkeypatch):
    events_file = store.path_for(refreshed)
    events_bytes, events_mtime = digest(events_file), events_file.stat().st_mtime_ns
    copied = []
    real_copy = door.shutil.copy2
    monkeypatch.setattr(
        door.shutil, "copy2", lambda src, dst, **kw: copied.append(src) or real_copy(src, dst, **kw)
    )
    pipeline.refresh(refreshed)
    assert copied == [refreshed]  # the database's derived tables, not the events
    assert digest(events_file) == events_bytes and events_file.stat().st_mtime_ns == events_mtime


def test_a_refresh_that_fails_leaves_both_files_as_they_were(refreshed, monkeypatch):
    before = {p: digest(p) for p in (refreshed, store.path_for(refreshed))}
    real = layer.refresh_events

    def then_crash(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(layer, "refresh_events", then_crash)
    monkeypatch.setattr(pipeline.events, "refresh_events", then_crash)
    with pytest.raises(RuntimeError, match="simulated"):
        pipeline.refresh(refreshed, as_of=None)
    assert {p: digest(p) for p in before} == before
    assert temp_copies(refreshed) == []


def test_a_refresh_killed_midway_leaves_both_files_as_they_were(refreshed, tmp_path):
    before = {p: digest(p) for p in (refreshed, store.path_for(refreshed))}
    log = tmp_path / "refresh.log"
    with open(log, "w") as stderr:
        child = run_cli("refresh", "--db", str(refreshed), "--as-of", "2026-08-31", stderr=stderr)
        try:
            deadline = time.monotonic() + 60
            while not temp_copies(refreshed):
                assert child.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the refresh never started writing"
                time.sleep(0.02)
            time.sleep(1.0)
            assert child.poll() is None, "the refresh finished before the kill"
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
    assert {p: digest(p) for p in before} == before


def _old_layout(db: Path) -> None:
    """Turn a database into one from before the store: its events a table inside it."""
    con = health_db.connect(db, read_only=False)
    own = con.execute("SELECT current_database()").fetchone()[0]
    con.execute(f"CREATE TABLE {own}.main.events AS SELECT * FROM events")
    con.execute("DELETE FROM meta WHERE key LIKE 'events_%'")
    con.execute("DROP TABLE event_days")
    con.execute("DROP TABLE event_fingerprints")
    con.close()
    store.path_for(db).unlink()


def test_a_database_from_before_the_store_is_read_as_it_was_and_migrated_by_the_next_writer(
    tmp_path, loaded
):
    _old_layout(loaded)
    before = snapshot(loaded)
    reader = health_db.connect(loaded)
    assert tables(reader).filter(table="events")["rows"][0] == len(EVENTS)
    reader.close()
    with health_db.writing(loaded):  # what a refresh opens
        pass
    assert store.path_for(loaded).is_file()
    assert snapshot(loaded) == before
    assert rows(loaded, "SELECT count(*) FROM event_days") == [(3,)]
    report = events_report(
        ingest.load(make_folder(tmp_path, "again", events=[*EVENTS, NEW_DAY]), loaded)
    )
    assert report.rows_skipped == 0  # no fingerprints yet: every day is checked, once
    assert len(rows(loaded, "SELECT * FROM events")) == len(EVENTS) + 1


def test_a_database_copied_without_its_events_says_so(tmp_path, loaded):
    alone = tmp_path / "alone.duckdb"
    shutil.copy(loaded, alone)  # not health.db.copy: the events stay behind
    child = run_cli("load", str(make_folder(tmp_path, "x")), "--db", str(alone))
    _, err = child.communicate(timeout=60)
    assert child.returncode == 2
    assert "alone.events.duckdb: the events of" in err and "Traceback" not in err
