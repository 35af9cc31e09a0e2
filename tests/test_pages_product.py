"""The product pages (Segments, Journey, Features) show what the database says, and say what is
missing instead of failing; the feature-impact intervals are right on hand-made counts."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from health import db
from health.analytics import feature_outcomes as feature_impact
from health.analytics import journey, metrics, segments
from health.analytics.feature_outcomes import newcombe, wilson, with_intervals
from health.app import filters
from health.app.charts.base import COLORS
from health.app.charts.product import MOMENT_LABELS, TIER_LABELS
from pages import PAGES
from tests.conftest import APP_DIR

PRODUCT_PAGES = ("pages/segments.py", "pages/journey.py", "pages/features.py")
TITLES = {spec.file: spec.title for spec in PAGES}
TIER_KEYS = {label: tier for tier, label in TIER_LABELS.items()}


def open_page(file: str, **session) -> AppTest:
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60)
    for key, value in session.items():
        if key == "segment_filter":  # the global sidebar filter, as the app keeps it
            key = filters.kept_filter_key("segment")
        at.session_state[key] = value
    at.run()
    assert not at.exception
    at.switch_page(file).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def chart(at: AppTest, title: str) -> dict:
    """The figure JSON of the chart whose title starts with `title`."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    found = [s for s in specs if s["layout"]["title"]["text"].startswith(title)]
    assert found, [s["layout"]["title"]["text"] for s in specs]
    return found[0]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def said(at: AppTest) -> str:
    """Everything the page said in words: info boxes, warnings and captions."""
    return " ".join(e.value for e in [*at.info, *at.warning, *at.caption])


# Segments -----------------------------------------------------------------------------------


def test_segments_page_shows_each_groups_activation_rate_as_metrics_computes_it(app_db):
    con = db.connect(app_db)
    chosen = ["SMB", "Enterprise"]
    expected = (
        metrics.run(con, "activation", by="segment")
        .filter(pl.col("group").is_in(chosen))
        .group_by("group")
        .agg(rate=pl.col("activated_within").sum() / pl.col("eligible").sum())
    )
    at = open_page("pages/segments.py")
    at.multiselect(key="seg_groups_segment").set_value(chosen).run()
    assert not at.exception
    assert at.title[0].value == "Segments"
    summary = at.dataframe[0].value
    assert list(summary["group"]) == chosen
    shown = dict(zip(summary["group"], summary["activation_rate"], strict=True))
    for group, rate in expected.rows():
        assert shown[group] == pytest.approx(rate)
    # The KPI chart's first panel plots the same rates, in the same order.
    bars = chart(at, "Headline KPIs")["data"][0]
    assert bars["x"] == chosen
    assert bars["y"] == pytest.approx([shown[g] for g in chosen])
    sizes = dict(con.execute("select segment, count(*) from stg_accounts group by all").fetchall())
    assert list(summary["accounts"]) == [sizes[g] for g in chosen]


def test_segments_page_heat_map_and_health_chart_match_the_database(app_db):
    con = db.connect(app_db)
    at = open_page("pages/segments.py")
    at.multiselect(key="seg_groups_segment").set_value(["SMB", "Mid-Market"]).run()
    heat = chart(at, "Feature adoption")["data"][0]
    adoption = metrics.run(con, "feature_adoption", by="segment")
    for row, feature in enumerate(heat["y"]):
        for col, group in enumerate(heat["x"]):
            share = adoption.filter((pl.col("group") == group) & (pl.col("feature") == feature))[
                "account_share"
            ]
            assert heat["z"][row][col] == pytest.approx(share[0] if len(share) else 0)
    tiers = chart(at, "Health tiers")["data"]
    assert [t["name"] for t in tiers] == ["Healthy", "Watch", "At risk"]
    # The app's template, set once as plotly's default rather than checked again per figure.
    assert chart(at, "Health tiers")["layout"]["template"]["layout"]["plot_bgcolor"] == "white"
    scored = dict(
        con.execute(
            "select a.segment, count(*) from mart_account_health h join stg_accounts a "
            "using (account_id) group by all"
        ).fetchall()
    )
    counted: dict[str, int] = {}
    for trace in tiers:
        assert trace["marker"]["color"] == COLORS[TIER_KEYS[trace["name"]]]
        for group, (accounts, _score) in zip(trace["y"], trace["customdata"], strict=True):
            counted[group] = counted.get(group, 0) + accounts
    assert counted == {g: scored[g] for g in ["SMB", "Mid-Market"]}
    # One colour per moment type, the app's everywhere.
    moments = chart(at, "Moments per 100")["data"]
    labels = {v: k for k, v in MOMENT_LABELS.items()}
    assert {t["name"] for t in moments} == set(labels)
    assert all(t["marker"]["color"] == COLORS[labels[t["name"]]] for t in moments)


