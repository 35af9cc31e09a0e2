"""The leadership pages (Portfolio, Alignment) and the libraries under them.

Churn scenarios and overlaps are checked on numbers worked out by hand; the pages are checked
against the demo warehouse (every number on screen equals the database's), on a warehouse
loaded from accounts and events only, and on one whose model tables are missing.
"""

from __future__ import annotations

import json
import shutil

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from health import db
from health.analytics import alignment, metrics, portfolio
from health.app import filters
from health.db import copy as copy_database
from health.ingest.loader import load
from health.pipeline.refresh import refresh
from tests.conftest import APP_DIR, as_displayed


def open_page(file: str, **state) -> AppTest:
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60)
    for key, value in state.items():
        if key == "segment_filter":  # the global sidebar filter, as the app keeps it
            key = filters.kept_filter_key("segment")
        at.session_state[key] = value
    at.run()
    assert not at.exception
    at.switch_page(file).run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def figure(at: AppTest, title_starts: str) -> dict:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return next(s for s in specs if s["layout"]["title"]["text"].startswith(title_starts))


def one(con, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchall()[0]


# Churn scenarios, worked by hand -----------------------------------------------------------


def test_path_compounds_net_churn_monthly():
    # MRR 100 at +5 % a month: 95 after one month, 100 * 0.95^12 = 54.04 after twelve.
    frame = portfolio.path(100, 0.05)
    assert frame["month"].to_list() == list(range(13))
    assert frame["mrr"][0] == 100
    assert frame["mrr"][1] == pytest.approx(95)
    assert frame["mrr"][12] == pytest.approx(54.036, abs=0.001)
    # -5 % is net expansion: 105 after a month, 100 * 1.05^12 = 179.59 after twelve.
    assert portfolio.path(100, -0.05)["mrr"][12] == pytest.approx(179.586, abs=0.001)


def test_churn_scenarios_match_the_fields_73_percent():
    table = portfolio.churn_scenarios(100, {"-5 %": -0.05, "0 %": 0.0, "+5 %": 0.05})
    rows = {r["scenario"]: r for r in table.to_dicts()}
    # Revenue billed this month and the next eleven: 100 * (1 - 0.95^12) / 0.05 = 919.28 at
    # +5 %, 100 * (1.05^12 - 1) / 0.05 = 1591.71 at -5 %, 12 * 100 = 1200 flat.
    assert rows["+5 %"]["revenue_next_12_months"] == pytest.approx(919.28, abs=0.01)
    assert rows["-5 %"]["revenue_next_12_months"] == pytest.approx(1591.71, abs=0.01)
    assert rows["0 %"]["revenue_next_12_months"] == pytest.approx(1200)
    # 1591.71 / 919.28 = 1.7315: "about 73 % more" (the figure the field quotes), against the
    # worst scenario.
    assert rows["-5 %"]["vs_worst"] == pytest.approx(0.7315, abs=0.0001)
    assert rows["+5 %"]["vs_worst"] == 0
    # ARR a year out at +5 %: 12 * 54.036.
    assert rows["+5 %"]["arr_in_12_months"] == pytest.approx(648.43, abs=0.01)


def test_observed_net_churn_inverts_a_years_nrr():
    assert portfolio.observed_net_churn(1.0) == 0
    assert portfolio.observed_net_churn(0.95**12) == pytest.approx(0.05)
    assert portfolio.observed_net_churn(1.05**12) == pytest.approx(-0.05)
    assert portfolio.observed_net_churn(None) is None


def test_scenario_labels_and_sentence():
    assert [portfolio.rate_label(r) for r in (0.05, -0.05, 0.0, 0.0274)] == [
        "+5 %",
        "−5 %",
        "0 %",
        "+2.7 %",
    ]
    assert list(portfolio.scenario_rates(0.0274)) == ["Observed (+2.7 %)", "−5 %", "0 %", "+5 %"]
    assert list(portfolio.scenario_rates(None)) == ["−5 %", "0 %", "+5 %"]
    assert portfolio.compare(100) == (
        "At −5 % monthly net churn instead of +5 %, next year's revenue would be $1,592 "
        "instead of $919 (+73 %), on today's MRR of $100."
    )


# Overlap and questions, by hand --------------------------------------------------------------


def _traits(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema=[
            "trait",
            "value",
            "share_all",
            "share_product_ideal",
            "share_cs_ideal",
            "product_ideal_accounts",
            "cs_ideal_accounts",
            "both_accounts",
        ],
        orient="row",
    )


def test_overlap_counts_each_account_once_through_one_trait():
    # Product's list: 3 SMB + 2 Enterprise = 5; CS's: 4 + 1 = 5; on both: 2 + 1 = 3.
    # Either list: 5 + 5 - 3 = 7 accounts, so Jaccard = 3 / 7. The plan rows repeat the same
    # accounts by another trait and must not be counted again.
    traits = _traits(
        [
            ("segment", "SMB", 0.5, 0.6, 0.8, 3, 4, 2),
            ("segment", "Enterprise", 0.5, 0.4, 0.2, 2, 1, 1),
            ("plan", "Pro", 1.0, 1.0, 1.0, 5, 5, 3),
        ]
    )
    ov = alignment.overlap(traits)
    assert (ov.product_ideal, ov.cs_ideal, ov.both, ov.either) == (5, 5, 3, 7)
    assert ov.jaccard == pytest.approx(3 / 7)
    assert alignment.Overlap(0, 0, 0).jaccard is None
    assert alignment.Overlap(4, 4, 4).jaccard == 1


def test_questions_name_accounts_and_skip_the_overlap_without_sentiment():
    disagree = pl.DataFrame(
        {
            "account_id": ["A1", "A2"],
            "name": ["Acme", "Globex"],
            "arr": [12_000.0, 3_000.0],
            "drivers": ["champion left", None],
            "disagreement": ["CSM optimistic", "CSM pessimistic"],
        }
    )
    traits = _traits(
        [("segment", "SMB", 0.6, 0.9, 0.2, 9, 3, 2), ("segment", "Ent", 0.4, 0.1, 0.7, 1, 7, 1)]
    )
    questions = alignment.meeting_questions(disagree, traits, alignment.overlap(traits))
    assert questions[0].startswith("1 account is rated green by their CSM ($12,000 ARR)")
    assert "Acme (champion left)" in questions[0]
    assert "($3,000 ARR) yet healthy in the data, e.g. Globex." in questions[1]
    assert "Segment 'SMB' is 90% of product's ideal customers but 20%" in questions[2]
    # SMB: 90 % of product's ideal customers against 60 % of all accounts, a 30-point lean.
    assert questions[3].startswith(
        "90% of product's ideal customers are segment 'SMB', against 60%"
    )
    assert "Only 18% of the accounts on either list are on both (3 of 17)" in questions[4]
    # No green account at all: there is no CS list, so no overlap question.
    alone = alignment.meeting_questions(disagree.clear(), traits, alignment.Overlap(10, 0, 0))
    assert not any("either list" in q for q in alone)


# The queries on the demo warehouse -----------------------------------------------------------


@pytest.fixture(scope="module")
def con(warehouse):
    connection = db.connect(warehouse)
    yield connection
    connection.close()


@pytest.fixture
def planted(warehouse, tmp_path, monkeypatch):
    """The demo warehouse where, on the as-of day, the CSM of the riskiest account rated a call
    green and the CSM of the healthiest rated one red: two disagreements, whatever the model
    learned. The app is pointed at it; yields (path, riskiest id, healthiest id)."""
    path = tmp_path / "planted.duckdb"
    copy_database(warehouse, path)
    raw = duckdb.connect(str(path))
    risky, healthy = one(
        raw,
        """
        select arg_max(account_id, churn_risk) filter (where tier = 'at_risk'),
               arg_min(account_id, churn_risk) filter (where tier = 'healthy')
        from mart_account_health join mart_account_overview as o using (account_id)
        where o.is_active
        """,
    )
    for account, sentiment in ((risky, "green"), (healthy, "red")):
        raw.execute(
            "insert into touchpoints select ?, (select as_of from params) + interval 12 hour, "
            "'call', ?, 'Test CSM', 'planted by the test'",
            [account, sentiment],
        )
    raw.close()
    monkeypatch.setenv("HEALTH_DB", str(path))
    return path, risky, healthy


def test_disagreements_are_green_at_risk_or_red_healthy(planted):
    path, risky, healthy = planted
    con = db.connect(path)
    frame = alignment.disagreements(con)
    kinds = dict(zip(frame["account_id"], frame["disagreement"], strict=True))
    assert kinds[risky] == "CSM optimistic"
    assert kinds[healthy] == "CSM pessimistic"
    pairs = set(zip(frame["csm_sentiment"], frame["tier"], frame["disagreement"], strict=True))
    assert pairs <= {("green", "at_risk", "CSM optimistic"), ("red", "healthy", "CSM pessimistic")}
    n, arr = one(
        con,
        """
        with s as (select account_id, arg_max(sentiment, occurred_at) as sentiment
                   from touchpoints where sentiment is not null group by all)
        select count(*), sum(o.arr) from mart_account_overview as o
        join mart_account_health as h using (account_id) join s using (account_id)
        where o.is_active and ((s.sentiment = 'green' and h.tier = 'at_risk')
                               or (s.sentiment = 'red' and h.tier = 'healthy'))
        """,
    )
    assert (frame.height, frame["arr"].sum()) == (n, arr)


def test_matrix_covers_every_scored_active_account(con):
    grid = alignment.matrix(con)
    n, arr = one(
        con,
        "select count(*), sum(o.arr) from mart_account_overview as o "
        "join mart_account_health using (account_id) where o.is_active",
    )
    assert (grid["accounts"].sum(), grid["arr"].sum()) == (n, arr)
    assert alignment.has_sentiment(grid)


def test_icp_shares_sum_to_one_and_lists_match_a_direct_count(con):
    traits = alignment.icp_traits(con)
    assert set(traits["trait"]) == {"segment", "industry", "plan", "region"}
    sums = traits.group_by("trait").agg(
        pl.col("share_all").sum(), pl.col("share_cs_ideal").sum(), pl.col("accounts").sum()
    )
    assert sums["share_all"].to_list() == pytest.approx([1.0] * 4)
    assert sums["share_cs_ideal"].to_list() == pytest.approx([1.0] * 4)
    assert set(sums["accounts"]) == {one(con, "select count(*) from accounts")[0]}
    green = one(
        con,
        """
        with s as (select account_id, arg_max(sentiment, occurred_at) as sentiment
                   from touchpoints where sentiment is not null group by all)
        select count(*) from mart_account_overview join s using (account_id)
        where is_active and s.sentiment = 'green'
        """,
    )[0]
    ov = alignment.overlap(traits)
    assert ov.cs_ideal == green
    assert ov.both <= min(ov.product_ideal, ov.cs_ideal)


def test_alignment_queries_keep_only_the_accounts_asked_for(con):
    segment, ids = one(
        con,
        "select segment, list(account_id) from mart_account_overview where is_active "
        "group by all order by count(*) desc limit 1",
    )
    grid = alignment.matrix(con, ids)
    assert (
        grid["accounts"].sum()
        == one(
            con,
            "select count(*) from mart_account_health join mart_account_overview as o using "
            "(account_id) where o.is_active and o.segment = ?",
            [segment],
        )[0]
    )
    assert set(alignment.disagreements(con, ids)["segment"]) <= {segment}
    assert set(alignment.icp_traits(con, ids).filter(pl.col("trait") == "segment")["value"]) == {
        segment
    }
    assert alignment.disagreements(con, []).is_empty()  # an empty scope keeps nothing
    assert portfolio.health_weeks(con, []).is_empty()


def test_portfolio_series_match_their_tables(con):
    weeks = portfolio.health_weeks(con)
    last = weeks.filter(pl.col("week_end") == pl.col("week_end").max())
    direct = dict(
        con.execute(
            "select tier, count(*) from mart_health_history "
            "where week_end = (select max(week_end) from mart_health_history) group by all"
        ).fetchall()
    )
    assert dict(zip(last["tier"], last["accounts"], strict=True)) == direct
    months = portfolio.moments_months(con)
    assert (
        months["moments"].sum()
        == one(con, "select count(*) from moments where detected_on <= (select as_of from params)")[
            0
        ]
    )


# The pages on the demo warehouse ---------------------------------------------------------------


def test_portfolio_page_shows_the_databases_revenue_numbers(app_db):
    con = db.connect(app_db)
    arr = one(con, "select sum(arr) from mart_account_overview where is_active")[0]
    risk = metrics.run(con, "arr_at_risk").row(0, named=True)
    trailing = metrics.run(con, "revenue_retention").filter(pl.col("period") == "trailing")
    churn = metrics.run(con, "churn").filter(pl.col("complete")).tail(1).row(0, named=True)

    at = open_page("pages/portfolio.py")
    assert at.title[0].value == "Portfolio"
    assert metric(at, "Active ARR") == f"${arr:,.0f}"
    assert metric(at, "ARR at risk") == f"${risk['arr_at_risk']:,.0f}"
    assert metric(at, "ARR in the at-risk tier") == f"${risk['arr_at_risk_tier']:,.0f}"
    assert metric(at, "GRR, trailing 12 months") == f"{trailing['grr'][0] * 100:.1f} %"
    assert metric(at, "NRR, trailing 12 months") == f"{trailing['nrr'][0] * 100:.1f} %"
    assert metric(at, f"Logo churn, {churn['month']:%b %Y}") == f"{churn['churn_rate'] * 100:.1f} %"

    # The health chart's last week has mart_health_history's counts per tier.
    last = dict(
        con.execute(
            "select tier, count(*) from mart_health_history "
            "where week_end = (select max(week_end) from mart_health_history) group by all"
        ).fetchall()
    )
    fig = figure(at, "Health over time")
    shown = {t["name"]: t["y"][-1] for t in fig["data"]}
    assert shown == {"At risk": last["at_risk"], "Watch": last["watch"], "Healthy": last["healthy"]}
    assert fig["layout"]["yaxis"]["title"]["text"] == "Accounts"

    # Moments per month: one colour per type, and every moment counted once.
    fig = figure(at, "Moments of truth")
    assert {t["marker"]["color"] for t in fig["data"]} <= {"#7c3aed", "#dc2626", "#0d9488"}
    assert (
        sum(sum(t["y"]) for t in fig["data"])
        == one(con, "select count(*) from moments where detected_on <= (select as_of from params)")[
            0
        ]
    )

    # Scenarios on this portfolio's MRR: 0 % brings exactly a year of today's MRR.
    assert any(m.value == portfolio.compare(arr / 12) for m in at.markdown)
    table = at.dataframe[0].value
    flat = table.loc[table["scenario"] == "0 %", "revenue_next_12_months"].iloc[0]
    assert flat == pytest.approx(arr)
    assert table["scenario"].iloc[0].startswith("Observed (")
    paths = figure(at, "MRR over the next 12 months")
    assert [t["name"] for t in paths["data"]] == list(table["scenario"])
    assert "+73 %" in paths["layout"]["annotations"][0]["text"]


def test_portfolio_health_chart_toggles_to_arr(app_db):
    con = db.connect(app_db)
    at_risk_arr = one(
        con,
        "select sum(a.arr) from mart_health_history as h join accounts as a using (account_id) "
        "where h.tier = 'at_risk' and h.week_end = (select max(week_end) from mart_health_history)",
    )[0]
    at = open_page("pages/portfolio.py")
    at.toggle(key="pf_by_arr").set_value(True).run()
    fig = figure(at, "Health over time: ARR")
    assert next(t for t in fig["data"] if t["name"] == "At risk")["y"][-1] == at_risk_arr


def test_portfolio_page_follows_the_global_filters(app_db):
    con = db.connect(app_db)
    segment, arr = one(
        con,
        "select segment, sum(arr) from mart_account_overview where is_active "
        "group by all order by 2 desc limit 1",
    )
    at = open_page("pages/portfolio.py", segment_filter=[segment])
    assert metric(at, "Active ARR") == f"${arr:,.0f}"


def test_alignment_page_lists_disagreements_with_their_arr(planted):
    path, risky, healthy = planted
    con = db.connect(path)
    expected = alignment.disagreements(con)
    names = dict(zip(expected["account_id"], expected["name"], strict=True))
    traits = alignment.icp_traits(con)
    ov = alignment.overlap(traits)

    at = open_page("pages/alignment.py")
    assert at.title[0].value == "Alignment"
    assert metric(at, "Disagreements") == f"{expected.height:,}"
    assert metric(at, "ARR involved") == f"${expected['arr'].sum():,.0f}"
    table = at.dataframe[0].value
    assert table["arr"].sum() == pytest.approx(expected["arr"].sum())
    assert list(table["name"]) == expected["name"].to_list()
    assert {names[risky], names[healthy]} <= set(table["name"])

    # The heat map holds every scored active account's ARR, cell by cell.
    fig = figure(at, "ARR by CSM sentiment")
    cells = sum(sum(row) for row in fig["data"][0]["z"])
    assert cells == pytest.approx(alignment.matrix(con)["arr"].sum())
    assert len(fig["layout"]["shapes"]) == 2  # the two disagreement cells, outlined

    assert metric(at, "Product's ideal customers") == f"{ov.product_ideal:,}"
    assert metric(at, "On both lists") == f"{ov.both:,}"
    bars = figure(at, "Who is the ideal customer")
    assert {t["name"] for t in bars["data"]} == {
        "All accounts",
        "Product's ideal (healthy, adopted or expanding)",
        "CS's ideal (rated green)",
    }

    # The questions name real accounts: the costliest of each kind of disagreement.
    questions = as_displayed(next(m.value for m in at.markdown if m.value.startswith("1. ")))
    leaders = expected.group_by("disagreement", maintain_order=True).first()["name"]
    assert leaders.len() and all(name in questions for name in leaders)
    assert f"({ov.both} of {ov.either})" in questions


# Pages on less data -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bare_warehouse(demo_folder, tmp_path_factory):
    """The small demo with only the two required tables: accounts and events."""
    folder = tmp_path_factory.mktemp("bare") / "data"
    folder.mkdir()
    for required in ("accounts", "events"):
        for file in demo_folder.glob(f"{required}.*"):
            shutil.copy(file, folder / file.name)
    path = folder.parent / "bare.duckdb"
    load(folder, path)
    refresh(path)
    return path


def test_pages_say_what_is_missing_with_only_accounts_and_events(bare_warehouse, monkeypatch):
    monkeypatch.setenv("HEALTH_DB", str(bare_warehouse))
    con = db.connect(bare_warehouse)
    arr = one(con, "select sum(arr) from mart_account_overview where is_active")[0]

    at = open_page("pages/alignment.py")
    assert any("CSM sentiment is needed" in i.value for i in at.info)
    assert not at.dataframe or "csm_sentiment" not in at.dataframe[0].value
    assert metric(at, "CS's green accounts") == "—"

    at = open_page("pages/portfolio.py")
    assert metric(at, "Active ARR") == f"${arr:,.0f}"
    assert any("No subscriptions are loaded" in i.value for i in at.info)
    assert figure(at, "Health over time")["data"]


def test_pages_say_what_is_missing_without_scores(warehouse, tmp_path, monkeypatch):
    # A refresh that stopped before the model: no scores, no history, no moments.
    path = tmp_path / "unscored.duckdb"
    copy_database(warehouse, path)
    raw = duckdb.connect(str(path))
    for table in ("mart_account_health", "mart_health_history", "moments"):
        raw.execute(f"drop table {table}")
    raw.close()
    monkeypatch.setenv("HEALTH_DB", str(path))

    at = open_page("pages/portfolio.py")
    assert metric(at, "ARR at risk") == "—"
    assert any("mart_account_health is missing" in c.value for c in at.caption)
    assert any("No health history yet" in i.value for i in at.info)
    assert any("No moments of truth detected yet" in i.value for i in at.info)

    at = open_page("pages/alignment.py")
    assert any("Health scores are needed first" in i.value for i in at.info)


@pytest.mark.parametrize("file", ["pages/portfolio.py", "pages/alignment.py"])
def test_pages_say_what_to_load_when_nothing_is_refreshed(file, tmp_path, monkeypatch):
    from health.ingest.loader import _ensure_schema

    path = tmp_path / "empty.duckdb"
    with db.writing(path) as raw:
        _ensure_schema(raw)
    monkeypatch.setenv("HEALTH_DB", str(path))
    at = open_page(file)
    assert any("Load a data folder" in i.value for i in at.info)
