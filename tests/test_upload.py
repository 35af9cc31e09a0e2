"""Uploading files on the Data page: the CLI's validation, a sentence for every problem."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from health import db
from health.app import jobs
from health.db import copy as copy_database
from tests.conftest import APP_DIR

GOOD_ACCOUNTS = b"account_id,name,signup_date,arr\nZ1,Zeta,2025-01-01,1200\n"
GOOD_EVENTS = b"account_id,event_time,event\nZ1,2026-10-01T10:00:00,login\n"


@pytest.fixture
def data_page(warehouse, tmp_path, monkeypatch):
    """The Data page on a copy of the demo warehouse, ready for uploads."""
    path = tmp_path / "copy.duckdb"
    copy_database(warehouse, path)
    monkeypatch.setenv("HEALTH_DB", str(path))
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=120).run()
    at.switch_page("pages/data.py").run()
    return at, path


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    uploader = at.get("file_uploader")[0]
    uploader.set_value([(name, content, "text/csv") for name, content in files])
    next(b for b in at.button if b.label == "Validate and load").click().run()
    assert not at.exception
    return finished(at)


def finished(at: AppTest) -> AppTest:
    """The page again once the load job it started has ended (it runs in its own thread)."""
    thread = jobs.holder().thread
    if thread is not None:
        thread.join(timeout=120)
    at.run()
    assert not at.exception
    return at


def unescaped(markdown: str) -> str:
    """Markdown source as read on screen: customer text in it is escaped."""
    return re.sub(r"\\(.)", r"\1", markdown)


def accounts_in(path) -> int:
    return db.connect(path).execute("SELECT count(*) FROM accounts").fetchall()[0][0]


@pytest.mark.parametrize(
    ("files", "says"),
    [
        (
            [
                ("accounts.csv", b"account_id;name;signup_date\nZ1;Zeta;2025-01-01\n"),
                ("events.csv", GOOD_EVENTS),
            ],
            "separated by ';', not commas",
        ),
        (
            [
                (
                    "accounts.csv",
                    "account_id,name,signup_date\nZ1,Zéta,2025-01-01\n".encode("latin-1"),
                ),
                ("events.csv", GOOD_EVENTS),
            ],
            "not UTF-8",
        ),
        ([("customers.csv", GOOD_ACCOUNTS)], "customers.csv: not a table of the contract"),
        (
            [("accounts.csv", b"account_id,name\nZ1,Zeta\n"), ("events.csv", GOOD_EVENTS)],
            "required column signup_date is missing",
        ),
        ([("accounts.csv", b""), ("events.csv", GOOD_EVENTS)], "the file is empty"),
    ],
    ids=["semicolons", "latin-1", "unknown-file", "missing-column", "empty-file"],
)
def test_a_bad_upload_is_refused_in_a_sentence_and_changes_nothing(data_page, files, says):
    at, path = data_page
    before = accounts_in(path)
    upload(at, *files)
    assert any(says in unescaped(e.value) and "unchanged" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    assert accounts_in(path) == before
    assert not list((path.parent / "uploads").glob("*/*"))  # no leftover copies


def test_a_good_upload_merges_and_reports_rejected_rows(data_page):
    at, path = data_page
    before = accounts_in(path)
    events = GOOD_EVENTS + b"NOPE,2026-10-02T10:00:00,login\n"
    upload(at, ("accounts.csv", GOOD_ACCOUNTS), ("events.csv", events))
    assert accounts_in(path) == before + 1
    shown = unescaped(" ".join(m.value for m in at.markdown))
    assert "1 rejected" in shown and "account_id 'NOPE' is not in accounts" in shown