def test_segments_page_compares_signup_quarters(app_db):
    con = db.connect(app_db)
    at = open_page("pages/segments.py")
    at.selectbox(key="seg_by").select("cohort_quarter").run()
    assert not at.exception
    summary = at.dataframe[0].value
    assert len(summary) >= 2
    sizes = dict(
        con.execute(
            "select strftime(signup_date, '%Y') || '-Q' || quarter(signup_date), count(*) "
            "from stg_accounts group by all"
        ).fetchall()
    )
    assert list(summary["accounts"]) == [sizes[g] for g in summary["group"]]


def test_a_database_refreshed_before_the_macros_existed_opens_without_writing_to_it(
    warehouse, tmp_path, monkeypatch
):
    # An older build's refresh wrote no accounts_by or week_end: the app brings its own.
    old = tmp_path / "old.duckdb"
    db.copy(warehouse, old)  # with its events store
    con = db.connect(old, read_only=False)
    con.execute("DROP MACRO TABLE accounts_by")
    con.execute("DROP MACRO week_end")
    con.close()
    before = old.read_bytes()
    monkeypatch.setenv("HEALTH_DB", str(old))
    at = open_page("pages/segments.py")  # asserts no exception and no error
    assert at.get("plotly_chart")
    assert old.read_bytes() == before


def test_segments_page_asks_for_two_groups(app_db):
    at = open_page("pages/segments.py")
    at.multiselect(key="seg_groups_segment").set_value(["SMB"]).run()
    assert "at least two groups" in said(at)
    assert not at.get("plotly_chart")


# Journey ------------------------------------------------------------------------------------


def test_journey_page_funnel_starts_with_every_account_of_each_group(app_db):
    con = db.connect(app_db)
    sizes = dict(con.execute("select segment, count(*) from stg_accounts group by all").fetchall())
    at = open_page("pages/journey.py")
    assert at.title[0].value == "Journey"
    funnel = chart(at, "Journey funnel")
    chosen = at.multiselect(key="jr_groups_segment").value
    assert [t["name"] for t in funnel["data"]] == chosen
    for trace in funnel["data"]:
        assert trace["x"][0] == "Signed up"
        assert trace["customdata"][0][0] == sizes[trace["name"]]  # accounts at the first step
        assert trace["y"][0] == 1.0
    assert metric(at, "Signups") == f"{sum(sizes[g] for g in chosen):,}"
    table = at.dataframe[0].value
    expected = journey.funnel(con, "segment").filter(pl.col("group").is_in(chosen))
    assert int(table["accounts"].sum()) == expected["accounts"].sum()


def test_journey_page_counts_stalls_with_the_chosen_threshold(app_db):
    con = db.connect(app_db)
    at = open_page("pages/journey.py")
    at.number_input(key="jr_stall").set_value(30).run()
    chosen = at.multiselect(key="jr_groups_segment").value
    expected = journey.funnel(con, "segment", stall_days=30).filter(pl.col("group").is_in(chosen))
    assert metric(at, "Stalled now") == f"{expected['stalled'].sum():,}"
    assert "more than 30 days ago" in said(at)
    stalls = chart(at, "Where accounts stall")["data"]
    assert sum(sum(t["y"]) for t in stalls) == expected["stalled"].sum()


def test_journey_page_time_to_value_matches_metrics(app_db):
    con = db.connect(app_db)
    at = open_page("pages/journey.py")
    overall = metrics.run(con, "time_to_value", by="segment").filter(pl.col("cohort").is_null())
    bars = chart(at, "Time to value by group")["data"][0]
    medians = dict(overall.select("group", "median_days").rows())
    assert bars["y"] == pytest.approx([medians[g] for g in bars["x"]])
    cohorts = chart(at, "Time to value by signup cohort")["data"][0]
    assert (
        len(cohorts["x"])
        == metrics.run(con, "time_to_value").filter(pl.col("cohort").is_not_null()).height
    )


def test_journey_page_respects_the_global_filters(app_db):
    con = db.connect(app_db)
    smb = con.execute("select count(*) from stg_accounts where segment = 'SMB'").fetchall()[0][0]
    at = open_page("pages/journey.py", segment_filter=["SMB"])
    at.selectbox(key="jr_by").select("plan").run()
    plans = [o for o in at.multiselect(key="jr_groups_plan").options]
    at.multiselect(key="jr_groups_plan").set_value(plans).run()
    assert metric(at, "Signups") == f"{smb:,}"


