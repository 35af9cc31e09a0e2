"""Did it work, on the demo: CSMs simulated over 9 months, a 20 % holdout, the Playbooks table.

Builds the demo company, refreshes it as of its latest day, then replays the actions step every
two weeks from 9 months before: each time, the simulated CSMs mark 70 % of what is listed done
(the rest dismissed), at random with a fixed seed, and every playbook holds back 20 % of its new
actions. Prints the Playbooks page's table. The demo plants no effect of actions on outcomes, so
an honest method finds differences near zero, inside their intervals, for the randomised rows.

    .venv/bin/python bench/did_it_work.py [--accounts 600] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from health import db  # noqa: E402
from health.actions import log as action_log  # noqa: E402
from health.actions import outcomes  # noqa: E402
from health.actions import suggest as actions  # noqa: E402
from health.db import catalog  # noqa: E402
from health.demo import generate  # noqa: E402
from health.ingest.loader import load  # noqa: E402
from health.pipeline.refresh import refresh, run_steps  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=600)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--holdout", type=float, default=0.2)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="did-it-work-"))
    folder, path = work / "demo-data", work / "health.duckdb"
    generate(folder, profile="demo", n_accounts=args.accounts)
    load(folder, path)
    as_of = refresh(path)
    book = actions.playbooks()
    for entry in book["playbooks"].values():
        entry["holdout"] = args.holdout
    actions.playbooks = lambda: book  # every playbook holds back a share of its new actions
    log, rng = action_log.log_path(path), np.random.default_rng(7)
    with db.writing(path) as con:
        con.execute("DROP TABLE mart_actions")  # the product starts in use 9 months back
    for day in pl.date_range(as_of - dt.timedelta(days=270), as_of, "14d", eager=True):
        with db.writing(path) as con:
            run_steps(con, day, ["actions.suggest:refresh_actions"])
            listed = actions.todays_actions(con, log)
        for row in listed.iter_rows(named=True):
            status = "done" if rng.random() < 0.7 else "dismissed"
            action_log.record(log, row["action_id"], row["account_id"], status, as_of=day)
    with db.writing(path) as con:
        run_steps(con, as_of, ["actions.suggest:refresh_actions"])
    con = db.connect(path)
    try:
        states = db.run(
            con, "select assignment, state, count(*) as n from mart_actions group by all"
        )
        table = outcomes.did_it_work(con, log)
        print(f"as of {catalog.meta(con)['as_of']}; actions by assignment and state:")
    finally:
        con.close()
    with pl.Config(
        tbl_rows=100, tbl_width_chars=200, fmt_str_lengths=60, tbl_hide_dataframe_shape=True
    ):
        print(states.sort("assignment", "state"))
        print(table.drop("outcome", "reading"))


if __name__ == "__main__":
    main()
