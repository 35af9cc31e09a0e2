"""The CSM pages: a book ranked by what is at stake, and one account opened by deep link."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from health import db
from health.actions import log as action_log
from tests.conftest import APP_DIR, as_displayed


def open_page(file: str, **query) -> AppTest:
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60).run()
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(file).run()
    assert not at.exception
    return at


@pytest.fixture
def csm_db(app_db, tmp_path, monkeypatch):
    """The shared warehouse with an action log of this test's own (so tests don't see others')."""
    monkeypatch.setattr(action_log, "log_path", lambda *_: tmp_path / "actions.duckdb")
    return app_db


def _active_scored(path):
    con = db.connect(path)
    return db.run(
        con,
        "SELECT h.*, o.arr, o.renewal_date, o.name FROM mart_account_health AS h "
        "JOIN mart_account_overview AS o USING (account_id) WHERE o.is_active",
    )


def test_my_accounts_ranks_the_book_by_what_is_at_stake(csm_db):
    scored = _active_scored(csm_db)
    at = open_page("pages/my_accounts.py")
    assert at.title[0].value == "My accounts"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accounts"] == f"{scored.height:,}"
    assert metrics["At risk"] == f"{(scored['tier'] == 'at_risk').sum():,}"
    table = at.dataframe[0].value
    stake = table["arr"].fillna(0) * table["churn_risk"].fillna(0)
    # The top row carries at least as much ARR x risk as any row without a near renewal.
    far = table["renewal_in_days"].isna() | (table["renewal_in_days"] > 180)
    assert stake.iloc[0] >= stake[far].max()


def test_my_accounts_filters_by_tier(csm_db):
    at = open_page("pages/my_accounts.py")
    at.multiselect(key="my_tier").select("at_risk").run()
    table = at.dataframe[0].value
    assert set(table["tier"]) == {"at_risk"}


def test_account_page_opens_by_deep_link_with_its_facts(csm_db):
    scored = _active_scored(csm_db).sort("churn_risk", descending=True)
    top = scored.row(0, named=True)
    at = open_page("pages/account.py", account=top["account_id"])
    assert as_displayed(at.title[0].value) == top["name"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["ARR"] == f"${top['arr']:,.0f}"
    assert metrics["Churn risk, 90 days"] == f"{top['churn_risk']:.0%}"
    # The drivers listed under "Why" are the model's, sentence for sentence.
    shown = as_displayed(" ".join(m.value for m in at.markdown))
    for driver in (top["drivers"] or "").split("; "):
        assert driver in shown


def test_account_subtitle_names_a_segment_and_plan_of_the_same_name_once(csm_db):
    con = db.connect(csm_db)
    account_id, segment, owner = con.execute(
        "SELECT account_id, segment, csm_owner FROM mart_account_overview "
        "WHERE segment = plan ORDER BY account_id LIMIT 1"
    ).fetchall()[0]  # the demo sells an Enterprise plan to its Enterprise segment
    at = open_page("pages/account.py", account=account_id)
    subtitle = as_displayed(at.caption[0].value)
    assert subtitle == f"{account_id} · {segment} · owner {owner}"


def test_account_page_lists_the_accounts_moments_with_evidence(csm_db):
    con = db.connect(csm_db)
    account_id, n = con.execute(
        "SELECT account_id, count(*) FROM moments GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchall()[0]
    at = open_page("pages/account.py", account=account_id)
    labels = [e.label for e in at.expander if "detected" in e.label]
    assert len(labels) == n


def test_marking_an_action_done_is_logged_and_leaves_the_list(csm_db, tmp_path):
    con = db.connect(csm_db)
    account_id = con.execute(
        "SELECT account_id FROM mart_actions WHERE surfaced_on IS NOT NULL "
        "ORDER BY priority DESC LIMIT 1"
    ).fetchall()[0][0]
    at = open_page("pages/account.py", account=account_id)
    before = len(at.get("form"))
    at.text_input(key=next(k for k in _keys(at) if k.startswith("note-"))).input("Called, fixed")
    next(b for b in at.button if b.label == "Done").click().run()
    logged = action_log.history(tmp_path / "actions.duckdb", account_id=account_id)
    assert list(logged["status"]) == ["done"]
    assert list(logged["note"]) == ["Called, fixed"]
    assert len(at.get("form")) == before - 1


def _keys(at: AppTest) -> list[str]:
    return [w.key for w in at.text_input if w.key]


def test_unknown_account_is_refused_in_a_sentence(csm_db):
    at = open_page("pages/account.py", account="no-such-account")
    assert "There is no account no-such-account" in as_displayed(at.error[0].value)


def test_account_page_without_a_link_offers_a_picker(csm_db):
    at = open_page("pages/account.py")
    assert at.title[0].value == "Account"
    assert at.selectbox[0].label == "Open an account"