# Features -----------------------------------------------------------------------------------


def test_features_page_forest_plot_shows_feature_impact_differences(app_db):
    con = db.connect(app_db)
    impact = feature_impact.compare(con).table.filter(~pl.col("small_sample"))
    at = open_page("pages/features.py")
    assert at.title[0].value == "Features"
    forest = chart(at, "Early feature use and outcomes")
    assert "association, not causation" in forest["layout"]["title"]["subtitle"]["text"].lower()
    assert "association, not causation" in said(at).lower()
    assert any(shape["x0"] == 0 for shape in forest["layout"]["shapes"])  # the zero line
    for trace in forest["data"]:
        rows = impact.filter(pl.col("outcome_label") == trace["name"])
        expected = dict(rows.select("feature", pl.col("difference") * 100).rows())
        assert trace["x"] == pytest.approx([expected[f] for f in trace["y"]])
        lows = dict(rows.select("feature", pl.col("difference_low") * 100).rows())
        minus = trace["error_x"]["arrayminus"]
        assert [x - m for x, m in zip(trace["x"], minus, strict=True)] == pytest.approx(
            [lows[f] for f in trace["y"]]
        )
    table = at.dataframe[0].value
    assert len(table) == feature_impact.compare(con).table.height
    judged = metric(at, "Judged on retention")
    as_of = con.execute("select as_of from params").fetchall()[0][0]
    old = con.execute(
        "select count(*) from stg_accounts where signup_date + 180 <= ?", [as_of]
    ).fetchall()[0][0]
    assert judged == f"{old:,}"


def test_wilson_interval_of_8_out_of_10():
    frame = pl.DataFrame({"x": [8, 0, 10, 0], "n": [10, 10, 10, 0]})
    low, high = wilson(pl.col("x"), pl.col("n"))
    got = frame.select(low=low, high=high)
    assert got.row(0) == pytest.approx((0.490, 0.943), abs=0.001)
    assert got["low"][1] == 0 and got["high"][1] == pytest.approx(0.278, abs=0.001)
    assert got["high"][2] == pytest.approx(1) and got["low"][2] == pytest.approx(0.722, abs=0.001)
    assert got.row(3) == (None, None)  # nobody to judge: no interval, not an error


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80.
    counts = pl.DataFrame(
        {
            "adopters": [70],
            "adopters_reached": [56],
            "others": [80],
            "others_reached": [48],
        }
    )
    row = with_intervals(counts).row(0, named=True)
    assert row["difference"] == pytest.approx(0.2)
    assert (row["difference_low"], row["difference_high"]) == pytest.approx(
        (0.0524, 0.3339), abs=0.0001
    )
    assert not row["small_sample"]


def test_newcombe_interval_contains_the_difference_and_flags_thin_cells():
    counts = pl.DataFrame(
        {
            "adopters": [9, 40],
            "adopters_reached": [9, 20],
            "others": [40, 40],
            "others_reached": [20, 20],
        }
    )
    rows = with_intervals(counts, min_n=10)
    assert rows["small_sample"].to_list() == [True, False]
    assert (rows["difference_low"] <= rows["difference"]).all()
    assert (rows["difference"] <= rows["difference_high"]).all()
    assert rows["difference"][1] == 0 and rows["difference_low"][1] < 0 < rows["difference_high"][1]
    p1, p2 = pl.lit(0.5), pl.lit(0.5)
    low, high = newcombe(p1, pl.lit(0.4), pl.lit(0.6), p2, pl.lit(0.4), pl.lit(0.6))
    assert pl.select(low=low, high=high).row(0) == pytest.approx((-0.1414, 0.1414), abs=0.0001)


def test_pooled_retention_chains_each_months_loss_over_the_accounts_at_risk():
    # Cohort A: 10 accounts, 8 left after a month, 6 after two. Cohort B, younger: 10, then 5.
    # Cohort C signed up late in the month: 4 of its 10 accounts reached month 1 (all still
    # customers); the 6 too young are censored, not lost.
    cohorts = pl.DataFrame(
        {
            "group": ["g"] * 7,
            "cohort": ["A", "A", "A", "B", "B", "C", "C"],
            "months_since": [0, 1, 2, 0, 1, 0, 1],
            "accounts": [10, 10, 10, 10, 10, 10, 4],
            "at_risk": [10, 10, 8, 10, 10, 10, 4],
            "retained": [10, 8, 6, 10, 5, 10, 4],
        }
    )
    curve = segments.pooled_retention(cohorts, min_accounts=5)
    assert curve["logo_retention"].to_list() == pytest.approx([1.0, 17 / 24, 17 / 24 * 6 / 8])
    # Month 2 rests on cohort A alone: below 20 accounts the curve stops before it.
    assert segments.pooled_retention(cohorts, min_accounts=20)["months_since"].to_list() == [0, 1]


