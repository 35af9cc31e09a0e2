"""The loader, one data folder per rule: what a person reads when a file or a row is refused."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import sys

import duckdb
import polars as pl
import pytest

from health.cli import main
from health.db import copy as copy_database
from health.ingest import loader as ingest
from tests.folders import (
    ACCOUNTS,
    EVENTS,
    make_folder,
    rejects,
    rows,
    snapshot,
    table,
    with_rows,
)

# --- fixtures: a small database loaded before each story ------------------------------------


@pytest.fixture(scope="session")
def baseline(tmp_path_factory):
    """A database holding one earlier load, and its contents.

    Its account A1 has another name than the default folder's, so a bad folder that got even
    one table merged would show up as a change.
    """
    tmp = tmp_path_factory.mktemp("baseline")
    folder = make_folder(
        tmp,
        accounts=[{"account_id": "A1", "name": "Acme (old)", "signup_date": "2023-06-01"}],
        events=[{"account_id": "A1", "event_time": "2024-02-01T08:00:00", "event": "login"}],
    )
    db = tmp / "health.duckdb"
    ingest.load(folder, db)
    return db, snapshot(db)


@pytest.fixture
def db(tmp_path, baseline):
    """A fresh copy of the baseline database for one test."""
    path = tmp_path / "db" / "health.duckdb"
    path.parent.mkdir()
    copy_database(baseline[0], path)
    return path


def cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run `python -m health ARGS` in this process; return its exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["health", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, capsys.readouterr().err


@pytest.fixture
def refused(db, baseline, monkeypatch, capsys):
    """Load a folder that must be refused as a whole; return the error line a person reads."""

    def run(folder) -> str:
        code, err = cli(monkeypatch, capsys, "load", str(folder), "--db", str(db))
        assert code == 2, err
        assert "Traceback" not in err
        assert "Nothing was loaded; the database is unchanged." in err
        assert snapshot(db) == baseline[1]
        assert not list(db.parent.glob("*.tmp-*"))
        return next(line for line in err.splitlines() if line.startswith("error:"))

    return run


@pytest.fixture
def loaded(tmp_path):
    """Load a folder into a new database; return the report by table name, and the db path."""

    def run(folder, **kw):
        path = tmp_path / "health.duckdb"
        report = ingest.load(folder, path, **kw)
        return {t.table: t for t in report.tables}, path

    return run


def ids(db, name: str, column: str = "account_id") -> list[str]:
    """The sorted values of one column of a loaded table."""
    assert column in {"account_id", "user_id", "ticket_id", "event"}
    return [r[0] for r in rows(db, f"SELECT {column} FROM {name} ORDER BY 1")]


# --- whole-file problems: exit code 2, a message naming file and column, nothing changed -----


def test_a_missing_folder_is_named(tmp_path, refused):
    message = refused(tmp_path / "no-such-folder")
    assert "no-such-folder: no such folder" in message
    assert "Pass the folder that holds accounts.csv" in message


def test_a_folder_without_accounts_says_which_file_to_add(tmp_path, refused):
    message = refused(make_folder(tmp_path, accounts=None))
    assert "table accounts is missing. Add accounts.csv" in message
    assert "account_id, name, signup_date" in message


def test_a_folder_without_events_says_which_file_to_add(tmp_path, refused):
    message = refused(make_folder(tmp_path, events=None))
    assert "table events is missing. Add events.csv" in message
    assert "account_id, event_time, event" in message


def test_events_without_event_time_names_the_column(tmp_path, refused):
    no_time = [{k: v for k, v in e.items() if k != "event_time"} for e in EVENTS]
    message = refused(make_folder(tmp_path, events=no_time))
    assert "events.csv: required column event_time is missing" in message
    assert "(found: account_id, event, user_id, value)" in message
    assert "Add it, or rename the column that holds it" in message


def test_a_semicolon_separated_file_is_told_to_use_commas(tmp_path, refused):
    # A European Excel export: semicolons between fields, commas in the numbers.
    text = "account_id;event_time;event;value\nA1;2024-03-01T09:00:00;login;1,5\n"
    message = refused(make_folder(tmp_path, events=text))
    assert "events.csv: the file seems to be separated by ';', not commas" in message
    assert "account_id;event_time;event;value" in message
    assert "Save it as comma-separated CSV" in message


def test_a_tab_separated_file_is_told_to_use_commas(tmp_path, refused):
    text = "account_id\tname\tsignup_date\nA1\tAcme, Inc.\t2024-01-01\nA2\tGlobex\t2024-01-15\n"
    message = refused(make_folder(tmp_path, accounts=text))
    assert "accounts.csv: the file seems to be separated by tabs, not commas" in message
    assert "Save it as comma-separated CSV" in message


def test_a_latin1_file_is_told_to_save_as_utf8(tmp_path, refused):
    text = "account_id,name,signup_date\nA1,Acme,2024-01-01\nA2,Café Müller,2024-01-15\n"
    message = refused(make_folder(tmp_path, accounts=text.encode("latin-1")))
    assert "accounts.csv: the file is not UTF-8 text (line 3)" in message
    assert "Save it as UTF-8" in message


def test_a_corrupt_parquet_file_is_told_to_export_again(tmp_path, refused):
    folder = make_folder(tmp_path, events=None, files={"events.parquet": b"PAR1 not really PAR1"})
    message = refused(folder)
    assert "events.parquet: cannot be read as Parquet" in message
    assert "Export it again" in message


def test_an_empty_file_needs_a_header(tmp_path, refused):
    message = refused(make_folder(tmp_path, events=b""))
    assert "events.csv: the file is empty. It needs at least a header line." in message


def test_two_files_for_one_table_are_both_named(tmp_path, refused):
    folder = make_folder(tmp_path, formats={"accounts": "parquet"}, files={"accounts.csv": "x\n"})
    message = refused(folder)
    assert "both accounts.csv and accounts.parquet hold table accounts." in message
    assert "Keep one of them." in message


def test_columns_differing_only_in_case_are_both_named(tmp_path, refused):
    text = "account_id,signup_date,Plan,plan\nA1,2024-01-01,pro,basic\n"
    message = refused(make_folder(tmp_path, accounts=text))
    assert "accounts.csv: columns 'Plan' and 'plan' have the same name." in message
    assert "Rename or remove one of them" in message


def test_parquet_columns_differing_only_in_case_are_both_named(tmp_path, refused):
    frame = pl.DataFrame({"account_id": ["A1"], "signup_date": ["2024-01-01"], "Plan": ["pro"]})
    frame = frame.with_columns(pl.lit("basic").alias("plan"))
    folder = make_folder(tmp_path, accounts=frame, formats={"accounts": "parquet"})
    message = refused(folder)
    assert "accounts.parquet: columns 'Plan' and 'plan' have the same name." in message


def test_a_file_mostly_in_another_date_format_names_the_column(tmp_path, refused):
    # US-style dates everywhere: not a few dirty rows but a file in another format.
    accounts = [{"account_id": f"A{i}", "signup_date": "03/01/2024"} for i in range(1, 13)]
    message = refused(make_folder(tmp_path, accounts=accounts))
    assert "accounts.csv: 100% of its 12 rows break the contract" in message
    assert "accounts.csv line 2: signup_date '03/01/2024' is not an ISO 8601 date" in message
    assert "Fix the column named there and load again" in message


def test_a_line_with_an_extra_field_is_named(tmp_path, refused):
    # An unquoted comma in a name, deep in the file (past what the sniffer samples).
    good = [f"A{i},Name {i},2024-01-01" for i in range(1, 30_000)]
    text = "account_id,name,signup_date\n" + "\n".join(good) + "\nA0,Acme, Inc.,2024-01-01\n"
    message = refused(make_folder(tmp_path, accounts=text))
    assert "accounts.csv: cannot be read as comma-separated CSV (line 30001)" in message
    assert "Expected Number of Columns: 3 Found: 4" in message
    assert "Check the quoting" in message


# --- row rules: the row is rejected, the others load, the reason and line are kept -----------


def test_an_unparseable_date_rejects_the_row(tmp_path, loaded):
    accounts = ACCOUNTS + [{"account_id": "A4", "signup_date": "2024-13-01"}]
    report, db = loaded(make_folder(tmp_path, accounts=accounts))
    [(line, reason)] = rejects(db, "accounts")
    assert line == 5
    assert reason.startswith("signup_date '2024-13-01' is not an ISO 8601 date")
    assert ids(db, "accounts") == ["A1", "A2", "A3"]
    assert str(report["accounts"].examples[0]).startswith("accounts.csv line 5: signup_date")


def test_an_unparseable_timestamp_rejects_the_row(tmp_path, loaded):
    events = EVENTS + [{"account_id": "A1", "event_time": "yesterday", "event": "late"}]
    report, db = loaded(make_folder(tmp_path, events=events))
    [(line, reason)] = rejects(db, "events")
    assert line == 6
    assert reason.startswith("event_time 'yesterday' is not an ISO 8601 timestamp")
    assert report["events"].rows_loaded == len(EVENTS)
    assert report["events"].rows_rejected == 1


def test_an_unparseable_number_rejects_the_row(tmp_path, loaded):
    events = EVENTS + [
        {"account_id": "A1", "event_time": "2024-03-04", "event": "x", "value": "1,200"}
    ]
    _, db = loaded(make_folder(tmp_path, events=events))
    [(line, reason)] = rejects(db, "events")
    assert line == 6
    assert reason.startswith("value '1,200' is not a number")
    assert "no currency symbols or thousands separators" in reason


def test_an_unparseable_boolean_rejects_the_row(tmp_path, loaded):
    users = [
        {"user_id": "u1", "account_id": "A1", "is_champion": "yes"},
        {"user_id": "u2", "account_id": "A1", "is_champion": "maybe"},
    ]
    _, db = loaded(make_folder(tmp_path, users=users))
    [(line, reason)] = rejects(db, "users")
    assert (line, reason) == (
        3,
        "is_champion 'maybe' is not true or false (also accepted: yes/no, 1/0, t/f)",
    )
    assert rows(db, "SELECT user_id, is_champion FROM users") == [("u1", True)]


def test_a_missing_required_value_rejects_the_row(tmp_path, loaded):
    events = EVENTS + [{"account_id": "A1", "event_time": "2024-03-04", "event": "   "}]
    _, db = loaded(make_folder(tmp_path, events=events))
    assert rejects(db, "events") == [(6, "event is missing")]


def test_a_duplicate_account_keeps_the_first(tmp_path, loaded):
    accounts = ACCOUNTS + [{"account_id": "A1", "name": "Acme again", "signup_date": "2024-05-01"}]
    _, db = loaded(make_folder(tmp_path, accounts=accounts))
    assert rejects(db, "accounts") == [(5, "duplicate account_id: line 2 has the same and is kept")]
    assert rows(db, "SELECT name FROM accounts WHERE account_id = 'A1'") == [("Acme",)]


def test_a_duplicate_user_keeps_the_first(tmp_path, loaded):
    users = [{"user_id": "u1", "account_id": "A1"}, {"user_id": "u1", "account_id": "A2"}]
    _, db = loaded(make_folder(tmp_path, users=users))
    assert rejects(db, "users") == [(3, "duplicate user_id: line 2 has the same and is kept")]
    assert rows(db, "SELECT user_id, account_id FROM users") == [("u1", "A1")]


def test_a_duplicate_ticket_keeps_the_first(tmp_path, loaded):
    tickets = [
        {"ticket_id": "T1", "account_id": "A1", "opened_at": "2024-03-01"},
        {"ticket_id": "T1", "account_id": "A2", "opened_at": "2024-03-02"},
    ]
    _, db = loaded(make_folder(tmp_path, tickets=tickets))
    assert rejects(db, "tickets") == [(3, "duplicate ticket_id: line 2 has the same and is kept")]
    assert rows(db, "SELECT ticket_id, account_id FROM tickets") == [("T1", "A1")]


def test_line_items_on_the_same_start_are_kept_and_only_exact_repeats_are_duplicates(
    tmp_path, loaded
):
    subscriptions = [
        {"account_id": "A1", "start_date": "2024-01-01", "mrr": "100", "plan": "pro"},
        {"account_id": "A1", "start_date": "2024-01-01", "mrr": "20", "plan": "sso add-on"},
        {"account_id": "A2", "start_date": "2024-01-01", "mrr": "50", "plan": "pro"},
        {"account_id": "A1", "start_date": "2024-01-01", "mrr": "20", "plan": "sso add-on"},
    ]
    _, db = loaded(make_folder(tmp_path, subscriptions=subscriptions))
    assert rejects(db, "subscriptions") == [
        (
            5,
            "duplicate line (account_id and start_date and subscription_id; the whole row when "
            "subscription_id is empty): line 3 has the same and is kept",
        )
    ]
    assert rows(db, "SELECT account_id, mrr FROM subscriptions ORDER BY 1, 2") == [
        ("A1", 20.0),
        ("A1", 100.0),
        ("A2", 50.0),
    ]


def test_an_item_id_keys_lines_and_a_reload_replaces_the_line(tmp_path, loaded):
    subscriptions = [
        {"account_id": "A1", "start_date": "2024-01-01", "mrr": "100", "item_id": "si_1"},
        {"account_id": "A1", "start_date": "2024-01-01", "mrr": "100", "item_id": "si_2"},
        {"account_id": "A1", "start_date": "2024-01-01", "mrr": "90", "item_id": "si_2"},
    ]
    _, db = loaded(make_folder(tmp_path, subscriptions=subscriptions))
    assert [r[0] for r in rejects(db, "subscriptions")] == [4]
    ended = [{**subscriptions[0], "end_date": "2024-06-01"}]
    loaded(make_folder(tmp_path / "later", subscriptions=ended))
    assert rows(db, "SELECT subscription_id, end_date::VARCHAR FROM subscriptions ORDER BY 1") == [
        ("si_1", "2024-06-01"),
        ("si_2", None),
    ]


def test_an_open_line_without_an_id_that_comes_back_ended_is_the_same_line(tmp_path, loaded):
    line = {"account_id": "A1", "start_date": "2024-01-01", "mrr": "100", "plan": "pro"}
    _, db = loaded(make_folder(tmp_path, subscriptions=[line]))
    loaded(make_folder(tmp_path / "later", subscriptions=[{**line, "end_date": "2024-03-01"}]))
    assert rows(db, "SELECT end_date::VARCHAR FROM subscriptions") == [("2024-03-01",)]


def a_row(name: str, account_id: str, n: int) -> dict:
    """A valid row of table `name` for an account; n keeps keys apart."""
    return {
        "events": {"account_id": account_id, "event_time": "2024-03-01", "event": "login"},
        "users": {"user_id": f"u{n}", "account_id": account_id},
        "subscriptions": {"account_id": account_id, "start_date": f"2024-01-0{n}"},
        "tickets": {"ticket_id": f"T{n}", "account_id": account_id, "opened_at": "2024-03-01"},
        "surveys": {"account_id": account_id, "responded_at": "2024-03-01", "score": "9"},
        "touchpoints": {"account_id": account_id, "occurred_at": "2024-03-01", "kind": "call"},
    }[name]


@pytest.mark.parametrize(
    "name", ["events", "users", "subscriptions", "tickets", "surveys", "touchpoints"]
)
def test_an_unknown_account_rejects_the_row(tmp_path, loaded, name):
    # One row for a known account, then one for ZZ, which is not in accounts.
    folder = make_folder(tmp_path, **{name: [a_row(name, "A1", 1), a_row(name, "ZZ", 2)]})
    report, db = loaded(folder)
    assert rejects(db, name) == [(3, "account_id 'ZZ' is not in accounts")]
    assert report[name].rows_loaded == 1
    assert str(report[name].examples[0]) == f"{name}.csv line 3: account_id 'ZZ' is not in accounts"


def test_negative_arr_rejects_the_row(tmp_path, loaded):
    accounts = ACCOUNTS + [{"account_id": "A4", "signup_date": "2024-01-01", "arr": "-5"}]
    _, db = loaded(make_folder(tmp_path, accounts=accounts))
    assert rejects(db, "accounts") == [(5, "arr -5 is below the minimum 0")]


def test_nps_outside_0_to_10_rejects_the_row(tmp_path, loaded):
    surveys = [
        {"account_id": "A1", "responded_at": "2024-03-01", "score": score}
        for score in ("10", "11", "0", "-1")
    ]
    _, db = loaded(make_folder(tmp_path, surveys=surveys))
    assert rejects(db, "surveys") == [
        (3, "score 11 is above the maximum 10"),
        (5, "score -1 is below the minimum 0"),
    ]
    assert rows(db, "SELECT score FROM surveys ORDER BY 1") == [(0.0,), (10.0,)]


def test_csat_outside_1_to_5_rejects_the_row(tmp_path, loaded):
    tickets = [
        {"ticket_id": f"T{csat}", "account_id": "A1", "opened_at": "2024-03-01", "csat": csat}
        for csat in ("0", "1", "5", "6")
    ]
    _, db = loaded(make_folder(tmp_path, tickets=tickets))
    assert rejects(db, "tickets") == [
        (2, "csat 0 is below the minimum 1"),
        (5, "csat 6 is above the maximum 5"),
    ]


def test_a_priority_outside_the_allowed_set_rejects_the_row(tmp_path, loaded):
    tickets = [
        {"ticket_id": "T1", "account_id": "A1", "opened_at": "2024-03-01", "priority": "High"},
        {"ticket_id": "T2", "account_id": "A1", "opened_at": "2024-03-01", "priority": "critical"},
    ]
    _, db = loaded(make_folder(tmp_path, tickets=tickets))
    assert rejects(db, "tickets") == [
        (3, "priority 'critical' is not one of low, normal, high, urgent")
    ]
    assert rows(db, "SELECT ticket_id, priority FROM tickets") == [("T1", "high")]


def test_churn_before_signup_rejects_the_row(tmp_path, loaded):
    accounts = ACCOUNTS + [
        {"account_id": "A4", "signup_date": "2024-02-01", "churn_date": "2024-01-31"}
    ]
    _, db = loaded(make_folder(tmp_path, accounts=accounts))
    assert rejects(db, "accounts") == [(5, "churn_date is before signup_date")]


def test_deactivated_before_created_rejects_the_user(tmp_path, loaded):
    users = [
        {
            "user_id": "u1",
            "account_id": "A1",
            "created_at": "2024-03-01T10:00:00",
            "deactivated_at": "2024-03-01T09:00:00",
        }
    ]
    _, db = loaded(make_folder(tmp_path, users=users))
    assert rejects(db, "users") == [(2, "deactivated_at is before created_at")]


def test_end_before_start_rejects_the_subscription(tmp_path, loaded):
    subscriptions = [
        {"account_id": "A1", "start_date": "2024-02-01", "end_date": "2024-01-01"},
        {"account_id": "A2", "start_date": "2024-02-01", "end_date": "2024-02-01"},
    ]
    _, db = loaded(make_folder(tmp_path, subscriptions=subscriptions))
    assert rejects(db, "subscriptions") == [(2, "end_date is before start_date")]
    assert ids(db, "subscriptions") == ["A2"]


def test_closed_before_opened_rejects_the_ticket(tmp_path, loaded):
    tickets = [
        {
            "ticket_id": "T1",
            "account_id": "A1",
            "opened_at": "2024-03-02",
            "closed_at": "2024-03-01",
        }
    ]
    _, db = loaded(make_folder(tmp_path, tickets=tickets))
    assert rejects(db, "tickets") == [(2, "closed_at is before opened_at")]


def test_a_parquet_reject_points_at_the_row(tmp_path, loaded):
    events = EVENTS + [{"account_id": "A1", "event_time": "bad", "event": "x"}]
    report, db = loaded(make_folder(tmp_path, events=events, formats={"events": "parquet"}))
    assert rows(db, "SELECT file, row_number, line FROM rejects") == [("events.parquet", 5, None)]
    assert str(report["events"].examples[0]).startswith("events.parquet row 5: event_time 'bad'")


def test_the_rejected_record_is_kept_as_written(tmp_path, loaded):
    events = EVENTS + [{"account_id": "A1", "event_time": "soon", "event": "x", "value": "1"}]
    _, db = loaded(make_folder(tmp_path, events=events))
    [(record,)] = rows(db, "SELECT record FROM rejects")
    assert json.loads(record) | {"_row": None} == {
        "_row": None,
        "account_id": "A1",
        "event_time": "soon",
        "event": "x",
        "user_id": None,
        "feature": None,
        "value": "1",
    }


def test_the_cli_shows_five_examples_and_counts_the_rest(tmp_path, monkeypatch, capsys):
    events = EVENTS * 3 + [
        {"account_id": "A1", "event_time": f"day {i}", "event": "x"} for i in range(7)
    ]
    folder = make_folder(tmp_path, events=events)
    code, err = cli(monkeypatch, capsys, "load", str(folder), "--db", str(tmp_path / "h.duckdb"))
    assert code == 0
    assert re.search(r"events.csv: +19 rows read, +12 loaded, +7 rejected", err)
    assert err.count("rejected events.csv line") == 5
    assert "rejected events.csv line 14: event_time 'day 0' is not an ISO 8601 timestamp" in err
    assert "… and 2 more" in err
    assert "7 rows rejected (see the rejects table)" in err
    assert len(rejects(tmp_path / "h.duckdb", "events")) == 7


# --- things that must load as they are ------------------------------------------------------


def test_header_names_in_any_case(tmp_path, loaded):
    text = (
        "Account_ID,SIGNUP_DATE,Name\nA1,2024-01-01,Acme\nA2,2024-01-15,Globex\nA3,2024-02-01,Ini\n"
    )
    _, db = loaded(make_folder(tmp_path, accounts=text))
    assert rows(db, "SELECT account_id, signup_date, name FROM accounts ORDER BY 1")[0] == (
        "A1",
        dt.date(2024, 1, 1),
        "Acme",
    )


def test_a_utf8_byte_order_mark(tmp_path, loaded):
    text = "\ufeffaccount_id,signup_date\nA1,2024-01-01\nA2,2024-01-15\nA3,2024-02-01\n"
    _, db = loaded(make_folder(tmp_path, accounts=text))
    assert ids(db, "accounts") == ["A1", "A2", "A3"]


def test_windows_line_ends(tmp_path, loaded):
    lines = ["account_id,name,signup_date", "A1,Acme,2024-01-01", "A2,Globex,2024-01-15"]
    text = "\r\n".join(lines) + "\r\n"
    _, db = loaded(make_folder(tmp_path, accounts=text))
    assert rows(db, "SELECT name, signup_date FROM accounts WHERE account_id = 'A1'") == [
        ("Acme", dt.date(2024, 1, 1))
    ]


def test_gzip_csv(tmp_path, loaded):
    folder = make_folder(tmp_path, formats={"accounts": "csv.gz", "events": "csv.gz"})
    assert gzip.decompress((folder / "events.csv.gz").read_bytes()).startswith(b"account_id")
    report, db = loaded(folder)
    assert report["events"].file == "events.csv.gz"
    assert len(table(db, "events")) == len(EVENTS)


def test_parquet_loads_like_csv(tmp_path, loaded):
    as_csv, db_csv = loaded(make_folder(tmp_path, "csv"))
    as_parquet, db_parquet = loaded(
        make_folder(tmp_path, "parquet", formats={"accounts": "parquet", "events": "parquet"})
    )
    assert as_parquet["events"].file == "events.parquet"
    assert table(db_parquet, "events") == table(db_csv, "events")
    assert table(db_parquet, "accounts") == table(db_csv, "accounts")


@pytest.mark.parametrize("zone", [None, "Europe/Berlin"], ids=["naive", "zoned"])
def test_typed_parquet_columns(tmp_path, loaded, zone):
    # An exporter that wrote real types: integer ids, dates, a timestamp (naive = UTC).
    accounts = pl.DataFrame(
        {"account_id": [7, 8], "signup_date": [dt.date(2024, 1, 1)] * 2, "arr": [1200.5, 0]}
    )
    times = pl.Series([dt.datetime(2024, 3, 1, 10), dt.datetime(2024, 3, 1, 11)])
    if zone:
        times = times.dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
    events = pl.DataFrame(
        {"account_id": [7, 8], "event_time": times, "event": ["login"] * 2, "value": [1, 2]}
    )
    folder = make_folder(
        tmp_path,
        accounts=accounts,
        events=events,
        formats={"accounts": "parquet", "events": "parquet"},
    )
    _, db = loaded(folder)
    assert rows(db, "SELECT account_id, signup_date, arr FROM accounts ORDER BY 1") == [
        ("7", dt.date(2024, 1, 1), 1200.5),
        ("8", dt.date(2024, 1, 1), 0.0),
    ]
    assert rows(db, "SELECT account_id, event_time, value FROM events ORDER BY 1") == [
        ("7", dt.datetime(2024, 3, 1, 10), 1.0),
        ("8", dt.datetime(2024, 3, 1, 11), 2.0),
    ]


def test_timestamps_with_offsets_are_stored_in_utc(tmp_path, loaded):
    times = {
        "plus_two": "2024-03-01T10:00:00+02:00",
        "no_offset": "2024-03-01T10:00:00",
        "zulu": "2024-03-01T10:00:00Z",
        "minus_five": "2024-03-01 10:00:00-05:00",
    }
    events = [{"account_id": "A1", "event_time": t, "event": e} for e, t in times.items()]
    _, db = loaded(make_folder(tmp_path, events=events))
    assert dict(rows(db, "SELECT event, event_time FROM events")) == {
        "plus_two": dt.datetime(2024, 3, 1, 8),
        "no_offset": dt.datetime(2024, 3, 1, 10),
        "zulu": dt.datetime(2024, 3, 1, 10),
        "minus_five": dt.datetime(2024, 3, 1, 15),
    }


def test_ids_keep_their_leading_zeros(tmp_path, loaded):
    accounts = [
        {"account_id": "007", "signup_date": "2024-01-01"},
        {"account_id": "7", "signup_date": "2024-01-01"},
    ]
    events = [
        {"account_id": "007", "event_time": "2024-03-01", "event": "bond", "user_id": "0042"},
        {"account_id": "7", "event_time": "2024-03-01", "event": "seven"},
    ]
    report, db = loaded(make_folder(tmp_path, accounts=accounts, events=events))
    assert ids(db, "accounts") == ["007", "7"]
    assert rows(db, "SELECT account_id, user_id FROM events WHERE event = 'bond'") == [
        ("007", "0042")
    ]
    assert report["events"].rows_rejected == 0


def test_a_formula_is_stored_as_plain_text(tmp_path, loaded):
    accounts = ACCOUNTS + [
        {"account_id": "A4", "name": '=HYPERLINK("x")', "signup_date": "2024-01-01"}
    ]
    _, db = loaded(make_folder(tmp_path, accounts=accounts))
    assert rows(db, "SELECT name FROM accounts WHERE account_id = 'A4'") == [('=HYPERLINK("x")',)]


def test_a_one_megabyte_note(tmp_path, loaded):
    note = " ".join(["Long call."] * 100_000)  # about 1.1 MB in one cell
    touchpoints = [{"account_id": "A1", "occurred_at": "2024-03-01", "kind": "call", "note": note}]
    _, db = loaded(make_folder(tmp_path, touchpoints=touchpoints))
    assert rows(db, "SELECT note = ? FROM touchpoints", [note]) == [(True,)]


def test_an_empty_optional_table(tmp_path, loaded):
    report, db = loaded(make_folder(tmp_path, tickets="ticket_id,account_id,opened_at\n"))
    assert report["tickets"].rows_read == 0
    assert table(db, "tickets") == []
    assert len(table(db, "events")) == len(EVENTS)


def test_extra_account_columns_are_kept_as_json(tmp_path, loaded):
    accounts = with_rows(ACCOUNTS, Favourite_Colour="blue")
    report, db = loaded(make_folder(tmp_path, accounts=accounts))
    extras = rows(db, "SELECT account_id, extra FROM accounts ORDER BY 1")
    assert [(a, json.loads(e)) for a, e in extras] == [
        (a["account_id"], {"Favourite_Colour": "blue"}) for a in ACCOUNTS
    ]
    assert report["accounts"].warnings == []


def test_extra_event_columns_are_ignored_with_a_warning(tmp_path, loaded):
    report, db = loaded(make_folder(tmp_path, events=with_rows(EVENTS, browser="firefox")))
    assert report["events"].warnings == [
        "events.csv: columns not in the contract, ignored: browser"
    ]
    assert len(table(db, "events")) == len(EVENTS)


def test_unknown_files_are_ignored_with_a_warning(tmp_path, monkeypatch, capsys):
    folder = make_folder(tmp_path, files={"notes.txt": "hello", "customers.csv": "a,b\n1,2\n"})
    db = tmp_path / "h.duckdb"
    code, err = cli(monkeypatch, capsys, "load", str(folder), "--db", str(db))
    assert code == 0
    assert "warning: customers.csv: not a table of the contract, ignored" in err
    assert "warning: notes.txt: not a table of the contract, ignored" in err


def test_optional_tables_may_be_absent(tmp_path, loaded):
    report, db = loaded(make_folder(tmp_path))
    assert sorted(report) == ["accounts", "events"]
    for name in ("users", "subscriptions", "tickets", "surveys", "touchpoints"):
        assert table(db, name) == []


# --- loading again: idempotent merge, new days, --replace -----------------------------------


def full_folder(tmp_path, name="data", **changes):
    """Every table, a few dirty rows included, so a second load has something to get wrong."""
    tables = {
        "accounts": ACCOUNTS + [{"account_id": "A4", "signup_date": "not a date"}],
        "events": EVENTS
        + [EVENTS[0]]  # the same click twice is two events, kept both times
        + [{"account_id": "ZZ", "event_time": "2024-03-01", "event": "orphan"}],
        "users": [
            {"user_id": "u1", "account_id": "A1", "is_champion": "true", "role": "admin"},
            {"user_id": "u2", "account_id": "A2", "created_at": "2024-01-01T00:00:00+01:00"},
        ],
        "subscriptions": [
            {"account_id": "A1", "start_date": "2024-01-01", "mrr": "1000", "seats": "10"},
            {"account_id": "A1", "start_date": "2024-01-01", "mrr": "1100"},
        ],
        "tickets": [
            {"ticket_id": "T1", "account_id": "A1", "opened_at": "2024-03-01", "csat": "4"},
            {"ticket_id": "T2", "account_id": "A2", "opened_at": "2024-03-01", "csat": "9"},
        ],
        "surveys": [{"account_id": "A1", "responded_at": "2024-03-01", "score": "9"}] * 2,
        "touchpoints": [{"account_id": "A3", "occurred_at": "2024-03-01", "sentiment": "red"}],
    }
    return make_folder(tmp_path, name, **(tables | changes))


def test_loading_the_same_folder_twice_changes_nothing(tmp_path, loaded):
    folder = full_folder(tmp_path)
    _, db = loaded(folder)
    first = snapshot(db)
    assert all(first[name] for name in first), "every table has rows to compare"
    loaded(folder)
    assert snapshot(db) == first


def test_a_second_folder_with_one_new_day_adds_exactly_that_day(tmp_path, loaded):
    _, db = loaded(full_folder(tmp_path, "monday"))
    before = table(db, "events")
    new_day = [
        {"account_id": "A1", "event_time": "2024-03-04T09:00:00", "event": "login"},
        {"account_id": "A2", "event_time": "2024-03-04T09:30:00", "event": "login"},
    ]
    # The export is cumulative: yesterday's rows again, plus today's.
    report, _ = loaded(full_folder(tmp_path, "tuesday", events=EVENTS + [EVENTS[0]] + new_day))
    after = table(db, "events")
    assert len(after) == len(before) + 2
    assert sorted(set(after) - set(before)) == sorted(
        (e["account_id"], dt.datetime.fromisoformat(e["event_time"]), "login", None, None, None)
        for e in new_day
    )
    assert report["events"].rows_rejected == 0


def test_a_later_folder_updates_an_account_in_place(tmp_path, loaded):
    _, db = loaded(make_folder(tmp_path, "before"))
    renamed = with_rows(ACCOUNTS[:1], name="Acme Corp", churn_date="2024-06-30")
    loaded(make_folder(tmp_path, "after", accounts=renamed, events=EVENTS[:1]))
    assert rows(db, "SELECT name, churn_date FROM accounts WHERE account_id = 'A1'") == [
        ("Acme Corp", dt.date(2024, 6, 30))
    ]
    assert ids(db, "accounts") == ["A1", "A2", "A3"]


def test_replace_drops_what_was_loaded_before(tmp_path, loaded):
    _, db = loaded(full_folder(tmp_path, "old"))
    fresh = make_folder(
        tmp_path,
        "new",
        accounts=[{"account_id": "B1", "signup_date": "2024-01-01"}],
        events=[{"account_id": "B1", "event_time": "2024-03-01", "event": "login"}],
    )
    loaded(fresh, replace=True)
    assert ids(db, "accounts") == ["B1"]
    assert ids(db, "events") == ["B1"]
    assert table(db, "tickets") == []
    assert table(db, "rejects") == []


# --- what changed, for the incremental refresh ------------------------------------------------


def changed_from(db) -> str | None:
    """meta's events_changed_from: the first day whose events changed, 'all', or None."""
    found = rows(db, "SELECT value FROM meta WHERE key = 'events_changed_from'")
    return found[0][0] if found else None


