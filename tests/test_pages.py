"""Every page runs on the demo warehouse and shows numbers that match the database."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from health import db
from health.app import jobs
from health.db import copy as copy_database
from pages import PAGES
from tests.conftest import APP_DIR


def open_page(file: str) -> AppTest:
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60).run()
    assert not at.exception
    at.switch_page(file).run()
    return at


@pytest.mark.parametrize("spec", PAGES, ids=[p.title for p in PAGES])
def test_every_page_runs_without_error(app_db, spec):
    at = open_page(spec.file)
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == spec.title


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_accounts_page_counts_active_accounts_and_their_arr(app_db):
    con = db.connect(app_db)
    n, arr = con.execute(
        "SELECT count(*), sum(arr) FROM mart_account_overview WHERE is_active"
    ).fetchall()[0]
    at = open_page("pages/accounts.py")
    assert _metric(at, "Accounts") == f"{n:,}"
    assert _metric(at, "ARR") == f"${arr:,.0f}"
    assert at.dataframe[0].value.shape[0] == n


def test_accounts_page_filters_by_segment(app_db):
    con = db.connect(app_db)
    segment, n = con.execute(
        "SELECT segment, count(*) FROM mart_account_overview WHERE is_active "
        "GROUP BY ALL ORDER BY 2 DESC LIMIT 1"
    ).fetchall()[0]
    at = open_page("pages/accounts.py")
    at.multiselect(key="acc_segment").select(segment).run()
    assert _metric(at, "Accounts") == f"{n:,}"
    assert set(at.dataframe[0].value["segment"]) == {segment}


def test_accounts_page_chart_shows_weekly_events(app_db):
    con = db.connect(app_db)
    last_week = con.execute(
        "SELECT sum(w.events) FROM int_account_weeks AS w JOIN mart_account_overview AS o "
        "USING (account_id) WHERE o.is_active AND w.week_end = (SELECT as_of FROM params)"
    ).fetchall()[0][0]
    at = open_page("pages/accounts.py")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    bars = next(t for t in spec["data"] if t["type"] == "bar")
    assert bars["y"][-1] == last_week
    assert spec["layout"]["title"]["text"] == "Product activity per week"


def test_data_page_shows_row_counts_and_rejects(app_db):
    con = db.connect(app_db, events=True)  # the test counts them; the page reads event_days
    events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    at = open_page("pages/data.py")
    tables = at.dataframe[0].value
    assert int(tables.loc[tables["table"] == "events", "rows"].iloc[0]) == events
    assert _metric(at, "As of") == str(
        con.execute("SELECT value FROM meta WHERE key = 'as_of'").fetchall()[0][0]
    )
    assert _metric(at, "Mapped with") == "none"  # the demo is in the contract's shape


def test_pages_say_what_to_load_when_there_is_no_data(tmp_path, monkeypatch):
    # An empty but valid database: loaded accounts and events with no rows, never refreshed.
    from health.ingest.loader import _ensure_schema

    path = tmp_path / "empty.duckdb"
    with db.writing(path) as con:
        _ensure_schema(con)
    monkeypatch.setenv("HEALTH_DB", str(path))
    at = open_page("pages/accounts.py")
    assert not at.exception
    assert any("Load a data folder" in i.value for i in at.info)


def test_data_page_lists_each_rejected_row_with_its_reason(tmp_path, monkeypatch):
    from health.ingest.loader import load
    from health.pipeline.refresh import refresh
    from tests.folders import EVENTS, make_folder

    bad = {"account_id": "A9", "event_time": "2024-03-04T09:00:00", "event": "login"}
    folder = make_folder(tmp_path, events=[*EVENTS, bad])
    path = tmp_path / "dirty.duckdb"
    load(folder, path)
    refresh(path)
    monkeypatch.setenv("HEALTH_DB", str(path))
    at = open_page("pages/data.py")
    rejected = at.dataframe[1].value
    assert list(rejected["reason"]) == ["account_id 'A9' is not in accounts"]
    assert list(rejected["line"]) == [6]  # header + 4 good rows before it


def test_data_page_recomputes_everything_as_of_an_earlier_date(warehouse, tmp_path, monkeypatch):
    import datetime as dt

    path = tmp_path / "copy.duckdb"
    copy_database(warehouse, path)
    monkeypatch.setenv("HEALTH_DB", str(path))
    earlier = dt.date.fromisoformat(
        db.connect(path).execute("SELECT value FROM meta WHERE key = 'as_of'").fetchall()[0][0]
    ) - dt.timedelta(days=30)
    at = open_page("pages/data.py")
    at.date_input[0].set_value(earlier)
    next(b for b in at.button if b.label == "Recompute").click().run()
    assert not at.exception
    (bar,) = at.get("progress")  # the job's progress, while it runs in the server
    assert bar.proto.text.startswith(f"Recomputing as of {earlier}")
    # drawn under the page's facts, above the tables, and a toast says so by the button
    blocks = [type(e).__name__ for e in at.main]
    assert blocks.index("Progress") < blocks.index("Dataframe")
    assert "progress is at the top" in at.toast[0].value
    jobs.holder().thread.join(timeout=120)  # a job in the server, as the first run's build
    at.run()
    assert [s.label.split(" (")[0] for s in at.status] == [f"Recomputed as of {earlier}"]
    con = db.connect(path, events=True)  # stg_events reads the events store
    assert con.execute("SELECT as_of FROM params").fetchall()[0][0] == earlier
    latest = con.execute("SELECT max(event_time)::DATE FROM stg_events").fetchall()[0][0]
    assert latest <= earlier  # nothing after the as-of date is seen


def test_a_recompute_goes_on_when_the_user_leaves_and_runs_one_at_a_time(app_db, monkeypatch):
    # A stand-in refresh held half-way: the user leaves the Data page, comes back, clicks again.
    import datetime as dt
    import threading

    from health.pipeline import refresh as pipeline

    calls, go_on = [], threading.Event()

    def held(path=None, as_of=None, progress=None, check_range=False):
        calls.append(as_of)
        progress("stg_accounts")
        go_on.wait(timeout=60)
        return as_of

    monkeypatch.setattr(pipeline, "refresh", held)
    at = open_page("pages/data.py")
    earlier = at.date_input[0].value - dt.timedelta(days=7)
    at.date_input[0].set_value(earlier)
    next(b for b in at.button if b.label == "Recompute").click().run()
    at.switch_page("pages/accounts.py").run()
    assert not at.exception and at.title[0].value == "Accounts"  # the old data serves meanwhile
    at.switch_page("pages/data.py").run()
    (bar,) = at.get("progress")
    assert bar.proto.text.startswith(f"Recomputing as of {earlier}") and bar.proto.value > 0
    next(b for b in at.button if b.label == "Recompute").click().run()
    assert any("still running" in w.value for w in at.warning)
    assert calls == [earlier]  # one at a time: the second click started nothing
    go_on.set()
    jobs.holder().thread.join(timeout=60)
    at.run()
    assert not at.get("progress") and not at.exception


def test_global_sidebar_filters_narrow_every_page(app_db):
    con = db.connect(app_db)
    segment, n = con.execute(
        "SELECT segment, count(*) FROM mart_account_overview WHERE is_active "
        "GROUP BY ALL ORDER BY 2 LIMIT 1"
    ).fetchall()[0]
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60).run()
    at.sidebar.multiselect(key="f_segment").select(segment).run()
    at.switch_page("pages/accounts.py").run()
    assert _metric(at, "Accounts") == f"{n:,}"  # kept across the page switch
    at.switch_page("pages/my_accounts.py").run()
    assert set(at.dataframe[0].value["segment"]) == {segment}


@pytest.fixture(scope="module")
def bare_warehouse(demo_folder, tmp_path_factory):
    """The demo with only the two required tables: accounts and events."""
    import shutil

    from health.ingest.loader import load
    from health.pipeline.refresh import refresh

    folder = tmp_path_factory.mktemp("bare") / "data"
    folder.mkdir()
    for name in ("accounts.csv", "events.parquet"):
        shutil.copy(demo_folder / name, folder / name)
    path = folder.parent / "bare.duckdb"
    load(folder, path)
    refresh(path)
    return path


@pytest.mark.parametrize("spec", PAGES, ids=[p.title for p in PAGES])
def test_every_page_works_with_only_accounts_and_events(bare_warehouse, spec, monkeypatch):
    monkeypatch.setenv("HEALTH_DB", str(bare_warehouse))
    at = open_page(spec.file)
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value


def test_the_account_page_works_with_only_accounts_and_events(bare_warehouse, monkeypatch):
    monkeypatch.setenv("HEALTH_DB", str(bare_warehouse))
    con = db.connect(bare_warehouse)
    account_id = con.execute(
        "SELECT account_id FROM mart_account_health ORDER BY churn_risk DESC LIMIT 1"
    ).fetchall()[0][0]
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60).run()
    at.query_params["account"] = account_id
    at.switch_page("pages/account.py").run()
    assert not at.exception and not at.error
    assert any("No tickets recorded" in c.value for c in at.caption)


def test_the_first_run_builds_once_while_the_user_clicks_around_and_then_shows_the_page(
    warehouse, tmp_path, monkeypatch
):
    # A fresh clone: no database. The build itself is the demo's (tested in test_demo and by
    # the browser test's fresh server); here a copy of the test warehouse stands in for it,
    # held half-way until the user has clicked to two other pages.
    import threading

    from health.pipeline import bootstrap

    path, built, go_on = tmp_path / "first.duckdb", [], threading.Event()

    def build(target, progress):
        built.append(target)
        progress("Loading the demo data")
        go_on.wait(timeout=60)
        copy_database(warehouse, target)
        return True

    monkeypatch.setattr(bootstrap, "ensure_database", build)
    monkeypatch.setenv("HEALTH_DB", str(path))
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60).run()
    for page in ("pages/accounts.py", "pages/segments.py"):  # every page waits for the build
        assert not at.exception and not at.error
        (bar,) = at.get("progress")
        assert bar.proto.text.startswith("First run: building the demo database")
        assert not at.title  # the page itself is not run without its data
        at.switch_page(page).run()
    other = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60).run()  # a 2nd visitor
    assert other.get("progress") and not other.exception
    assert built == [path]  # one build, whoever asks and whatever they click

    go_on.set()
    jobs.holder().thread.join(timeout=60)
    for again in (at.run(), other.run()):
        assert not again.exception and not again.error
        assert not again.get("progress")
    assert at.title[0].value == "Segments"  # the page the user clicked last
    assert other.title[0].value == "My accounts"
    assert built == [path]


def test_a_failed_first_run_build_says_so_and_tries_again_on_request(tmp_path, monkeypatch):
    from health.pipeline import bootstrap

    tries = []

    def broken(target, progress):
        tries.append(target)
        raise OSError("disk full")

    monkeypatch.setattr(bootstrap, "ensure_database", broken)
    monkeypatch.setenv("HEALTH_DB", str(tmp_path / "first.duckdb"))
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60).run()
    jobs.holder().thread.join(timeout=30)
    at.run()
    assert not at.exception
    assert "could not be built" in at.error[0].value and not at.get("progress")
    assert len(tries) == 1  # no loop of builds: the next try is the user's
    next(b for b in at.button if b.label == "Try again").click().run()
    jobs.holder().thread.join(timeout=30)
    assert len(tries) == 2 and not at.exception


def test_a_first_run_build_stopped_half_way_leaves_no_database_and_builds_again(
    demo_folder, tmp_path, monkeypatch
):
    # A click that reruns the page (or a killed server) stops the build between the load and
    # the refresh: no database without scores may be left for every later start to open.
    from health.pipeline import bootstrap, refresh

    monkeypatch.setattr(bootstrap, "DEMO_FOLDER", demo_folder)
    path = tmp_path / "health.duckdb"

    def stopped(*_args, **_kwargs):
        raise RuntimeError("stopped by a rerun")

    with monkeypatch.context() as patch:
        patch.setattr(refresh, "refresh", stopped)
        with pytest.raises(RuntimeError):
            bootstrap.ensure_database(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == []

    assert bootstrap.ensure_database(path)
    con = db.connect(path, events=True)  # the events store came along with the database
    try:
        assert con.execute("select count(*) from mart_account_health").fetchone()[0] > 0
        assert con.execute("select count(*) from events").fetchone()[0] > 0
    finally:
        con.close()
    assert not bootstrap.ensure_database(path)
