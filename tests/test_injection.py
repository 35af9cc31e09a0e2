"""Hostile text everywhere a person can type or upload it: stored and shown verbatim, never run.

SQL gets every value as a bound parameter, table and column names come from allow-lists, and
a CSV export neutralises cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from health import db
from health.accounts import overview as accounts
from health.ingest.loader import LoadError, load, save_uploads
from health.present.export import FORMULA_STARTS, to_csv
from pages import PAGES
from tests.conftest import APP_DIR
from tests.folders import make_folder, rows

HOSTILE = [
    "' OR 1=1 --",
    '"; DROP TABLE accounts; --',
    "'); DELETE FROM events; SELECT ('",
    "%",
    "_",
    "\\",
    "${{}}",
    "{{7*7}}",
    "$account_id",
    "?",
    '=HYPERLINK("http://x")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "x" * 10_240,
    "\u202eevil\u202c txt.exe",  # right-to-left override
    "bin\x01\x02\x07\x1b[31m\x7f\ufffd\u00ff",  # control bytes and odd code points, no NUL
    'two\nlines, "quoted"',
    "<script>alert(1)</script>",
]
IDS = [f"h{i}" for i in range(len(HOSTILE))]


def table_counts(path) -> dict[str, int]:
    con = db.connect(path, events=True)  # and the events store
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0] for n in names}
    finally:
        con.close()


# --- filters and search ----------------------------------------------------------------------


def test_hostile_search_text_is_matched_literally_on_the_accounts_page(
    app_db, tmp_path, monkeypatch
):
    monkeypatch.setenv("HEALTH_USERS", str(tmp_path / "none.toml"))  # single-user mode
    before = table_counts(app_db)
    con = db.connect(app_db)
    names = con.execute(
        "SELECT lower(name), lower(account_id) FROM mart_account_overview WHERE is_active"
    ).fetchall()
    con.close()
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60).run()
    at.switch_page(next(p.file for p in PAGES if p.url == "accounts")).run()
    for text in HOSTILE:
        at.text_input(key="acc_search").input(text).run()
        assert not at.exception, text[:40]
        assert not at.error, text[:40]
        needle = text.strip().lower()
        expected = sum(1 for n, i in names if needle in (n or "") or needle in i)
        shown = at.dataframe[0].value.shape[0] if at.dataframe else 0
        assert shown == expected, text[:40]  # '%' and '_' are characters, not wildcards
    assert table_counts(app_db) == before


@pytest.mark.parametrize("text", HOSTILE, ids=IDS)
def test_hostile_filter_values_match_nothing_and_break_nothing(warehouse, text):
    con = db.connect(warehouse)
    try:
        every = accounts.Filters(
            segments=(text,), owners=(text,), plans=(text,), regions=(text,), search=text
        )
        assert accounts.overview(con, every).is_empty()
        for one in ("segments", "owners", "plans", "regions"):
            assert accounts.overview(con, accounts.Filters(**{one: (text,)})).is_empty()
        accounts.weekly_activity(con, [text])  # the id list is bound, not spliced in
        assert db.table_exists(con, "accounts") and not db.table_exists(con, text)
    finally:
        con.close()


# --- uploaded data ---------------------------------------------------------------------------


def test_hostile_uploaded_values_load_verbatim_and_leave_the_tables_intact(tmp_path):
    hostile_accounts = [
        {
            "account_id": f"H{i}",
            "name": text,
            "signup_date": "2024-01-01",
            "plan": text,
            "segment": text,
            "industry": text,
            "region": text,
            "csm_owner": text,
            "x; DROP TABLE accounts; --": text,  # an extra column under a hostile header
        }
        for i, text in enumerate(HOSTILE)
    ]
    events = [
        {
            "account_id": f"H{i}",
            "event_time": "2024-03-05T10:00:00",
            "event": text,
            "feature": text,
            "user_id": text,
        }
        for i, text in enumerate(HOSTILE)
    ]
    touchpoints = [
        {
            "account_id": f"H{i}",
            "occurred_at": "2024-03-06",
            "kind": "call",
            "author": text,
            "note": text,
        }
        for i, text in enumerate(HOSTILE)
    ]
    folder = make_folder(
        tmp_path, accounts=hostile_accounts, events=events, touchpoints=touchpoints
    )
    path = tmp_path / "hostile.duckdb"
    report = load(folder, path)
    assert report.rejected == 0, [str(e) for t in report.tables for e in t.examples]

    stored = rows(
        path,
        "SELECT account_id, name, plan, segment, industry, region, csm_owner "
        "FROM accounts ORDER BY account_id",
    )
    by_id = {r[0]: r[1:] for r in stored}
    for i, text in enumerate(HOSTILE):
        assert by_id[f"H{i}"] == (text,) * 6, text[:40]
    assert sorted(
        r[0] for r in rows(path, "SELECT event FROM events WHERE account_id LIKE 'H%'")
    ) == sorted(HOSTILE)
    notes = rows(path, "SELECT account_id, note, author FROM touchpoints")
    assert {(n, a) for _, n, a in notes} == {(t, t) for t in HOSTILE}
    counts = table_counts(path)
    assert counts["accounts"] == len(HOSTILE) and counts["events"] == len(events)


@pytest.mark.parametrize(
    "name",
    ["accounts.csv; DROP TABLE accounts", "'; --.csv", "%.csv", "accounts.csv\x00.exe"],
)
def test_an_upload_with_a_hostile_file_name_is_refused(tmp_path, name):
    with pytest.raises((LoadError, ValueError)):
        save_uploads([(name, b"account_id\nA1\n")], root=tmp_path)


def test_an_upload_cannot_climb_out_of_its_folder(tmp_path):
    folder = save_uploads([("../../accounts.csv", b"account_id\nA1\n")], root=tmp_path / "up")
    assert [p.name for p in folder.iterdir()] == ["accounts.csv"]
    assert not (tmp_path / "accounts.csv").exists()


# --- CSV export ------------------------------------------------------------------------------


def test_exported_csv_neutralises_formulas_and_keeps_everything_else():
    texts = [*HOSTILE, "\tTAB", "\rCR", "plain", "", None, "a=b", "email@x.com", "1-2"]
    frame = pl.DataFrame({"text": texts, "n": [i - 5 for i in range(len(texts))]})
    read = list(csv.reader(io.StringIO(to_csv(frame).decode("utf-8"), newline="")))
    assert read[0] == ["text", "n"]
    for (cell, n), text, number in zip(read[1:], texts, frame["n"], strict=True):
        if text and text.startswith(FORMULA_STARTS):
            assert cell == "'" + text
        else:
            assert cell == (text or "")
        assert n == str(number)  # numbers, negative ones too, are not text: left alone
    assert set(FORMULA_STARTS) >= {"=", "+", "-", "@", "\t", "\r"}


# --- notes in the action log -----------------------------------------------------------------


def test_hostile_notes_round_trip_through_the_action_log(tmp_path):
    from health.actions import log as action_log

    log = tmp_path / "health.actions.duckdb"
    for i, text in enumerate(HOSTILE):
        action_log.record(log, f"act-{i}", f"A{i}", "done", note=text, outcome=text, actor=text)
    history = action_log.history(log).sort("entry")
    assert history["note"].to_list() == HOSTILE
    assert history["outcome"].to_list() == HOSTILE
    assert history["actor"].to_list() == HOSTILE
    assert action_log.history(log, account_id="' OR 1=1 --").is_empty()
    assert action_log.history(log, action_id=HOSTILE[1]).is_empty()
    assert action_log.statuses(log).height == len(HOSTILE)