def refreshed(db) -> None:
    """What the refresh does once it has caught up: it clears the key."""
    con = duckdb.connect(str(db))
    try:
        con.execute("DELETE FROM meta WHERE key = 'events_changed_from'")
    finally:
        con.close()


def test_a_first_load_marks_every_event_changed(tmp_path, loaded):
    _, db = loaded(full_folder(tmp_path))
    assert changed_from(db) == "all"


def test_a_new_day_marks_that_day_and_a_repeat_changes_nothing(tmp_path, loaded):
    _, db = loaded(full_folder(tmp_path, "monday"))
    refreshed(db)
    new_day = [{"account_id": "A2", "event_time": "2024-03-04T09:30:00", "event": "login"}]
    tuesday = full_folder(tmp_path, "tuesday", events=EVENTS + [EVENTS[0]] + new_day)
    loaded(tuesday)
    assert changed_from(db) == "2024-03-04"
    loaded(tuesday)  # nothing new: the mark stays as it was
    assert changed_from(db) == "2024-03-04"
    refreshed(db)
    loaded(tuesday)
    assert changed_from(db) is None


def test_a_late_event_moves_the_mark_back_but_never_forward(tmp_path, loaded):
    _, db = loaded(make_folder(tmp_path, "first"))
    refreshed(db)
    late = {"account_id": "A3", "event_time": "2024-02-20T08:00:00", "event": "login"}
    later = {"account_id": "A3", "event_time": "2024-03-10T08:00:00", "event": "login"}
    loaded(make_folder(tmp_path, "later", events=EVENTS + [later]))
    loaded(make_folder(tmp_path, "late", events=EVENTS + [late]))
    assert changed_from(db) == "2024-02-20"
    loaded(make_folder(tmp_path, "both", events=EVENTS + [late, later, {**later, "event": "x"}]))
    assert changed_from(db) == "2024-02-20"


