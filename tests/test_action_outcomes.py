"""Did it work: actions done against comparable triggers left alone, and a random holdout."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from health import db
from health.actions import log as action_log
from health.actions import outcomes
from health.actions import suggest as actions
from health.db import catalog
from health.db import copy as copy_database
from health.pipeline.refresh import run_steps

STEP = ["actions.suggest:refresh_actions"]


@pytest.fixture
def copy(warehouse, tmp_path):
    """The session's demo warehouse, copied so that this test may refresh and log into it."""
    path = tmp_path / "health.duckdb"
    copy_database(warehouse, path)
    return path


def _refresh_actions(path, holdout: float = 0.0, monkeypatch=None, days_before: int = 0):
    if monkeypatch is not None:
        book = actions.playbooks()
        for entry in book["playbooks"].values():
            entry["holdout"] = holdout
        monkeypatch.setattr(actions, "playbooks", lambda: book)
    with db.writing(path) as con:
        run_steps(con, _as_of(con) - dt.timedelta(days=days_before), STEP)


def _as_of(con):
    return dt.date.fromisoformat(catalog.meta(con)["as_of"])


def test_done_actions_are_compared_with_the_same_triggers_left_alone(copy):
    log = action_log.log_path(copy)
    con = db.connect(copy)
    try:
        every = db.run(con, "select action_id, account_id, reason from mart_actions")
        # A CSM did every other action of the demo's past (simulated); the rest were left alone.
        for row in every.sort("action_id")[::2].iter_rows(named=True):
            action_log.record(log, row["action_id"], row["account_id"], "done", actor="test")
        table = outcomes.did_it_work(con, log, reps=100)
    finally:
        con.close()
    assert tuple(table.columns) == tuple(outcomes.COLUMNS)
    assert not table.is_empty()
    assert set(table["evidence"]) == {outcomes.OBSERVATIONAL}  # no holdout: nothing randomised
    assert table["reading"].str.contains("associated with").all()
    assert (table["low"] <= table["difference"] + 1e-9).all()
    assert (table["difference"] <= table["high"] + 1e-9).all()
    assert ((table["treated_n"] >= 3) & (table["compared_n"] >= 3)).all()
    shares = table.filter(pl.col("outcome").is_in(outcomes.SHARES))
    assert shares["treated"].is_between(0, 1).all() and shares["compared"].is_between(0, 1).all()


def test_a_holdout_keeps_a_random_share_off_every_list_and_is_reported_as_randomised(
    copy, monkeypatch
):
    log = action_log.log_path(copy)
    with db.writing(copy) as con:  # start the queue afresh, as a new product would
        con.execute("drop table mart_actions")
    # Assigned 18 weeks ago, so that what followed is known by the as-of date.
    _refresh_actions(copy, holdout=0.5, monkeypatch=monkeypatch, days_before=126)
    con = db.connect(copy)
    try:
        first = db.run(con, "select action_id, assignment, state from mart_actions")
        today = actions.todays_actions(con, log)
    finally:
        con.close()
    held = first.filter(pl.col("assignment") == "held_out")
    offered = first.filter(pl.col("assignment") == "offered")
    assert held.height > 0 and offered.height > 0
    assert set(held["state"]) == {"held_out"}
    assert not set(held["action_id"]) & set(today["action_id"])  # never on anyone's list
    share = held.height / (held.height + offered.height)
    assert 0.2 < share < 0.8  # a fair coin over this many actions

    # The next refresh keeps every assignment, whatever the setting says by then.
    _refresh_actions(copy, holdout=0.0, monkeypatch=monkeypatch)
    con = db.connect(copy)
    try:
        again = db.run(con, "select action_id, assignment from mart_actions")
        kept = held.join(again, on="action_id")
        assert (kept["assignment_right"] == "held_out").all()
        table = outcomes.did_it_work(con, log, reps=50, min_n=1)
    finally:
        con.close()
    randomised = table.filter(pl.col("evidence") == outcomes.RANDOMISED)
    assert not randomised.is_empty()
    assert randomised["reading"].str.starts_with("offering the action").all()