def test_the_chosen_groups_kpis_are_the_same_narrowed_to_their_members_or_not(warehouse):
    # Segments narrows its KPIs to the chosen groups' accounts only when they are a minority
    # (a list of 10,000 ids costs more than it saves): each KPI is computed group by group, so
    # the chosen groups' rows must not depend on it.
    from polars.testing import assert_frame_equal

    con = db.cursor(db.connect(warehouse))
    for by in ("segment", "cohort_quarter"):  # every account, and the latest few cohorts
        chosen = segments.default_groups(segments.groups(con, by), by)
        members = db.query(con, "q_segment_members", by=by, groups=chosen, account_ids=None)
        ids = members["account_id"].to_list()
        for name in segments._KPIS.values():
            narrowed = metrics.run(con, name, account_ids=ids, by=by)
            whole = metrics.run(con, name, by=by).filter(pl.col("group").is_in(chosen))
            assert not narrowed.is_empty(), (by, name)
            assert_frame_equal(narrowed, whole)
        cmp = segments.compare(con, by, chosen)
        assert cmp.summary["group"].to_list() == chosen


# Thin data: only accounts and events --------------------------------------------------------


@pytest.fixture(scope="module")
def thin_warehouse(demo_folder, tmp_path_factory):
    """The small demo with every optional table removed: only accounts and events loaded."""
    from health.ingest.loader import load
    from health.pipeline.refresh import refresh

    folder = tmp_path_factory.mktemp("thin") / "data"
    folder.mkdir()
    for file in demo_folder.iterdir():
        if file.name.split(".")[0] in ("accounts", "events"):
            shutil.copy(file, folder / file.name)
    path = folder.parent / "thin.duckdb"
    load(folder, path)
    refresh(path)
    return path


@pytest.mark.parametrize("file", PRODUCT_PAGES)
def test_pages_work_on_accounts_and_events_alone_and_say_what_is_missing(
    thin_warehouse, monkeypatch, file
):
    monkeypatch.setenv("HEALTH_DB", str(thin_warehouse))
    at = open_page(file)
    assert at.title[0].value == TITLES[file]
    assert at.get("plotly_chart"), "the page should still chart what it can"
    words = said(at)
    if file == "pages/features.py":
        assert "no subscriptions are loaded" in words
        forest = chart(at, "Early feature use and outcomes")
        assert {t["name"] for t in forest["data"]} == {"Still a customer 180 days after signup"}
    elif file == "pages/journey.py":
        assert "no subscriptions" in words and "no surveys" in words
        assert "no touchpoints" in words
    else:
        assert "no subscriptions" in words


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory):
    """Three accounts with no segment, plan or region and a few days of events."""
    from health.ingest.loader import load
    from health.pipeline.refresh import refresh
    from tests.folders import make_folder

    root = tmp_path_factory.mktemp("tiny")
    path = root / "tiny.duckdb"
    load(make_folder(root), path)
    refresh(path)
    return path


@pytest.mark.parametrize("file", PRODUCT_PAGES)
def test_pages_on_three_accounts_without_segments_explain_instead_of_failing(
    tiny_warehouse, monkeypatch, file
):
    monkeypatch.setenv("HEALTH_DB", str(tiny_warehouse))
    at = open_page(file)
    assert at.title[0].value == TITLES[file]
    words = said(at)
    if file == "pages/segments.py":
        assert "Every account here has the same segment" in words
    elif file == "pages/features.py":
        assert "none can be judged on retention yet" in words
    else:
        assert "no subscriptions" in words


@pytest.mark.parametrize("file", PRODUCT_PAGES)
def test_pages_say_what_to_load_when_nothing_is_refreshed(tmp_path, monkeypatch, file):
    from health.ingest.loader import _ensure_schema

    path = tmp_path / "empty.duckdb"
    with db.writing(path) as con:
        _ensure_schema(con)
    monkeypatch.setenv("HEALTH_DB", str(path))
    at = open_page(file)
    assert any("Load a data folder" in i.value for i in at.info)
