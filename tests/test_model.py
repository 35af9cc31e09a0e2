"""The churn model and health score: calibrated, explained by drivers, honest in cold start."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from health import db
from health.db import copy as copy_database
from health.pipeline.refresh import refresh
from health.scoring import store as model_store
from health.scoring.scorecard import COMPONENTS, TIERS


def read(path: Path, sql: str) -> pl.DataFrame:
    con = db.connect(path)
    try:
        return db.run(con, sql)
    finally:
        con.close()


def card_of(path: Path) -> dict:
    return json.loads(read(path, "select card from model_card")["card"][0])


@pytest.fixture(scope="module")
def history(warehouse) -> pl.DataFrame:
    return read(warehouse, "select * from mart_health_history")


@pytest.fixture(scope="module")
def truth(demo_folder) -> pl.DataFrame:
    moments = demo_folder.parent / f"{demo_folder.name}.truth" / "moments.csv"
    return pl.read_csv(moments, try_parse_dates=True).filter(pl.col("planted"))


def test_the_demo_trains_a_model_whose_risk_is_calibrated_on_later_dates(warehouse):
    card = card_of(warehouse)
    assert card["status"] == "model"
    bt = card["backtest"]
    # Out of time: every backtest period is trained only on outcomes known before it starts.
    for fold in bt["folds"]:
        assert fold["train_to"] < fold["test_from"]
    assert bt["mean_predicted"] == pytest.approx(bt["observed_rate"], abs=0.03)
    assert bt["auc"] > 0.7
    cal = card["calibration"]
    assert cal[-1]["observed"] > 3 * max(cal[0]["observed"], 0.01)  # riskiest bin really churns
    assert {"low usage = risk", "recency only", "days to renewal only"} <= set(card["baselines"])
    assert bt["auc"] > max(b["auc"] for b in card["baselines"].values())


def test_history_has_a_valid_score_per_account_per_week(warehouse, history):
    assert history.select(pl.struct("account_id", "week_end").is_unique().all()).item()
    assert history["health_score"].is_between(0, 100).all()
    assert history["churn_risk"].is_between(0, 1).all()
    assert set(history["tier"].unique()) <= set(TIERS)
    assert set(history["score_source"].unique()) == {"model"}
    assert history.select(pl.col(list(COMPONENTS)).is_between(0, 100).all()).row(0)
    current = read(warehouse, "select * from mart_account_health")
    active = read(
        warehouse,
        "select count(*) as n from stg_accounts where churn_date is null",
    )["n"][0]
    assert current.height == active
    assert current["week_end"].n_unique() == 1


def _drivers_after(history: pl.DataFrame, truth: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Each planted story's account, 3-4 weeks after the story began."""
    return (
        truth.filter(pl.col("kind") == kind)
        .join(history, on="account_id")
        .filter((pl.col("week_end") - pl.col("started_on")).dt.total_days().is_between(21, 27))
    )


def test_an_engagement_drop_shows_in_the_drivers_with_its_size(history, truth):
    rows = _drivers_after(history, truth, "engagement_drop")
    assert rows.height >= 3
    said = rows["drivers"].str.contains(r"down \d+ % in 4 weeks")
    assert said.mean() >= 0.8, rows.select("account_id", "drivers")
    # The drop also moves the score: none of these accounts is called healthy.
    assert (rows["tier"] != "healthy").mean() >= 0.8


def test_a_departed_champion_shows_in_the_drivers(history, truth):
    rows = _drivers_after(history, truth, "champion_left")
    assert rows.height >= 3
    said = rows["drivers"].str.contains("champion")
    assert said.mean() >= 0.8, rows.select("account_id", "drivers")


def test_drivers_are_sentences_with_numbers(history):
    worst = history.sort("churn_risk", descending=True).head(50)
    assert worst["drivers"].str.contains(r"\d").all()
    assert (worst["drivers"].str.split("; ").list.len() <= 3).all()


def test_the_model_is_saved_with_a_sidecar_and_only_loaded_when_it_matches(warehouse):
    folder = model_store.folder(warehouse)
    sidecar = json.loads((folder / model_store.CARD_FILE).read_text())
    assert sidecar["sha256"] == card_of(warehouse)["sha256"]
    assert {"versions", "numeric_features", "training_window", "calibration", "lead_time"} <= set(
        sidecar
    )
    assert model_store.load(warehouse) is not None
    sidecar["sha256"] = "0" * 64
    (folder / model_store.CARD_FILE).write_text(json.dumps(sidecar))
    assert model_store.load(warehouse) is None
    (folder / model_store.CARD_FILE).write_text(json.dumps(card_of(warehouse)))


def test_without_churn_history_the_scorecard_carries_the_score(warehouse, tmp_path):
    fresh = tmp_path / "no-churn.duckdb"
    copy_database(warehouse, fresh)
    con = db.connect(fresh, read_only=False)
    con.execute("UPDATE accounts SET churn_date = NULL")
    con.close()
    refresh(fresh)
    card = card_of(fresh)
    assert card["status"] == "cold_start"
    assert "scorecard carries the score" in card["message"]
    scores = read(fresh, "select * from mart_account_health")
    assert set(scores["score_source"].unique()) == {"scorecard"}
    assert scores["health_score"].is_between(0, 100).all()
    assert scores["churn_risk"].is_between(0, 1).all()
    # No model was trained, so none is left on disk for anyone to load.
    assert not model_store.folder(fresh).joinpath(model_store.MODEL_FILE).exists()


def test_permutation_importance_on_preprocessed_columns_matches_scikit_learn():
    # Preprocessing runs once and each feature's transformed columns (its value, its missing
    # flag, its one-hot levels) are shuffled together: the figures scikit-learn's own
    # permutation_importance gives, shuffle for shuffle, for both model families.
    import numpy as np
    from sklearn.inspection import permutation_importance as sklearn_importance
    from threadpoolctl import threadpool_limits

    from health.scoring.importance import permutation_importance
    from health.scoring.train import candidates

    rng = np.random.default_rng(3)
    n = 300
    usage = rng.gamma(2.0, 20.0, n)
    usage[rng.random(n) < 0.1] = np.nan  # a missing-value indicator column
    noise = rng.normal(size=n)
    segment = rng.choice(["smb", "mid", "ent"], n)
    risk = 1 / (1 + np.exp(0.08 * np.nan_to_num(usage, nan=40.0) - 2 + (segment == "smb")))
    y = (rng.random(n) < risk).astype(int)
    X = pl.DataFrame(
        {"usage": usage, "noise": noise, "segment": segment, "plan": ["pro"] * n}
    ).to_pandas()
    for name, pipe in candidates(["usage", "noise"], ["segment", "plan"], 20).items():
        with threadpool_limits(limits=1, user_api="openmp"):  # as training runs it
            pipe.fit(X, y)
            ours = permutation_importance(pipe, X, y)
            theirs = sklearn_importance(pipe, X, y, scoring="roc_auc", n_repeats=2, random_state=0)
        assert ours == pytest.approx(theirs.importances_mean, abs=1e-12), name
        assert ours[0] > ours[1], name  # usage carries the risk, noise does not
