"""A model that cannot learn the data, or does not earn its place, steps aside: never a crash."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from health import db
from health.scoring import features, fit, step
from health.scoring.train import TimeSplitCalibrated, candidates


@pytest.fixture(scope="module")
def frame(warehouse) -> tuple[pl.DataFrame, dt.date]:
    """The small demo's feature rows with their outcomes, and its as-of date."""
    con = db.connect(warehouse)
    try:
        as_of = con.execute("select as_of from params").fetchall()[0][0]
        return features.load(con), as_of
    finally:
        con.close()


class Broken(ClassifierMixin, BaseEstimator):
    """A model family that fails on this data, as gradient boosting did on empty folds."""

    def fit(self, X, y):
        raise ValueError("window shape cannot be larger than input array shape")


def test_a_feature_empty_in_a_fold_no_longer_breaks_gradient_boosting():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"mrr": np.full(300, np.nan), "events_7d": rng.random(300), "segment": "SMB", "plan": "x"}
    )
    y = (rng.random(300) < 0.2).astype(int)
    model = candidates(["mrr", "events_7d"], ["segment", "plan"], 20)["gradient_boosting"]
    assert model.fit(X, y).predict_proba(X).shape == (300, 2)


def test_a_family_that_fails_steps_aside_for_the_next(frame, monkeypatch):
    real = candidates

    def with_broken(*args):
        return {"gradient_boosting": Broken(), "l1_logistic": real(*args)["l1_logistic"]}

    monkeypatch.setattr(fit, "candidates", with_broken)
    scored, card, _ = step.score(*frame)
    assert card["failed_candidates"]["gradient_boosting"].startswith("ValueError: window shape")
    assert "gradient_boosting" not in card["candidates"]
    assert card["status"] in {"model", "fallback"} and scored["churn_risk"].is_between(0, 1).all()


def test_only_the_default_and_the_chosen_family_are_refitted_and_a_failed_refit_steps_aside(
    frame, monkeypatch
):
    # The default is refitted beside the challengers' backtests (it is nearly always chosen);
    # a challenger is refitted only when chosen.
    real, refitted = TimeSplitCalibrated.refit, []

    def first_refit_fails(self, X, y, dates):
        refitted.append(type(self.estimator.steps[-1][1]).__name__)
        if len(refitted) == 1:
            raise ValueError("no room")
        return real(self, X, y, dates)

    monkeypatch.setattr(TimeSplitCalibrated, "refit", first_refit_fails)
    scored, card, _ = step.score(*frame)
    # The backtest chose a family, its refit failed: the other one is chosen and refitted.
    assert len(refitted) == 2 and refitted[0] != refitted[1]
    (failed,) = card["failed_candidates"]
    assert card["failed_candidates"][failed] == "ValueError: no room"
    assert failed not in card["candidates"] and card.get("model", "") != failed
    assert scored["churn_risk"].is_between(0, 1).all()


def test_when_no_family_can_learn_the_scorecard_carries_the_score(frame, monkeypatch):
    monkeypatch.setattr(fit, "candidates", lambda *a: {"l1_logistic": Broken()})
    scored, card, fitted = step.score(*frame)
    assert fitted is None and card["status"] == "cold_start"
    assert "no model family could be trained" in card["message"]
    assert card["score_note"].startswith("scorecard: no model family could be trained")
    assert set(scored["score_source"]) == {"scorecard"}
    assert scored["health_score"].is_between(0, 100).all()


def test_a_model_that_is_not_calibrated_does_not_carry_the_score(frame, monkeypatch):
    monkeypatch.setattr(fit, "CALIBRATION_TOLERANCE", -1.0)  # no model can be this calibrated
    scored, card, fitted = step.score(*frame)
    assert fitted is None and card["status"] == "fallback"
    assert "mean predicted risk" in card["message"] and "scorecard" in card["message"]
    assert card["backtest"]["auc"] and card["baselines"]  # the Model page shows why
    assert set(scored["score_source"]) == {"scorecard"}


def test_the_demo_model_earns_its_place(frame):
    _, card, fitted = step.score(*frame)
    verdict = card["earns_place"]
    assert fitted is not None and verdict["passed"]
    assert verdict["model_auc"] > verdict["best_rule_auc"]
    assert abs(verdict["calibration_gap"]) <= fit.CALIBRATION_TOLERANCE
