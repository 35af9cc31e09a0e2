"""The database door: a reader sees a new database as soon as a writer swaps it in."""

from __future__ import annotations

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
