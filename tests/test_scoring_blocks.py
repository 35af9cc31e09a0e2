"""Scoring block by block of whole weeks gives the scores, tiers and drivers of all at once."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from health import db
from health.scoring import drivers, features, fit, step


@pytest.fixture(scope="module")
def trained(warehouse) -> tuple[pl.DataFrame, dt.date, step.Trained]:
    """The small demo's feature rows (with the scorecard), its as-of date and its model."""
    con = db.connect(warehouse)
    try:
        as_of = con.execute("select as_of from params").fetchall()[0][0]
        frame = features.load(con)
    finally:
        con.close()
    frame = step._with_scorecard(frame, step.scorecard.config())
    return frame, as_of, step.fit(frame, as_of)


def explained(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(drivers=drivers.explain(rows))


@pytest.mark.parametrize("per_block", [1, 700, 5_000])
def test_scores_block_by_block_of_weeks_are_the_scores_of_every_week_at_once(trained, per_block):
    frame, as_of, model = trained
    assert model.fitted is not None  # the demo trains a model: its scores are the ones compared
    card, rows = step.scorer(frame, as_of, trained=model)
    blocks = step.week_blocks(frame, per_block)
    # whole weeks, each in one block, every row once
    weeks = [set(b["week_end"].unique()) for b in blocks]
    assert sum(len(w) for w in weeks) == frame["week_end"].n_unique()
    assert sum(b.height for b in blocks) == frame.height
    assert len(blocks) > 1
    whole = explained(rows(frame)).sort("account_id", "week_end")
    # as the refresh does: each block scored and explained on its own
    blocked = pl.concat([explained(rows(b)) for b in blocks]).sort("account_id", "week_end")
    # Ranks within a week (scorecard, the drivers' usage percentile) see the same rows, and the
    # model's transforms work row by row. The linear model's product is a BLAS call whose last
    # bit depends on a row's place in the matrix (also in one call), hence the float tolerance.
    floats = [c for c, t in whole.schema.items() if t.is_float()]
    assert_frame_equal(whole.drop(floats), blocked.drop(floats))
    assert_frame_equal(whole.select(floats), blocked.select(floats), rel_tol=1e-12, abs_tol=1e-12)


def test_scoring_only_the_moved_rows_at_the_decision_point_is_scoring_them_all(trained):
    frame, as_of, model = trained
    fitted = model.fitted
    got = step._model_health(frame, fitted)
    everyone = fitted.estimator.predict_proba(
        fit.design(step.model_health.at_decision(frame), fitted.numeric)
    )[:, 1]
    assert got["decision_risk"].to_numpy() == pytest.approx(everyone, rel=1e-12, abs=1e-15)
    assert (got["decision_risk"] != got["churn_risk"]).any()  # some rows did move


def test_the_backtest_rows_made_in_training_are_those_the_fold_models_make_again(trained):
    frame, _, model = trained
    made = fit.backtest_rows(model.fitted, frame)
    again = fit.backtest_rows(dataclasses.replace(model.fitted, backtest=None), frame)
    assert made.height > 0 and made["fold"].n_unique() == len(model.fitted.estimator.folds_)
    assert_frame_equal(made, again)
