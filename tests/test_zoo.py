"""A data zoo: the shapes of real customers' first loads, each run load -> refresh -> score ->
moments -> actions through the commands, and every output held to the contract."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from health import db
from health.cli import app
from health.demo import generate
from health.demo.shapes import Shape, reshape

SCORE_COLUMNS = ["account_id", "health_score", "churn_risk", "tier", "stage", "drivers"]
MOMENT_COLUMNS = ["account_id", "moment", "kind", "detected_on", "started_on", "severity"]
N = 40  # accounts per folder: every shape, fast

# name: (generator arguments, reshaping)
ZOO: dict[str, tuple[dict, Shape]] = {
    "3 months": ({"months": 3}, Shape()),
    "6 months": ({"months": 6}, Shape()),
    "12 months": ({"months": 12}, Shape()),
    "30 months": ({"months": 30}, Shape()),
    "line items with ids, monthly / half-year / annual": (
        {"months": 12, "addon_share": 0.6, "half_year_share": 0.5},
        Shape(line_ids=True),
    ),
    "accounts and events only": ({"months": 9}, Shape(keep=())),
    "one segment, no optional account columns": ({"months": 9}, Shape(one_segment=True)),
    "single-user accounts": ({"months": 9}, Shape(single_user=True)),
    "a quarter of accounts without events": ({"months": 9}, Shape(silent_share=0.25)),
    "30 event names, no feature column": ({"months": 9}, Shape(event_names=30)),
    "timestamps with offsets": ({"months": 9}, Shape(offsets=True)),
    "no churn yet": ({"months": 9}, Shape(no_churn=True)),
    "everyone churned but one": ({"months": 9}, Shape(churn_all_but_one=True)),
}


def run(*args: str) -> None:
    """A command, in this process; it must exit 0."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (args, result.output, result.exception)


def read_csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> dict[str, dict]:
    """Every shape built and run once; what each run printed and wrote."""
    out = {}
    for k, (name, (kw, shape)) in enumerate(ZOO.items()):
        root = tmp_path_factory.mktemp(f"zoo{k}")
        folder = root / "data"
        generate(folder, n_accounts=N, seed=k, **kw)
        reshape(folder, shape)
        start, base = time.perf_counter(), root / "health.duckdb"
        run("load", str(folder), "--db", str(base))
        run("refresh", "--db", str(base))
        run("actions", "--db", str(base), "--out", str(root / "actions.csv"))
        con = db.connect(base)
        try:  # what `score` and `moments` write, from the same refreshed database
            scores = db.query(con, "q_scores")
            moments = db.query(con, "q_moments")
            as_of = con.execute("select as_of from params").fetchall()[0][0]
        finally:
            con.close()
        out[name] = {
            "folder": folder,
            "scores": scores,
            "moments": moments,
            "as_of": as_of,
            "actions": read_csv(root / "actions.csv"),
            "seconds": time.perf_counter() - start,
        }
        print(
            f"zoo | {name} | {scores.height} scored ({scores['score_source'][0]}) | "
            f"{moments.height} moments | {out[name]['seconds']:.1f} s"
        )
    return out


def active_at(folder: Path, as_of: dt.date) -> set[str]:
    accounts = read_csv(folder / "accounts.csv")
    if "churn_date" not in accounts.columns:  # an optional column
        accounts = accounts.with_columns(churn_date=pl.lit(None, pl.String))
    accounts = accounts.with_columns(pl.col("signup_date", "churn_date").str.to_date())
    return set(
        accounts.filter(
            (pl.col("signup_date") <= as_of)
            & (pl.col("churn_date").is_null() | (pl.col("churn_date") > as_of))
        )["account_id"]
    )


def check_scores(scores: pl.DataFrame, active: set[str]) -> None:
    """The score command's contract: its columns first, one row per active account, ranges."""
    assert scores.columns[:6] == SCORE_COLUMNS
    assert set(scores["account_id"]) == active and scores["account_id"].is_unique().all()
    assert scores["health_score"].cast(pl.Float64).is_between(0, 100).all()
    assert scores["churn_risk"].cast(pl.Float64).is_between(0, 1).all()
    assert set(scores["tier"]) <= {"healthy", "watch", "at_risk"}
    assert scores["drivers"].null_count() == 0 and scores["stage"].null_count() == 0
    assert set(scores["score_source"]) <= {"model", "scorecard"}


def check_moments(moments: pl.DataFrame, as_of: dt.date) -> None:
    """The moments command's contract: columns, kinds, dates up to the as-of date, severity."""
    assert moments.columns[:6] == MOMENT_COLUMNS and "evidence" in moments.columns
    assert set(moments["moment"]) <= {"relationship_change", "crisis", "delight"}
    dates = moments.select(pl.col("detected_on", "started_on").cast(pl.Date))
    assert (dates["detected_on"] <= as_of).all()
    assert (dates["started_on"] <= dates["detected_on"]).all()
    assert moments["severity"].cast(pl.Float64).is_between(0, 1).all()


@pytest.mark.parametrize("shape", list(ZOO))
def test_every_shape_runs_and_meets_the_contract(zoo, shape):
    got = zoo[shape]
    active = active_at(got["folder"], got["as_of"])
    assert active, "every zoo folder has an active account"
    check_scores(got["scores"], active)
    check_moments(got["moments"], got["as_of"])


def test_the_zoo_covers_at_least_twelve_shapes(zoo):
    # (its seconds are printed per shape, not asserted: wall time depends on the machine's load)
    assert len(zoo) >= 12 and all(z["scores"].height for z in zoo.values())


def test_score_and_moments_default_to_the_latest_event(zoo, tmp_path):
    """The one-shot commands, without --as-of, on line items and on a book nearly all gone."""
    for shape in ("line items with ids, monthly / half-year / annual", "everyone churned but one"):
        got = zoo[shape]
        run("score", "--data", str(got["folder"]), "--out", str(tmp_path / "s.csv"))
        run("moments", "--data", str(got["folder"]), "--out", str(tmp_path / "m.csv"))
        scores = read_csv(tmp_path / "s.csv")
        assert sorted(scores["account_id"]) == sorted(got["scores"]["account_id"])
        assert read_csv(tmp_path / "m.csv").height == got["moments"].height


def test_a_book_without_churn_is_scored_by_the_scorecard_and_says_why(zoo):
    scores = zoo["no churn yet"]["scores"]
    assert set(scores["score_source"]) == {"scorecard"}
    assert scores["score_note"][0].startswith("scorecard: only 0 accounts churned")
