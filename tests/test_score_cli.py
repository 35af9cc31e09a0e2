"""`python -m health score`: one shot from a data folder to the contract's scores file."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from health.cli import app

COLUMNS = ["account_id", "health_score", "churn_risk", "tier", "stage", "drivers"]
AS_OF = "2026-09-30"


def score(folder: Path, out: Path, as_of: str = AS_OF) -> pl.DataFrame:
    """Run the command and read its file back, every column as text first (IDs stay IDs)."""
    result = CliRunner().invoke(
        app, ["score", "--data", str(folder), "--as-of", as_of, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return pl.read_csv(out, infer_schema=False).with_columns(
        pl.col("health_score", "churn_risk").cast(pl.Float64)
    )


def active_at(folder: Path, as_of: str) -> set[str]:
    """Accounts signed up by the as-of date and not churned by then."""
    day = dt.date.fromisoformat(as_of)
    accounts = pl.read_csv(folder / "accounts.csv", infer_schema=False, try_parse_dates=False)
    accounts = accounts.with_columns(pl.col("signup_date", "churn_date").str.to_date())
    active = accounts.filter(
        (pl.col("signup_date") <= day)
        & (pl.col("churn_date").is_null() | (pl.col("churn_date") > day))
    )
    return set(active["account_id"])


def check_contract(scores: pl.DataFrame, folder: Path) -> None:
    # the contract's columns first, then what carries the score and why
    assert scores.columns == [*COLUMNS, "score_source", "score_note"]
    assert set(scores["score_source"]) <= {"model", "scorecard"}
    assert set(scores["account_id"]) == active_at(folder, AS_OF)
    assert scores["account_id"].is_unique().all()
    assert scores["health_score"].is_between(0, 100).all()
    assert scores["churn_risk"].is_between(0, 1).all()
    assert set(scores["tier"]) <= {"healthy", "watch", "at_risk"}
    assert scores["drivers"].null_count() == 0


def test_score_writes_one_row_per_active_account_in_the_contract_shape(demo_folder, tmp_path):
    scores = score(demo_folder, tmp_path / "scores.csv")
    check_contract(scores, demo_folder)
    # Riskiest first, and health falls as risk rises within a tier's range.
    assert scores["churn_risk"].is_sorted(descending=True)
    assert scores.filter(pl.col("tier") == "at_risk")["health_score"].max() < 35


@pytest.fixture
def bare_folder(demo_folder, tmp_path) -> Path:
    """Only accounts, events and subscriptions: the least a customer usually exports."""
    folder = tmp_path / "bare"
    folder.mkdir()
    for name in ("accounts.csv", "events.parquet", "subscriptions.csv"):
        shutil.copy(demo_folder / name, folder / name)
    return folder


def test_score_works_with_only_accounts_events_and_subscriptions(bare_folder, tmp_path):
    scores = score(bare_folder, tmp_path / "scores.csv")
    check_contract(scores, bare_folder)
    assert scores["churn_risk"].n_unique() > 10  # a real ranking, not a constant


def test_an_unexpected_error_says_where_its_traceback_was_written(tmp_path, monkeypatch, capsys):
    import sys

    from health.cli import main
    from health.pipeline import refresh

    def broken(*args, **kwargs):
        raise RuntimeError("something nobody planned for")

    monkeypatch.setattr(refresh, "refresh", broken)
    monkeypatch.setattr(sys, "argv", ["health", "refresh", "--db", str(tmp_path / "h.duckdb")])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    log = tmp_path / "logs" / "health-errors.log"
    assert exit_.value.code == 1 and "Traceback" not in err
    assert "RuntimeError: something nobody planned for" in err and str(log) in err.replace("\n", "")
    written = log.read_text()
    assert "Traceback" in written and "something nobody planned for" in written
