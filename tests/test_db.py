"""The database door: a reader sees a new database as soon as a writer swaps it in."""

from __future__ import annotations

import json

import polars as pl

from health import db


def _publish(path, value: int) -> None:
    with db.writing(path) as con:
        con.execute("CREATE OR REPLACE TABLE t AS SELECT ?::INTEGER AS v", [value])


def test_a_reader_in_the_same_process_sees_the_swapped_in_database(tmp_path):
    path = tmp_path / "w.duckdb"
    _publish(path, 1)
    old = db.connect(path)  # stays open, as the app's cached connection does
    _publish(path, 2)
    new = db.connect(path)
    assert old.execute("SELECT v FROM t").fetchall() == [(1,)]  # keeps serving its snapshot
    assert new.execute("SELECT v FROM t").fetchall() == [(2,)]


def test_cursors_read_the_attached_database(tmp_path):
    path = tmp_path / "w.duckdb"
    _publish(path, 7)
    cur = db.cursor(db.connect(path))
    assert db.run(cur, "SELECT v FROM t")["v"].to_list() == [7]


def test_a_failed_write_publishes_nothing(tmp_path):
    path = tmp_path / "w.duckdb"
    _publish(path, 1)
    try:
        with db.writing(path) as con:
            con.execute("CREATE OR REPLACE TABLE t AS SELECT 2 AS v")
            raise RuntimeError("killed midway")
    except RuntimeError:
        pass
    assert db.connect(path).execute("SELECT v FROM t").fetchall() == [(1,)]
    assert not list(tmp_path.glob("w.duckdb.tmp-*"))


def test_cursors_opened_from_many_threads_at_once_all_read_the_database(tmp_path):
    # Every browser session is a thread; two that open a page at the same moment each take a
    # cursor on the one cached connection (before: 186 of 240 reads failed with 6 threads).
    import threading

    path = tmp_path / "w.duckdb"
    _publish(path, 3)
    shared, failures = db.connect(path), []

    def session():
        for _ in range(40):
            try:
                cur = db.cursor(shared)
                assert cur.execute("SELECT v FROM t").fetchall() == [(3,)]
                cur.close()
            except Exception as exc:  # noqa: BLE001 - counted, then asserted on
                failures.append(type(exc).__name__)

    threads = [threading.Thread(target=session) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def _joins(node: dict):
    """(operator, its join conditions) for every join in a DuckDB JSON plan."""
    if "JOIN" in node.get("name", "") or node.get("name") == "CROSS_PRODUCT":
        yield node["name"], str(node.get("extra_info", {}).get("Conditions", ""))
    for child in node.get("children", []):
        yield from _joins(child)


def test_a_reader_runs_the_playbooks_outcome_query_on_joins_by_account_not_nested_loops(
    warehouse,
):
    # With a few rows expected on the left, DuckDB would compare every action with every week
    # in a nested loop; each episode must meet its account's weeks through the account's key.
    con = db.connect(warehouse)
    none_done = pl.DataFrame({"action_id": []}, schema={"action_id": pl.String})
    for session in (con, db.cursor(con)):  # the app's pages query through cursors
        with db.registered(session, "done_actions", none_done):
            text = "EXPLAIN (FORMAT json) " + db.sql("q_action_outcomes")
            plan = json.loads(session.execute(text).fetchall()[0][1])
        joins = [j for tree in plan for j in _joins(tree)]
        loops = [cond for name, cond in joins if name == "NESTED_LOOP_JOIN"]
        # the only loops allowed are against the one-row as-of date (a scalar subquery)
        assert all("SUBQUERY" in cond and "account_id" not in cond for cond in loops), loops
        by_account = [c for n, c in joins if n == "HASH_JOIN" and "week_end" in c]
        assert by_account and all("account_id = account_id" in c for c in by_account)
    con.close()


def test_release_memory_frees_what_duckdb_holds_and_keeps_the_limit_and_the_data(tmp_path):
    with db.writing(tmp_path / "w.duckdb") as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        # ~128 MB held in memory (a temp table is in no file): more than release_memory keeps
        con.execute(
            "CREATE TEMP TABLE kept AS SELECT range * 2 AS v, random() AS x FROM range(8000000)"
        )
        used = "SELECT sum(memory_usage_bytes) FROM duckdb_memory()"
        before = con.execute(used).fetchone()[0]
        db.release_memory(con)
        assert con.execute(used).fetchone()[0] < before
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == limit
        assert con.execute("SELECT count(*), sum(v) FROM kept").fetchone() == (
            8_000_000,
            sum(range(0, 16_000_000, 2)),
        )
