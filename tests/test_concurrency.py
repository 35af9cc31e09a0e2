"""The app keeps serving the last good data while a refresh runs in another process."""

from __future__ import annotations

import subprocess
import sys
import time

from health import db
from health.db import copy as copy_database
from tests.conftest import APP_DIR


def test_reads_never_fail_while_a_refresh_swaps_the_database(warehouse, tmp_path):
    path = tmp_path / "live.duckdb"
    copy_database(warehouse, path)
    reader = db.connect(path)  # the app's long-lived connection
    refresh = subprocess.Popen(
        [sys.executable, "-m", "health", "refresh", "--db", str(path), "--as-of", "2026-09-30"],
        cwd=APP_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    reads = 0
    while refresh.poll() is None:
        cur = db.cursor(reader)
        assert cur.execute("SELECT count(*) FROM mart_account_overview").fetchall()[0][0] > 0
        fresh = db.connect(path)  # a new session opening the app mid-refresh
        assert fresh.execute("SELECT count(*) FROM accounts").fetchall()[0][0] > 0
        fresh.close()
        reads += 1
        time.sleep(0.05)
    assert refresh.returncode == 0, refresh.stderr.read().decode()
    assert reads > 5  # the refresh really ran alongside the reads
    after = db.connect(path)  # a session opened after the swap sees the new data
    assert after.execute("SELECT as_of FROM params").fetchall()[0][0].isoformat() == "2026-09-30"
    old = db.cursor(reader).execute("SELECT as_of FROM params").fetchall()[0][0]
    assert old.isoformat() != "2026-09-30"  # the old connection still answers from its snapshot
