"""The renewal forecast: an exact interval for a sum of renewals, and a forecast with a record."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from health import db
from health.analytics import renewal_record, renewals
from tests.conftest import APP_DIR


def enumerate_all(weights, probs) -> dict[float, float]:
    """Every outcome of independent renewals, by brute force: renewing ARR -> probability."""
    dist: dict[float, float] = {}
    for outcome in itertools.product((0, 1), repeat=len(weights)):
        p = np.prod([q if o else 1 - q for o, q in zip(outcome, probs, strict=True)])
        total = float(np.dot(outcome, weights))
        dist[total] = dist.get(total, 0.0) + p
    return dist


def exact_quantile(dist: dict[float, float], q: float) -> float:
    cumulative = 0.0
    for value in sorted(dist):
        cumulative += dist[value]
        if cumulative >= q - 1e-12:
            return value
    return max(dist)


# Ten hand-built renewals: a few large accounts and many small, sure and doubtful ones.
ARR = [120_000, 48_000, 30_000, 24_000, 12_000, 9_600, 6_000, 6_000, 2_400, 1_200]
P_RENEW = [0.55, 0.9, 0.3, 0.75, 0.95, 0.5, 0.85, 0.2, 0.99, 0.65]


def test_the_distribution_of_renewing_arr_is_exactly_the_enumerated_one():
    dist, unit = renewals.sum_distribution(ARR, P_RENEW)
    truth = enumerate_all(ARR, P_RENEW)
    assert unit == 1_200  # every ARR is a multiple of $1,200: the lattice is exact
    assert dist.sum() == pytest.approx(1.0)
    assert np.count_nonzero(dist) == len(truth)
    for value, p in truth.items():
        assert dist[int(value / unit)] == pytest.approx(p, abs=1e-12)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9])
def test_the_interval_is_the_enumerated_quantiles(level):
    truth = enumerate_all(ARR, P_RENEW)
    tail = (1 - level) / 2
    assert renewals.interval(ARR, P_RENEW, level) == (
        exact_quantile(truth, tail),
        exact_quantile(truth, 1 - tail),
    )


def test_a_coarser_lattice_stays_within_its_rounding():
    low, high = renewals.interval(ARR, P_RENEW)
    dist, unit = renewals.sum_distribution(ARR, P_RENEW, max_cells=100)
    coarse = np.cumsum(dist)
    assert unit > 1_200
    coarse_low = np.searchsorted(coarse, 0.05 - 1e-12) * unit
    assert abs(coarse_low - low) <= len(ARR) * unit


def test_sure_renewals_have_no_spread_and_an_empty_set_is_zero():
    assert renewals.interval([1_000, 2_000], [1.0, 1.0]) == (3_000, 3_000)
    assert renewals.interval([1_000, 2_000], [0.0, 0.0]) == (0, 0)
    assert renewals.interval([], []) == (0.0, 0.0)


def test_the_window_is_the_next_two_quarters():
    assert renewals.window(dt.date(2026, 10, 31)) == (dt.date(2026, 11, 1), dt.date(2027, 4, 28))
    assert renewals.window(dt.date(2026, 3, 15)) == (dt.date(2026, 3, 16), dt.date(2026, 9, 15))


def test_far_renewals_use_the_risk_at_the_decision_point():
    usual = {"on terms": 0.2, "no fixed term": 0.1}
    frame = pl.DataFrame(
        {
            "scored_on": [dt.date(2026, 1, 3)] * 2,
            "renewal_date": [dt.date(2026, 2, 1), dt.date(2026, 6, 1)],
            "renewal_source": ["subscription term"] * 2,
            "arr": [10_000.0, 10_000.0],
            "churn_risk": [0.3, 0.01],
            # health 50 means the usual decision risk: 0.2 on terms
            "health_score": [40.0, 50.0],
            "score_source": ["model", "model"],
        }
    )
    out = renewals.probabilities(frame, usual)
    assert out["method"].to_list() == [renewals.IN_HORIZON, renewals.AT_DECISION]
    assert out["p_renew"].to_list() == pytest.approx([0.7, 0.8])
    assert out["expected_arr"].sum() == pytest.approx(15_000)


def test_the_demo_forecast_adds_up_and_its_record_uses_only_earlier_scores(warehouse):
    con = db.connect(warehouse)
    as_of = con.execute("select as_of from params").fetchall()[0][0]
    fc = renewals.forecast(con, as_of)
    accounts = fc.accounts
    assert accounts["renewal_date"].is_between(fc.window_from, fc.window_to).all()
    assert accounts["p_renew"].is_between(0, 1).all()
    total = renewals.summarise(accounts).row(0, named=True)
    assert total["low_90"] <= total["expected_arr"] <= total["high_90"] <= total["arr"]
    months = renewals.summarise(accounts, "month")
    assert months["expected_arr"].sum() == pytest.approx(total["expected_arr"])
    assert months["accounts"].sum() == accounts.height
    track = renewal_record.track_record(con, as_of)
    assert not track.is_empty()
    for row in track.filter(pl.col("status").is_null()).iter_rows(named=True):
        assert row["forecast_made_on"] < as_of
        assert row["actual_accounts"] <= row["accounts"]
        assert row["actual_arr"] <= row["arr"] + 1e-6


def test_the_page_counts_the_forecasts_renewals_and_again_with_monthly_rollovers(app_db):
    # The page keeps its forecast between reruns: the toggle must not be served the other's.
    con = db.connect(app_db)
    as_of = con.execute("select as_of from params").fetchall()[0][0]
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60).run()
    at.switch_page("pages/renewals.py").run()
    for kinds, label in (((renewals.TERM,), "Term renewals"), (renewals.KINDS, "All renewals")):
        expected = renewals.forecast(con, as_of, kinds=kinds).accounts.height
        assert not at.exception
        assert next(m.value for m in at.metric if m.label == label) == f"{expected:,}"
        at.toggle(key="renewals_monthly").set_value(True).run()


def test_a_pessimistic_forecast_is_recalibrated_on_past_renewals_only():
    # Past quarters: the raw forecast said 60 % for every renewal, but 90 % renewed.
    rng = np.random.default_rng(3)
    past = [
        pl.DataFrame({"p_renew": [0.6] * 100, "renewed": rng.random(100) < 0.9}) for _ in range(2)
    ]
    now = pl.DataFrame({"arr": [1_000.0, 2_000.0], "p_renew": [0.6, 0.6]})
    fixed, n = renewals.recalibrate(now, past)
    assert n == 200
    assert fixed["p_renew"].to_list() == pytest.approx([0.9, 0.9], abs=0.05)
    assert fixed["expected_arr"].sum() == pytest.approx(3_000 * fixed["p_renew"][0])
    # Too little history (or no lost renewal to learn from): the forecast stays as it was.
    assert renewals.recalibrate(now, past[:1][:0])[1] == 0
    sure = [pl.DataFrame({"p_renew": [0.6] * 50, "renewed": [True] * 50})]
    assert renewals.recalibrate(now, sure) == (now, 0)


@pytest.mark.parametrize("shape", ["overconfident", "underconfident", "nearly_separated"])
def test_the_recalibration_fit_is_scikit_learns_logistic_regression(shape):
    # The page fits it by hand (scikit-learn takes seconds to import); same penalty, same line.
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(len(shape))
    x = rng.normal(0, 2, 400)
    slope = {"overconfident": 0.5, "underconfident": 2.0, "nearly_separated": 40.0}[shape]
    y = (rng.random(400) < 1 / (1 + np.exp(-(slope * x - 1)))).astype(int)
    ours = renewals.platt(x, y)
    theirs = LogisticRegression(C=1e4, tol=1e-10, max_iter=10_000).fit(x.reshape(-1, 1), y)
    assert ours == pytest.approx((theirs.coef_[0][0], theirs.intercept_[0]), rel=1e-3, abs=1e-3)
