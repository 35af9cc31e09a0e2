"""The renewal forecast's track record is out-of-sample: each past quarter is forecast by a model
that never saw that quarter's outcomes, never by today's model re-scoring the past."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from health import db
from health.analytics import renewal_record, renewals
from health.scoring.train import TimeSplitCalibrated


class RemembersItsTraining(ClassifierMixin, BaseEstimator):
    """A churn model that predicts from `signal` and remembers the last day it was trained on."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        self.last_day_ = int(X["day"].max())
        return self

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-X["signal"].to_numpy()))
        return np.column_stack([1 - p, p])


def test_every_backtest_prediction_comes_from_a_model_trained_on_outcomes_known_before_it():
    # Two years of weekly snapshots of 60 accounts; churn follows a signal.
    rng = np.random.default_rng(7)
    days = np.repeat(np.arange(0, 730, 7), 60)
    signal = rng.normal(-2, 1.5, days.size)
    y = (rng.random(days.size) < 1 / (1 + np.exp(-signal))).astype(int)
    X = pd.DataFrame({"day": days, "signal": signal})
    dates = np.datetime64("2024-01-06") + days.astype("timedelta64[D]")
    est = TimeSplitCalibrated(RemembersItsTraining(), horizon_days=90).fit(X, y, dates)
    assert len(est.folds_) == 3
    for fold, model, test in zip(est.folds_, est.fold_estimators_, est.fold_indices_, strict=True):
        trained_to = np.datetime64("2024-01-06") + np.timedelta64(model.last_day_, "D")
        # What the fold says it was trained to is what it was trained to ...
        assert str(trained_to) == fold["train_to"]
        # ... and every outcome it learned (90 days after a snapshot) was known before the first
        # snapshot it predicts.
        assert trained_to + np.timedelta64(90, "D") <= dates[test].min()
    raw, calibrated = est.predict_fold(0, X.iloc[est.fold_indices_[0]])
    assert raw == pytest.approx(est.oot_raw_[: len(raw)])
    assert calibrated == pytest.approx(est.oot_proba_[: len(raw)])


@pytest.fixture
def copy(warehouse, tmp_path):
    """A private copy of the demo warehouse, to tamper with."""
    path = tmp_path / "health.duckdb"
    db.copy(warehouse, path)  # with its events store
    return path


def _as_of(con) -> dt.date:
    return con.execute("select as_of from params").fetchall()[0][0]


def test_the_stored_backtest_respects_the_no_leakage_rule(warehouse):
    con = db.connect(warehouse, read_only=True)
    card = json.loads(con.execute("select card from model_card").fetchall()[0][0])
    stored = db.run(con, "select * from model_backtest")
    assert card["status"] == "model" and stored.height > 0
    # Every prediction: its model's training outcomes were known by its as-of date.
    assert (stored["outcomes_known_by"] <= stored["week_end"]).all()
    assert (stored["outcomes_known_by"] - stored["trained_to"]).dt.total_days().eq(90).all()
    # One row per account and week, as many as the backtest the model card reports.
    assert stored.select("account_id", "week_end").is_unique().all()
    folds = card["backtest"]["folds"]
    assert stored.height == sum(f["test_rows"] for f in folds)
    assert stored["churn_risk"].is_between(0, 1).all()
    # The same numbers the model card's backtest summarises.
    assert stored["churn_risk"].mean() == pytest.approx(card["backtest"]["mean_predicted"])


