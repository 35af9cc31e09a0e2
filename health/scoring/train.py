"""Churn-model candidates, a time-ordered backtest with calibration, and the metrics it reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler


class NotEnoughHistory(Exception):
    """Too few churns with known outcomes to train and backtest a model."""


class FillEmpty(TransformerMixin, BaseEstimator):
    """Numeric columns with no value in the training rows become zero: a backtest fold can
    predate a whole source (no subscriptions yet), and an empty column breaks binning."""

    def fit(self, X, y=None):
        self.empty_ = [c for c in X.columns if X[c].dtype.kind == "f" and X[c].isna().all()]
        return self

    def transform(self, X):
        return X.assign(**dict.fromkeys(self.empty_, 0.0)) if self.empty_ else X


def signed_log1p(x):
    """log(1 + |x|) with the sign kept: tames counts and ratios with long tails."""
    if isinstance(x, pd.DataFrame):
        # On one 2-D array: pandas applies each ufunc column block by column block (one per
        # feature from polars), 3-4x slower for the same numbers; the frame keeps its names.
        v = x.to_numpy(dtype=float, na_value=np.nan)
        return pd.DataFrame(np.sign(v) * np.log1p(np.abs(v)), columns=x.columns, index=x.index)
    return np.sign(x) * np.log1p(np.abs(x))


def candidates(
    numeric: list[str], categorical: list[str], min_leaf: int = 100
) -> dict[str, Pipeline]:
    """The model families the backtest chooses from, each a full preprocessing pipeline; the
    first is the default, the others challengers."""
    linear_prep = ColumnTransformer(
        [
            (
                "num",
                Pipeline(
                    [
                        ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
                        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            ),
            (
                "cat",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=50),
                categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    tree_prep = ColumnTransformer(
        [
            ("num", "passthrough", numeric),
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
                categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    is_cat = [False] * len(numeric) + [True] * len(categorical)
    return {
        "l1_logistic": Pipeline(
            [
                ("fill", FillEmpty()),
                ("prep", linear_prep),
                # liblinear shuffles with a seed drawn from numpy's global generator unless
                # given one: the same data must give the same card.
                (
                    "model",
                    LogisticRegression(l1_ratio=1.0, solver="liblinear", C=0.05, random_state=0),
                ),
            ]
        ),
        "gradient_boosting": Pipeline(
            [
                ("fill", FillEmpty()),
                ("prep", tree_prep),
                (
                    "model",
                    HistGradientBoostingClassifier(
                        learning_rate=0.06,
                        max_iter=150,
                        max_leaf_nodes=15,
                        # Large leaves: weekly snapshots repeat each account, and small
                        # leaves learn which accounts churned instead of why.
                        min_samples_leaf=min_leaf,
                        l2_regularization=1.0,
                        max_bins=63,
                        categorical_features=is_cat,
                        early_stopping=False,
                        random_state=0,
                    ),
                ),
            ]
        ),
    }


def time_folds(
    dates: np.ndarray, n_folds: int, fold_days: int, horizon_days: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) masks, oldest first: each test window is trained only on outcomes known
    when it starts (snapshots at least `horizon_days` before it)."""
    end = dates.max()
    folds = []
    for k in range(n_folds):
        test_end = end - np.timedelta64(k * fold_days, "D")
        test_start = test_end - np.timedelta64(fold_days, "D")
        test = (dates > test_start) & (dates <= test_end)
        train = dates <= test_start - np.timedelta64(horizon_days, "D")
        folds.append((train, test))
    return folds[::-1]


MIN_TRAIN_DAYS = 56  # the first backtest period trains on at least this many days of snapshots


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p)).reshape(-1, 1)


