"""Steps beside the others (health/pipeline/refresh.py BESIDE): the moments in a thread of their
own build what the refresh in order builds, and a failure on either side publishes nothing."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from health import db
from health.cli import app
from health.moments import detect, memo
from health.pipeline import refresh as pipeline
from health.scoring import step as scoring_step
from tests.test_event_store import digest
from tests.test_load_safety import temp_copies
from tests.test_refresh_weeks import _copy, _differences


def _memo(path: Path) -> set[tuple[str, str]]:
    con = duckdb.connect(str(path), read_only=True)
    rows = set(con.execute(f"select name, key from {memo.TABLE}").fetchall())
    con.close()
    return rows


def _card(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    card = json.loads(con.execute("select card from model_card").fetchone()[0])
    con.close()
    card.pop("trained_at")  # the clock when each trained: not a result
    return card


def _same(a: Path, b: Path) -> None:
    differences = _differences(a, b)
    differences.pop("model_card", None)
    assert differences == {}
    assert _card(a) == _card(b)
    assert _actions(a) == _actions(b)
    assert _memo(a) == _memo(b)


def _actions(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute("select * from mart_actions order by all").fetchall()
    con.close()
    return rows


@pytest.fixture(scope="module")
def both(warehouse, tmp_path_factory) -> tuple[Path, Path, dt.date]:
    """The demo refreshed in full twice, in order and with the moments beside (two folders)."""
    root = tmp_path_factory.mktemp("beside")
    paths = []
    for name in ("in_order", "beside"):
        (root / name).mkdir()
        paths.append(_copy(warehouse, root / name / "health.duckdb"))
    con = db.connect(paths[0], events=True)
    last = con.execute("select max(event_time)::date from events").fetchone()[0]
    con.close()
    as_of = last - dt.timedelta(days=3)
    for path, concurrent in zip(paths, (False, True), strict=True):
        pipeline.refresh(path, as_of, full=True, concurrent=concurrent)
    return paths[0], paths[1], as_of


def test_the_moments_beside_build_what_the_steps_in_order_build(both):
    in_order, beside, as_of = both
    _same(in_order, beside)
    # and the next day, incrementally (the moments' kept rows, people rollups and memo)
    for path, concurrent in ((in_order, False), (beside, True)):
        pipeline.refresh(path, as_of + dt.timedelta(days=1), concurrent=concurrent)
    _same(in_order, beside)


def test_progress_names_every_step_once_in_order_and_the_step_beside_twice(both, tmp_path):
    _, beside, as_of = both
    copy = _copy(beside, tmp_path / "health.duckdb")
    seen, runs = [], []
    pipeline.refresh(
        copy,
        as_of,
        progress=seen.append,
        beside=lambda run: runs.append((run.name, run.after, run.done, run.wall)),
    )
    assert seen == [s.split(":")[-1] for s in pipeline.STEPS] + ["publish"]
    (started, ended) = runs
    assert started[:3] == ("refresh_moments", detect.READS, False)
    assert ended[:3] == ("refresh_moments", detect.READS, True) and ended[3] > 0


def _moments_thread() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "refresh-refresh_moments"]


def test_a_step_beside_that_fails_fails_the_refresh_and_publishes_nothing(
    both, tmp_path, monkeypatch
):
    _, beside, as_of = both
    copy = _copy(beside, tmp_path / "health.duckdb")
    before = {p: digest(p) for p in (copy, db.store.path_for(copy))}

    def half_then_crash(con, as_of):
        detect.build_inputs(con)  # its tables half rebuilt, then
        raise RuntimeError("detector crashed (simulated)")

    monkeypatch.setattr(detect, "refresh_moments", half_then_crash)
    with pytest.raises(RuntimeError, match="simulated"):
        pipeline.refresh(copy, as_of)
    assert {p: digest(p) for p in before} == before
    assert temp_copies(copy) == []
    assert _moments_thread() == []


def test_a_step_that_fails_while_one_runs_beside_stops_it_and_publishes_nothing(
    both, tmp_path, monkeypatch
):
    _, beside, as_of = both
    copy = _copy(beside, tmp_path / "health.duckdb")
    before = {p: digest(p) for p in (copy, db.store.path_for(copy))}
    moments_started = threading.Event()
    real = detect.refresh_moments

    def noted(con, as_of):
        moments_started.set()
        real(con, as_of)

    def crash(con, as_of):
        assert moments_started.wait(60)  # the moments run beside meanwhile
        raise RuntimeError("scoring crashed (simulated)")

    monkeypatch.setattr(detect, "refresh_moments", noted)
    monkeypatch.setattr(scoring_step, "refresh_scores", crash)
    with pytest.raises(RuntimeError, match="simulated"):
        pipeline.refresh(copy, as_of)
    assert _moments_thread() == []  # waited for before the work copy went
    assert {p: digest(p) for p in before} == before
    assert temp_copies(copy) == []


def test_the_profile_holds_the_step_beside_with_its_own_seconds(both, tmp_path):
    _, beside, as_of = both
    copy = _copy(beside, tmp_path / "health.duckdb")
    profile = tmp_path / "profile.json"
    args = ["refresh", "--db", str(copy), "--as-of", str(as_of), "--profile", str(profile)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "refresh_moments started" in result.output
    assert "refresh_moments done" in result.output
    report = json.loads(profile.read_text())
    own = report["beside"]["refresh_moments"]
    assert own["after"] == detect.READS and own["wall"] > 0 and own["cpu"] >= 0
    assert "refresh_moments" in report["steps"]  # the wait for it, in its place
    assert sum(report["steps"].values()) == pytest.approx(report["total"], abs=0.05)


def test_moments_start_after_every_table_they_read():
    """The moments' thread starts once the last refresh table they read is built (detect.READS:
    int_moment_weeks takes its weeks' counts from int_account_weeks), not before."""
    start = pipeline.BESIDE["moments.detect:refresh_moments"]
    assert pipeline.STEPS.index(start) >= pipeline.STEPS.index(detect.READS)


def test_past_the_account_weeks_limit_the_moments_run_in_order(both, tmp_path, monkeypatch):
    """More account-weeks than BESIDE_MAX_ACCOUNT_WEEKS: no thread, the moments at their place,
    and the same tables as in order."""
    _, beside, as_of = both
    copy = _copy(beside, tmp_path / "health.duckdb")
    (tmp_path / "in_order").mkdir()
    in_order = _copy(beside, tmp_path / "in_order" / "health.duckdb")
    pipeline.refresh(in_order, as_of, full=True, concurrent=False)
    con = db.connect(copy, events=True)
    rows = con.execute("select count(*) from int_account_weeks").fetchone()[0]
    assert pipeline.room_beside(con)  # the demo fits
    monkeypatch.setattr(pipeline, "BESIDE_MAX_ACCOUNT_WEEKS", rows - 1)
    assert not pipeline.room_beside(con)
    con.close()
    runs = []
    pipeline.refresh(copy, as_of, full=True, beside=runs.append)
    assert runs == []
    _same(in_order, copy)
