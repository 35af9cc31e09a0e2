"""The action log: CSMs' statuses survive refreshes, concurrent writers, hostile notes."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading

import polars as pl
import pytest
from typer.testing import CliRunner

from health import db
from health.actions import log as action_log
from health.actions import report as actions_report
from health.actions import suggest as actions
from health.cli import app
from tests.conftest import APP_DIR
from tests.test_actions import AS_OF, CSM, World, ago, one

WRITERS, ENTRIES = 8, 25
# A separate process that writes ENTRIES entries, as a CLI or a second app server would.
WRITER = """
import sys
from health.actions import log as action_log
log, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    action_log.record(log, f"{who}-{i}", "A1", "done", note=f"{who} {i}", actor=who)
"""


@pytest.fixture
def world(tmp_path) -> World:
    """An empty world."""
    return World(tmp_path / "health.duckdb")


def test_the_log_sits_beside_the_warehouse(tmp_path):
    assert action_log.log_path(tmp_path / "data" / "health.duckdb") == (
        tmp_path / "data" / "health.actions.duckdb"
    )


def test_eight_processes_and_eight_threads_writing_at_once_lose_nothing(tmp_path):
    log = tmp_path / "health.actions.duckdb"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(log), f"p{k}", str(ENTRIES)], cwd=APP_DIR
        )
        for k in range(WRITERS)
    ]
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            for i in range(ENTRIES):
                action_log.record(log, f"t{k}-{i}", "A1", "done", note=f"t{k} {i}", actor=f"t{k}")
                if i % 5 == 0:
                    action_log.statuses(log)  # readers in between, like the app's pages
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.wait(timeout=120) for p in procs] == [0] * WRITERS
    assert not errors, errors

    entries = action_log.history(log)
    expected = {f"{w}{k}-{i}" for w in "pt" for k in range(WRITERS) for i in range(ENTRIES)}
    assert entries.height == 2 * WRITERS * ENTRIES
    assert set(entries["action_id"]) == expected
    assert entries["entry"].n_unique() == entries.height


def test_a_hostile_note_is_stored_verbatim(tmp_path):
    log = tmp_path / "health.actions.duckdb"
    hostile = '\'); DROP TABLE action_log;--\n"quoted" $account_id ? {evidence} émoji ✓'
    action_log.record(log, "x1", "A1", "done", note=hostile, outcome="'; --", actor="O'Brien")
    action_log.record(log, "x2", "A1", "open")

    entries = action_log.history(log)
    assert entries.height == 2
    stored = one(entries, action_id="x1")
    assert (stored["note"], stored["outcome"], stored["actor"]) == (hostile, "'; --", "O'Brien")


def test_the_log_refuses_what_it_cannot_mean(tmp_path):
    log = tmp_path / "health.actions.duckdb"
    with pytest.raises(action_log.LogError, match="status must be one of"):
        action_log.record(log, "x1", "A1", "closed")
    with pytest.raises(action_log.LogError, match="snooze_until"):
        action_log.record(log, "x1", "A1", "snoozed")
    assert action_log.statuses(log).is_empty()


def test_statuses_survive_a_refresh_and_the_latest_one_wins(world):
    for n in range(3):
        world.account(f"A{n}")
        world.moment(f"A{n}", "engagement_drop")
    world.refresh()
    first, second, third = world.today().sort("account_id")["action_id"]
    action_log.record(world.log, first, "A0", "done", note="called them", outcome="improved")
    action_log.record(world.log, second, "A1", "dismissed")
    action_log.record(world.log, second, "A1", "open", note="reopened")
    action_log.record(world.log, third, "A2", "snoozed", snooze_until=AS_OF + dt.timedelta(days=2))
    before = world.log.stat()

    world.refresh()  # the warehouse is rebuilt and swapped; the log beside it is not touched
    after = world.log.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert world.today()["action_id"].to_list() == [second]
    states = dict(world.mart().select("action_id", "state").iter_rows())
    assert states == {first: "done", second: "listed", third: "snoozed"}

    world.refresh(AS_OF + dt.timedelta(days=2))  # the snooze is over: back on the list
    assert sorted(world.today()["action_id"]) == sorted([second, third])


def test_the_actions_command_writes_todays_list_and_filters_by_owner(world, tmp_path):
    for n in range(7):
        world.account(f"A{n}", arr=10_000.0 * (n + 1))
        world.moment(f"A{n}", "champion_left")
    world.account("B1", owner="Bea Costa")
    world.ticket("B1", ago(4))
    world.refresh()
    runner = CliRunner()

    out = tmp_path / "all.csv"
    result = runner.invoke(app, ["actions", "--db", str(world.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    listed = pl.read_csv(out)
    assert tuple(listed.columns) == actions.LIST_COLUMNS
    assert listed.height == 6 and "Wrote 6 open actions" in result.output
    # Worked in order of what is at stake: each owner's list numbered from 1, whole dollars.
    assert listed["dollars_at_stake"].to_list() == sorted(listed["dollars_at_stake"], reverse=True)
    assert listed["dollars_at_stake"].dtype == pl.Int64 and listed["dollars_at_stake"].min() > 0
    for _, mine in listed.group_by("owner"):
        assert mine["rank_for_owner"].to_list() == list(range(1, mine.height + 1))

    out = tmp_path / "ana.csv"
    args = ["actions", "--db", str(world.path), "--owner", CSM, "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    mine = pl.read_csv(out)
    assert set(mine["owner"]) == {CSM} and mine.height == 5
    assert mine["account_id"].to_list() == ["A6", "A5", "A4", "A3", "A2"]

    args = ["actions", "--db", str(world.path), "--owner", "Nobody", "--out", str(out)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "Nobody" in refused.output


def test_health_after_actions_compares_done_with_not_done(world):
    world.account("DONE")
    world.account("LEFT")
    for account_id in ("DONE", "LEFT"):
        world.moment(account_id, "engagement_drop", detected=ago(70), started=ago(80))
    # health 40 when the trigger came; +15 for the account that was helped, +2 for the other
    for row in world.rows["mart_health_history"]:
        weeks_ago = (AS_OF - row["week_end"]).days // 7
        lift = 15 if row["account_id"] == "DONE" else 2
        row["health_score"] = 40.0 + (lift if weeks_ago <= 6 else 0)
    world.refresh(ago(69))
    action = one(world.today(), account_id="DONE")
    action_log.record(world.log, action["action_id"], "DONE", "done", as_of=ago(69))
    world.refresh()

    con = db.connect(world.path)
    try:
        report = actions_report.health_after_actions(con, world.log)
    finally:
        con.close()
    done = one(report, reason_kind="crisis", group=actions_report.ACTED)
    left = one(report, reason_kind="crisis", group=actions_report.NOT_ACTED)
    assert (done["n_4w"], done["mean_change_4w"], done["share_improved_4w"]) == (1, 15.0, 1.0)
    assert (left["n_4w"], left["mean_change_4w"]) == (1, 2.0)
    assert done["n_8w"] == 1 and done["mean_change_8w"] == 15.0
