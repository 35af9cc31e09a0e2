"""What people read in tables and cards: words and units, never internal names or "None".

Stories: a CSM opens My accounts and reads "At risk", whole dollars and a dash where a renewal
is missing; every table on every page has readable headers and shows dates as dates; an action
card says how many dollars are at stake; a CSM who opens /portfolio by URL is told why they
landed on their book instead.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from health import db
from health.app import signin
from health.auth.users import User
from health.pipeline.refresh import STEPS, step_label
from pages import PAGES
from tests.conftest import APP_DIR

APP = str(APP_DIR / "app.py")


def open_page(file: str, account: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    if account:
        at.query_params["account"] = account
    at.switch_page(file).run()
    assert not at.exception
    return at


def config(table) -> dict:
    """A shown table's column config, by column name."""
    return json.loads(table.proto.columns)


def riskiest_account(warehouse) -> str:
    con = db.connect(warehouse)
    return con.execute(
        "SELECT h.account_id FROM mart_account_health AS h JOIN stg_tickets AS t USING "
        "(account_id) GROUP BY ALL ORDER BY max(h.churn_risk) DESC LIMIT 1"
    ).fetchall()[0][0]


def test_my_accounts_shows_tiers_in_words_whole_dollars_and_no_none(app_db):
    at = open_page("pages/my_accounts.py")
    table = at.dataframe[0]
    # Monthly payers renew on their next billing day, so every demo account has a renewal.
    assert table.value["renewal_in_days"].notna().all()
    assert table.proto.placeholder == "—"  # a missing renewal reads as a dash, not "None"
    columns = config(table)
    tiers = {o["value"]: o["label"] for o in columns["tier"]["type_config"]["options"]}
    assert tiers["at_risk"] == "At risk"
    assert set(table.value["tier"]) <= set(tiers)  # the data keep their values
    assert columns["arr"]["type_config"] == {"type": "number", "format": "dollar", "step": 1}
    assert columns["newest_moment_on"]["type_config"]["type"] == "date"


@pytest.mark.parametrize("spec", PAGES, ids=[p.title for p in PAGES])
def test_every_table_has_readable_headers_and_dates_without_a_time(app_db, spec):
    at = open_page(spec.file, riskiest_account(app_db) if spec.url == "account" else None)
    for table in at.dataframe:
        columns, frame = config(table), table.value
        for name in frame.columns:
            shown = columns.get(name, {})
            if shown.get("hidden"):
                continue
            title = shown.get("label", name)
            assert "_" not in title, (spec.url, name, title)
            kind = frame[name].dtype.kind
            if kind == "M" and (frame[name].dropna().dt.normalize() == frame[name].dropna()).all():
                assert shown["type_config"]["type"] == "date", (spec.url, name)
        assert table.proto.placeholder == "—", spec.url


def test_the_account_page_labels_its_tabs_and_says_what_an_action_puts_at_stake(app_db):
    at = open_page("pages/account.py", riskiest_account(app_db))
    headers = {c.get("label") for t in at.dataframe for c in config(t).values()}
    assert {"Champion", "Opened", "Closed", "Start", "MRR"} <= headers
    tickets = next(t for t in at.dataframe if "opened_at" in t.value.columns)
    assert config(tickets)["opened_at"]["type_config"]["format"] == "YYYY-MM-DD HH:mm"
    cards = [m.value for m in at.markdown if "· due" in m.value]
    assert cards and all("at stake $" in c and "priority" not in c for c in cards)


def test_the_model_page_names_its_backtest_columns(app_db):
    at = open_page("pages/model.py")
    headers = {c.get("label") for t in at.dataframe for c in config(t).values()}
    assert {"Trained to", "Tested from"} <= headers
    models = config(at.dataframe[1])["model"]["type_config"]["options"]
    assert "L1 logistic" in {o["label"] for o in models}


def test_every_refresh_step_has_a_readable_progress_label():
    for step in [*STEPS, "publish"]:
        shown = step_label(step.split(":")[-1])  # what run_steps passes to `progress`
        assert "_" not in shown and shown[0].isupper(), step
    assert step_label("define_macros") == "Preparing shared calculations"


def test_a_csm_sent_from_the_portfolio_url_to_their_book_is_told_why(monkeypatch):
    # A URL of a page the role may not open is not registered: Streamlit runs the default page
    # in its place, and its intent still names the page asked for (what the browser sends).
    from types import SimpleNamespace

    from streamlit.runtime import scriptrunner

    said = []
    asked = SimpleNamespace(intended_page_name="portfolio", intended_page_script_hash="")
    monkeypatch.setattr(
        scriptrunner, "get_script_run_ctx", lambda: SimpleNamespace(pages_manager=asked)
    )
    monkeypatch.setattr(signin.st, "info", lambda text, **_: said.append(text))
    csm = User("ana", "Ana", "csm")
    signin._say_why_not_the_page_asked_for(csm, "my-accounts")
    assert said == [
        "The Portfolio page is for leaders and admins, so it is not open to your role; "
        "here is My accounts instead."
    ]
    for page, role in (("my-accounts", "csm"), ("portfolio", "leader")):  # asked and shown
        asked.intended_page_name = page
        signin._say_why_not_the_page_asked_for(User("x", "X", role), page)
    assert len(said) == 1