def test_the_track_record_does_not_read_todays_model_scores(copy):
    con = db.connect(copy, read_only=False)
    as_of = _as_of(con)
    honest = renewal_record.track_record(con, as_of)
    shown = honest.filter(pl.col("status").is_null())
    assert shown.height >= 2
    # Today's model re-scores every past week: replace those scores with nonsense.
    con.execute("update mart_health_history set churn_risk = 0.99, health_score = 1")
    assert renewal_record.track_record(con, as_of).equals(honest)
    # Quarters before the backtest's first test period say so instead of showing a number.
    first = con.execute("select min(week_end) from model_backtest").fetchall()[0][0]
    early = honest.filter(pl.col("forecast_made_on") < first)
    assert early["status"].eq(renewal_record.NOT_REACHED).all()
    assert early["expected_arr"].is_null().all()
    # Each forecast's model saw outcomes only up to before the quarter began.
    assert (shown["outcomes_known_by"] < shown["forecast_made_on"]).all()
    for row in shown.iter_rows(named=True):
        assert row["low_90"] <= row["expected_arr"] <= row["high_90"]
        assert 0 <= row["brier"] <= 1 and 0 <= row["observed_rate"] <= 1
        assert row["actual_accounts"] <= row["accounts"]
    sentence = renewal_record.source_sentence(renewals.record_source(con), honest)
    assert "out-of-sample" in sentence and "backtest" in sentence
    # Without a model the scorecard carries the score, and its own stored scores make the record.
    card = json.loads(con.execute("select card from model_card").fetchall()[0][0])
    card["status"] = "cold_start"
    con.execute("update model_card set card = ?", [json.dumps(card)])
    assert renewals.record_source(con) == "scorecard"
    scorecard = renewal_record.track_record(con, as_of)
    assert scorecard.filter(pl.col("status").is_null()).height > shown.height
    sentence = renewal_record.source_sentence("scorecard", scorecard)
    assert "scorecard" in sentence and "out-of-sample by construction" in sentence


def test_term_commitments_and_monthly_rollovers_are_told_apart(warehouse):
    con = db.connect(warehouse, read_only=True)
    as_of = _as_of(con)
    every = renewals.forecast(con, as_of).accounts
    term = renewals.forecast(con, as_of, kinds=(renewals.TERM,)).accounts
    monthly = every.filter(pl.col("kind") == renewals.MONTHLY)
    assert not monthly.is_empty() and not term.is_empty()
    assert set(term["kind"]) == {renewals.TERM}
    assert term.height + monthly.height == every.height
    # A monthly subscription's renewal is its next month end; a term's can be months away.
    assert (monthly["term_months"] == 1).all()
    assert (monthly["renewal_date"] - monthly["scored_on"]).dt.total_days().max() <= 31
    assert f"{monthly.height:,} monthly subscriptions" in renewals.left_out(con, as_of)


def test_a_quarter_with_too_few_renewals_shows_no_figures():
    few = pl.DataFrame(
        {
            "account_id": ["a", "b"],
            "arr": [1_000.0, 2_000.0],
            "p_renew": [0.9, 0.8],
            "expected_arr": [900.0, 1_600.0],
            "renewed": [True, False],
            "unscored": [0, 0],
            "outcomes_known_by": [dt.date(2026, 1, 1)] * 2,
        }
    )
    row = renewal_record._quarter(few, [], None)
    assert row["status"] == renewal_record.TOO_FEW.format(n=2)
    assert "brier" not in row


def test_term_and_monthly_renewals_are_recalibrated_each_on_their_own_kind():
    # The raw forecast said 60 % for every renewal; 95 % of monthly and 50 % of term renewed.
    rng = np.random.default_rng(5)
    kinds = [renewals.MONTHLY] * 200 + [renewals.TERM] * 200
    rate = np.where(np.array(kinds) == renewals.MONTHLY, 0.95, 0.5)
    renewed = rng.random(400) < rate
    past = [pl.DataFrame({"kind": kinds, "p_renew": [0.6] * 400, "renewed": renewed})]
    now = pl.DataFrame(
        {
            "account_id": ["m", "t"],
            "renewal_date": [dt.date(2026, 11, 30), dt.date(2027, 2, 1)],
            "kind": [renewals.MONTHLY, renewals.TERM],
            "arr": [1_000.0, 1_000.0],
            "p_renew": [0.6, 0.6],
        }
    )
    fixed, n = renewals.recalibrate(now, past)
    assert n == 400
    assert fixed["account_id"].to_list() == ["m", "t"]
    assert fixed["p_renew"].to_list() == pytest.approx([0.95, 0.5], abs=0.06)