def test_replace_marks_every_event_changed(tmp_path, loaded):
    _, db = loaded(make_folder(tmp_path, "old"))
    refreshed(db)
    loaded(make_folder(tmp_path, "new", events=EVENTS[:1]), replace=True)
    assert changed_from(db) == "all"


# --- typed Parquet: the same rules and messages as text -----------------------------------


def test_typed_parquet_values_are_checked_like_text(tmp_path, loaded):
    # The same dirty rows once as an exporter with real types writes them, once as text.
    accounts = {
        "account_id": [1, 2, 3, 4, 5],
        "signup_date": [dt.date(2024, 1, 1)] * 4 + [None],
        "churn_date": [None, dt.date(2023, 12, 1), None, None, None],
        "arr": [1200.5, 10.0, -5.0, float("nan"), 0.0],
    }
    tickets = {
        "ticket_id": [1, 2, 3, 3],
        "account_id": ["1", "1", "9", "1"],
        "opened_at": [dt.datetime(2024, 3, 2, 10)] * 3 + [None],
        "closed_at": [dt.datetime(2024, 3, 1, 10), None, None, None],
        "csat": [6, 1, 2, 3],
    }
    typed = make_folder(
        tmp_path,
        "typed",
        accounts=pl.DataFrame(accounts),
        tickets=pl.DataFrame(tickets),
        formats={"accounts": "parquet", "tickets": "parquet"},
    )
    as_text = {
        name: [{k: None if v is None else str(v) for k, v in row.items()} for row in frame]
        for name, frame in (
            ("accounts", pl.DataFrame(accounts).to_dicts()),
            ("tickets", pl.DataFrame(tickets).to_dicts()),
        )
    }
    text = make_folder(
        tmp_path,
        "text",
        formats={"accounts": "parquet", "tickets": "parquet"},
        **as_text,
    )
    _, db_typed = loaded(typed)
    typed_rejects = {t: rejects(db_typed, t) for t in ("accounts", "tickets")}
    (tmp_path / "health.duckdb").unlink()
    _, db_text = loaded(text)
    assert typed_rejects == {t: rejects(db_text, t) for t in ("accounts", "tickets")}
    assert typed_rejects == {
        "accounts": [
            (2, "churn_date is before signup_date"),
            (3, "arr -5.0 is below the minimum 0"),
            (
                4,
                "arr 'nan' is not a number such as 1200 or 1200.50 "
                "(no currency symbols or thousands separators)",
            ),
            (5, "signup_date is missing"),
        ],
        "tickets": [
            (1, "csat 6 is above the maximum 5; closed_at is before opened_at"),
            (3, "account_id '9' is not in accounts"),
            (4, "opened_at is missing"),
        ],
    }