class TimeSplitCalibrated(ClassifierMixin, BaseEstimator):
    """A classifier backtested on later dates than it trains on, with probabilities calibrated
    (Platt) on those out-of-time predictions."""

    def __init__(
        self,
        estimator=None,
        n_folds: int = 3,
        fold_days: int = 91,
        horizon_days: int = 90,
        train_every: int = 1,
        min_positives: int = 15,
    ):
        self.estimator = estimator
        self.n_folds = n_folds
        self.fold_days = fold_days
        self.horizon_days = horizon_days
        self.train_every = train_every
        self.min_positives = min_positives

    def fit(self, X, y, dates):
        """Backtest on time-ordered folds, calibrate on their predictions, refit on everything."""
        return self.backtest(X, y, dates).refit(X, y, dates)

    def _thin(self, dates: np.ndarray) -> np.ndarray:
        weeks = (dates.max() - dates).astype(int) // 7
        return weeks % max(self.train_every, 1) == 0  # neighbouring weeks repeat each other

    def refit(self, X, y, dates):
        """The model that scores: the estimator trained on every (thinned) snapshot. Apart from
        `backtest`, so that a candidate the backtest does not choose is never trained on it all."""
        thin = self._thin(np.asarray(dates, dtype="datetime64[D]"))
        self.estimator_ = clone(self.estimator).fit(X[thin], np.asarray(y, dtype=int)[thin])
        return self

    def backtest(self, X, y, dates):
        """Backtest on time-ordered folds and calibrate on their predictions (no `refit`)."""
        y = np.asarray(y, dtype=int)
        dates = np.asarray(dates, dtype="datetime64[D]")
        thin = self._thin(dates)
        self.classes_ = np.array([0, 1])
        raw, index, fold_of = [], [], []
        self.folds_, self.fold_estimators_ = [], []
        fold_days = self._fold_days(dates)
        most = 0  # churn snapshots in the largest training window, for the message
        for train, test in time_folds(dates, self.n_folds, fold_days, self.horizon_days):
            train = train & thin
            most = max(most, int(y[train].sum()))
            if y[train].sum() < self.min_positives or y[test].sum() < 3 or y[test].all():
                continue
            model = clone(self.estimator).fit(X[train], y[train])
            raw.append(model.predict_proba(X[test])[:, 1])
            index.append(np.flatnonzero(test))
            fold_of.append(np.full(test.sum(), len(self.folds_)))
            self.folds_.append(
                {
                    "train_to": str(dates[train].max()),
                    "test_from": str(dates[test].min()),
                    "test_to": str(dates[test].max()),
                    "train_rows": int(train.sum()),
                    "test_rows": int(test.sum()),
                    "test_churns": int(y[test].sum()),
                }
            )
            self.fold_estimators_.append(model)
        if not self.folds_:
            raise NotEnoughHistory(
                f"no backtest period has {self.min_positives} snapshots before a churn to train "
                f"on, {self.horizon_days} days before it and with churns to test on (the most "
                f"was {most}, of {int(y.sum())} in {self._span(dates)} days of known outcomes)"
            )
        self.oot_index_ = np.concatenate(index)
        self.oot_raw_ = np.concatenate(raw)
        fold_of = np.concatenate(fold_of)
        oot_y = y[self.oot_index_]
        self.calibrator_ = LogisticRegression(C=1e4).fit(_logit(self.oot_raw_), oot_y)
        # A fair calibration check: each fold is calibrated by the other folds' predictions
        # (two parameters borrowed across periods, so next to nothing leaks).
        self.oot_proba_ = np.empty_like(self.oot_raw_)
        self.fold_calibrators_ = []
        for f in range(len(self.folds_)):
            mine = fold_of == f
            other = ~mine if len(self.folds_) > 1 else mine
            cal = LogisticRegression(C=1e4).fit(_logit(self.oot_raw_[other]), oot_y[other])
            self.oot_proba_[mine] = cal.predict_proba(_logit(self.oot_raw_[mine]))[:, 1]
            self.fold_calibrators_.append(cal)
        self.fold_indices_ = index
        return self

    @staticmethod
    def _span(dates: np.ndarray) -> int:
        return int((dates.max() - dates.min()).astype(int))

    def _fold_days(self, dates: np.ndarray) -> int:
        """Test periods of fold_days, shortened (to two weeks at least) when the history is too
        short for them to have MIN_TRAIN_DAYS of training snapshots before the first one."""
        room = self._span(dates) - self.horizon_days - MIN_TRAIN_DAYS
        return int(max(14, min(self.fold_days, room // max(self.n_folds, 1))))

    def predict_proba(self, X):
        """Calibrated probabilities of [no churn, churn]."""
        p = self.calibrate(self.estimator_.predict_proba(X)[:, 1])
        return np.column_stack([1 - p, p])

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Raw churn probabilities calibrated on the backtest's out-of-time predictions."""
        return self.calibrator_.predict_proba(_logit(raw))[:, 1]

    def predict_fold(self, fold: int, X) -> tuple[np.ndarray, np.ndarray]:
        """(raw, calibrated) churn probabilities of rows X by backtest fold `fold`'s model, which
        was trained only on snapshots whose outcome was known when its test period began; the
        calibration is the one `oot_proba_` uses (fitted on the other folds' predictions)."""
        raw = self.fold_estimators_[fold].predict_proba(X)[:, 1]
        return raw, self.fold_calibrators_[fold].predict_proba(_logit(raw))[:, 1]

    def predict_oot(self, X, calibrate: bool = True) -> np.ndarray:
        """Out-of-time churn probabilities of the backtest rows, each from the model trained
        before its fold, on inputs X of those rows alone (in `oot_index_` order): calibrated as
        `predict_proba` is, or raw (`calibrate=False`)."""
        ends = np.cumsum([len(idx) for idx in self.fold_indices_])[:-1]
        raw = np.concatenate(
            [
                m.predict_proba(X.iloc[rows])[:, 1]
                for m, rows in zip(
                    self.fold_estimators_, np.split(np.arange(len(X)), ends), strict=True
                )
            ]
        )
        return self.calibrate(raw) if calibrate else raw

    def calibrate_oot(self, raw: np.ndarray) -> np.ndarray:
        """Raw out-of-time probabilities (in `oot_index_` order) calibrated fold by fold as
        `predict_fold` does: each fold by the calibration fitted on the other folds."""
        ends = np.cumsum([len(idx) for idx in self.fold_indices_])[:-1]
        return np.concatenate(
            [
                cal.predict_proba(_logit(part))[:, 1]
                for cal, part in zip(self.fold_calibrators_, np.split(raw, ends), strict=True)
            ]
        )


def auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC, or None when only one class is present."""
    y = np.asarray(y)
    if y.min() == y.max():
        return None
    return float(roc_auc_score(y, score))


def win_share(
    y: np.ndarray, default: np.ndarray, challenger: np.ndarray, groups: np.ndarray, n: int = 100
) -> float:
    """Share of account-level bootstrap resamples in which the challenger's AUC beats the
    default's: snapshots of one account are not independent, so accounts are resampled."""
    codes, index = np.unique(groups, return_inverse=True)
    if y.min() == y.max():
        return 0.0
    rng = np.random.default_rng(0)
    a_auc, b_auc = _WeightedAuc(y, default), _WeightedAuc(y, challenger)
    wins = 0
    for _ in range(n):
        # An account drawn k times weighs k times: the resample as row weights, no copies.
        weight = np.bincount(rng.integers(0, len(codes), len(codes)), minlength=len(codes))[index]
        if y[weight > 0].min() == y[weight > 0].max():
            continue
        wins += b_auc(weight) > a_auc(weight)
    return wins / n


class _WeightedAuc:
    """ROC AUC of one score under many row weightings: the scores are sorted once, then each
    weighting costs two bincounts (the Mann-Whitney form, ties counting one half, which is
    what roc_auc_score computes with sample weights)."""

    def __init__(self, y: np.ndarray, score: np.ndarray):
        self.pos = np.asarray(y).astype(bool)
        _, self.tie = np.unique(np.asarray(score), return_inverse=True)  # rank of each value

    def __call__(self, weight: np.ndarray) -> float:
        w = np.asarray(weight, dtype=float)
        pos = np.bincount(self.tie, np.where(self.pos, w, 0.0))
        neg = np.bincount(self.tie, np.where(self.pos, 0.0, w))
        below = np.cumsum(neg) - neg
        return float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float | None:
    """Churn rate among the riskiest 10 % over the overall churn rate."""
    y = np.asarray(y, dtype=float)
    if y.mean() == 0:
        return None
    n = max(1, int(round(len(y) * 0.1)))
    top = np.argsort(-np.asarray(score), kind="stable")[:n]
    return float(y[top].mean() / y.mean())


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Predicted vs observed churn rate in bins of equal count, lowest risk first."""
    order = np.argsort(p, kind="stable")
    rows = []
    for chunk in np.array_split(order, bins):
        if len(chunk):
            rows.append(
                {
                    "predicted": float(p[chunk].mean()),
                    "observed": float(np.asarray(y)[chunk].mean()),
                    "n": int(len(chunk)),
                }
            )
    return rows


def baseline_scores(oot: pl.DataFrame) -> dict[str, np.ndarray]:
    """The simple rules a model must beat, as risk scores (higher = riskier)."""
    rules = {
        "low usage = risk": -oot["events_per_seat_28d"].fill_null(0).to_numpy(),
        "recency only": oot["days_since_active"].fill_null(0).to_numpy(),
        # No known renewal counts as far away.
        "days to renewal only": -oot["days_to_renewal"].fill_null(400).to_numpy(),
    }
    if "scorecard_score" in oot.columns:
        # What commercial tools ship: hand-set weights, never checked against churn.
        rules["scorecard (hand-set weights)"] = -oot["scorecard_score"].fill_null(50).to_numpy()
    return rules


def lead_time(oot: pl.DataFrame) -> dict:
    """How early the model flagged accounts that churned: days from the first at-risk flag in
    the 90 days before churn to the churn, the share of churned accounts flagged at risk at all,
    and the share at least on watch."""
    churners = oot.filter(pl.col("churned"))
    if churners.is_empty():
        return {
            "median_days": None,
            "caught_share": None,
            "watched_share": None,
            "churned_accounts": 0,
        }
    per = churners.group_by("account_id").agg(
        pl.col("churn_date").first(),
        pl.col("week_end").filter(pl.col("flagged")).min().alias("first_flag"),
        pl.col("watched").any().alias("watched"),
    )
    caught = per.filter(pl.col("first_flag").is_not_null())
    days = (caught["churn_date"] - caught["first_flag"]).dt.total_days()
    return {
        "median_days": float(days.median()) if len(days) else None,
        "caught_share": caught.height / per.height,
        "watched_share": per["watched"].mean(),
        "churned_accounts": per.height,
    }