def test_a_parquet_column_called_file_row_number_is_an_extra(tmp_path, loaded):
    events = pl.DataFrame(
        {
            "account_id": ["A1", "ZZ"],
            "event_time": ["2024-03-01", "2024-03-02"],
            "event": ["login", "login"],
            "file_row_number": [70, 80],
        }
    )
    report, db = loaded(make_folder(tmp_path, events=events, formats={"events": "parquet"}))
    assert rejects(db, "events") == [(2, "account_id 'ZZ' is not in accounts")]
    assert report["events"].warnings == [
        "events.parquet: columns not in the contract, ignored: file_row_number"
    ]


def test_events_of_users_not_in_users_are_counted_in_a_warning(tmp_path, loaded):
    users = [{"user_id": "u1", "account_id": "A1"}]
    report, _ = loaded(make_folder(tmp_path, users=users))  # EVENTS name u1 once, and no other
    assert report["events"].warnings == []
    events = EVENTS + [{**EVENTS[0], "user_id": "u9"}, {**EVENTS[0], "user_id": "u8"}]
    report, _ = loaded(make_folder(tmp_path, "more", users=users, events=events))
    assert report["events"].warnings == ["events.csv: 2 rows name a user_id that is not in users"]


# --- cells with spaces: trimmed, and only spaces means missing --------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cells_are_trimmed_and_a_cell_of_spaces_is_missing(tmp_path, loaded, fmt):
    events = [
        {**EVENTS[0], "account_id": " A1 ", "feature": "reports"},
        {**EVENTS[2], "user_id": "u2", "feature": "reports"},
        {**EVENTS[3], "event": "   ", "feature": "reports"},
    ]
    frame = pl.DataFrame(events, schema={c: pl.String for c in events[0] | {"value": 0}})
    report, db = loaded(make_folder(tmp_path, events=frame, formats={"events": fmt}))
    assert rejects(db, "events") == [(4 if fmt == "csv" else 3, "event is missing")]
    assert rows(db, "SELECT account_id, event, user_id, feature FROM events ORDER BY 1") == [
        ("A1", "login", "u1", "reports"),
        ("A2", "login", "u2", "reports"),
    ]
