"""Training the churn model: candidates by time-ordered backtest, calibration, its card."""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from health.scoring import decision as model_health
from health.scoring import features, importance, scorecard
from health.scoring.train import (
    NotEnoughHistory,
    TimeSplitCalibrated,
    auc,
    baseline_scores,
    calibration_table,
    candidates,
    lead_time,
    top_decile_lift,
    win_share,
)

log = logging.getLogger(__name__)

MIN_CHURNED_ACCOUNTS = 20  # fewer churns than this and the scorecard carries the score

# A trained model carries the score only when its backtest beats every simple rule the Model
# page shows and its mean predicted risk is within this share of the observed rate.
CALIBRATION_TOLERANCE = 0.20
SIMPLE_RULES = ("low usage = risk", "recency only", "days to renewal only")


class ModelNotEarned(NotEnoughHistory):
    """A model trained, but did not earn its place; `card` holds its backtest."""

    def __init__(self, message: str, card: dict):
        super().__init__(message)
        self.card = card


# Neighbouring weekly snapshots of one account are nearly the same row: train on every other
# week, and on fewer when the history is long, so training stays fast.
MAX_TRAIN_ROWS = 20_000


# A challenger replaces the default (linear, easiest to explain) model only when it wins the
# backtest in this share of account-level bootstrap resamples.
CHALLENGER_WINS = 0.95


@dataclass
class Fitted:
    """A trained, calibrated churn model and what its backtest showed; `backtest`: its
    out-of-time predictions (`backtest_rows`) when trained now, None when loaded."""

    estimator: TimeSplitCalibrated
    numeric: list[str]
    card: dict
    backtest: pl.DataFrame | None = None


def design(frame: pl.DataFrame, numeric: list[str]):
    """The model's input table (pandas, as scikit-learn's column transformers expect)."""
    cats = [pl.col(c).cast(pl.String).fill_null("Unknown") for c in features.CATEGORICAL]
    return frame.select(*numeric, *cats).to_pandas()


def versions() -> dict[str, str]:
    import duckdb
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "polars": pl.__version__,
        "numpy": np.__version__,
        "duckdb": duckdb.__version__,
    }


def train(frame: pl.DataFrame, as_of: dt.date) -> Fitted:
    """Choose a model family by time-ordered backtest, calibrate it, and describe it in a card."""
    labelled = training_rows(frame)
    churned = labelled.filter(pl.col("churned"))["account_id"].n_unique()
    if churned < MIN_CHURNED_ACCOUNTS:
        raise NotEnoughHistory(
            f"only {churned} accounts churned within 90 days of a snapshot whose outcome is known "
            f"by {as_of}; the model needs at least {MIN_CHURNED_ACCOUNTS}"
        )
    numeric = features.known(labelled)
    X = design(labelled, numeric)
    y = labelled["churned"].to_numpy().astype(int)
    dates = labelled["week_end"].to_numpy()
    every = max(2, -(-labelled.height // MAX_TRAIN_ROWS))
    leaf = max(100, labelled.height // every // 40)
    fitted, results, failed, refit_errors = _fit_candidates(X, y, dates, numeric, every, leaf)
    accounts = labelled["account_id"].to_numpy()
    best, est = _choose(fitted, results, failed, (X, y, dates), accounts, refit_errors)
    default = next(iter(fitted))
    oot = rows_at(labelled, est.oot_index_)
    # The decision point's inputs for the backtest rows alone (not every labelled week)
    decision_raw = est.predict_oot(design(model_health.at_decision(oot), numeric), calibrate=False)
    oot = oot.with_columns(
        risk=pl.Series(est.oot_proba_),
        decision_risk=pl.Series(est.calibrate(decision_raw)),
    )
    base_rate = float(y.mean())
    usual = model_health.usual_risk(oot, base_rate)
    health = model_health.health(pl.col("decision_risk"), usual)
    oot = oot.with_columns(
        flagged=health < scorecard.config().at_risk_below,
        watched=health < scorecard.config().healthy_from,
    )
    card = {
        "status": "model",
        "model": best,
        "candidates": results,
        "failed_candidates": failed,
        "selection": (
            f"{default} unless a challenger beats its backtest AUC in at least "
            f"{CHALLENGER_WINS:.0%} of account-level bootstrap resamples"
        ),
        "numeric_features": numeric,
        "categorical_features": list(features.CATEGORICAL),
        "feature_labels": {f: features.LABELS[f] for f in numeric},
        "training_window": {
            "from": str(labelled["week_end"].min()),
            "to": str(labelled["week_end"].max()),
            "rows": labelled.height,
            "accounts": labelled["account_id"].n_unique(),
            "churned_accounts": churned,
            "positive_snapshots": int(y.sum()),
        },
        "base_rate": base_rate,
        "usual_decision_risk": usual,
        "backtest": _backtest(est, oot),
        "baselines": {
            name: {
                "auc": auc(oot["churned"].to_numpy(), s),
                "top_decile_lift": top_decile_lift(oot["churned"].to_numpy(), s),
            }
            for name, s in baseline_scores(oot).items()
        },
        "calibration": calibration_table(oot["churned"].to_numpy(), est.oot_proba_),
        "lead_time": lead_time(oot),
        "importance": importance.of_last_fold(est, X, y, oot, numeric),
    }
    card["earns_place"] = earns_place(card)
    if not card["earns_place"]["passed"]:
        raise ModelNotEarned(card["earns_place"]["reason"], card)
    # What `backtest_rows` would predict again with the fold models, made here once
    folds = np.repeat(np.arange(len(est.folds_)), [len(i) for i in est.fold_indices_])
    made = _backtest_frame(
        oot, est, best, folds, est.oot_raw_, est.oot_proba_, est.calibrate_oot(decision_raw)
    )
    return Fitted(est, numeric, card, made)


BACKTEST_TYPES = {
    "account_id": "VARCHAR",
    "week_end": "DATE",
    "fold": "INTEGER",
    "model": "VARCHAR",
    "trained_to": "DATE",
    "outcomes_known_by": "DATE",
    "test_from": "DATE",
    "test_to": "DATE",
    "churn_risk": "DOUBLE",
    "churn_risk_raw": "DOUBLE",
    "decision_risk": "DOUBLE",
    "churned": "BOOLEAN",
}


def backtest_rows(fitted: Fitted | None, frame: pl.DataFrame) -> pl.DataFrame:
    """The backtest's out-of-time predictions, one row per account and week of a test period:
    each made by the fold model trained only on snapshots whose 90-day outcome was known by
    `outcomes_known_by`, before the week it predicts (the model that scores today saw them all).
    Made by the training; remade from the saved fold models when a refresh reuses the model.
    Empty without a model."""
    empty = pl.DataFrame(schema={c: _POLARS[t] for c, t in BACKTEST_TYPES.items()})
    if fitted is None:
        return empty
    if fitted.backtest is not None:
        return pl.concat([empty, fitted.backtest], how="vertical_relaxed")
    with threadpool_limits(limits=1):  # see step._model_health
        parts = _fold_rows(fitted, training_rows(frame))
    return pl.concat([empty, *parts], how="vertical_relaxed")


def _fold_rows(fitted: Fitted, labelled: pl.DataFrame) -> list[pl.DataFrame]:
    """`backtest_rows` remade from the saved fold models, fold by fold."""
    est, parts = fitted.estimator, []
    for f, fold in enumerate(est.folds_):
        start, end = (dt.date.fromisoformat(fold[k]) for k in ("test_from", "test_to"))
        rows = labelled.filter(pl.col("week_end").is_between(start, end))
        raw, risk = est.predict_fold(f, design(rows, fitted.numeric))
        _, decision = est.predict_fold(f, design(model_health.at_decision(rows), fitted.numeric))
        folds = np.full(rows.height, f)
        model = fitted.card.get("model")
        parts.append(_backtest_frame(rows, est, model, folds, raw, risk, decision))
    return parts


def _backtest_frame(rows: pl.DataFrame, est, model, folds, raw, risk, decision) -> pl.DataFrame:
    """`backtest_rows`' columns for backtest rows, the (0-based) fold of each and their raw,
    calibrated and decision-point predictions."""
    horizon = dt.timedelta(days=est.horizon_days)
    day = dt.date.fromisoformat
    per_fold = pl.DataFrame(
        {
            "fold": np.arange(1, len(est.folds_) + 1),
            "trained_to": [day(f["train_to"]) for f in est.folds_],
            "outcomes_known_by": [day(f["train_to"]) + horizon for f in est.folds_],
            "test_from": [day(f["test_from"]) for f in est.folds_],
            "test_to": [day(f["test_to"]) for f in est.folds_],
        },
        schema_overrides={"fold": pl.Int32},
    )
    return (
        rows.select(
            "account_id",
            "week_end",
            pl.Series("fold", np.asarray(folds) + 1, dtype=pl.Int32),
            pl.lit(model, pl.String).alias("model"),
            pl.Series("churn_risk", risk, dtype=pl.Float64),
            pl.Series("churn_risk_raw", raw, dtype=pl.Float64),
            pl.Series("decision_risk", decision, dtype=pl.Float64),
            "churned",
        )
        .join(per_fold, on="fold", how="left", maintain_order="left")
        .select(list(BACKTEST_TYPES))
    )


_POLARS = {
    "VARCHAR": pl.String,
    "DATE": pl.Date,
    "INTEGER": pl.Int32,
    "DOUBLE": pl.Float64,
    "BOOLEAN": pl.Boolean,
}


def training_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Snapshots with a known outcome, from four weeks into the usage data. An export of an
    established company's last months has accounts signed up long before; their weeks before
    the data are empty, and only survivors are in it, so they would teach that nobody churns."""
    first = frame.select(pl.col("week_end").filter(pl.col("events_28d") > 0).min()).item()
    start = first + dt.timedelta(days=28) if first is not None else dt.date.min
    keep = frame.select(pl.col("churned").is_not_null() & (pl.col("week_end") >= start))
    return rows_at(frame, keep.to_series().arg_true().to_numpy())


def rows_at(frame: pl.DataFrame, positions: np.ndarray) -> pl.DataFrame:
    """The frame's rows at these (ascending) positions: a slice, which copies nothing, when
    they follow each other (in week order, the weeks with a known outcome and the backtest's
    test periods do), else a copy."""
    positions = np.asarray(positions)
    if len(positions) and positions[-1] - positions[0] + 1 == len(positions):
        return frame.slice(int(positions[0]), len(positions))
    return frame[positions] if len(positions) else frame.clear()


def _fit_candidates(X, y, dates, numeric: list[str], every: int, leaf: int):
    """Backtest every model family, simplest first; a family that cannot learn this data (a
    fold with an empty or constant feature, one class) steps aside with the reason kept.
    Returns the backtested ones (simplest first; the default refitted, `_choose` refits
    another if it is chosen), their scores, the failures, and the default's refit error."""
    fitted, results, failed, refit_errors = {}, {}, {}, {}
    pipes = candidates(numeric, list(features.CATEGORICAL), leaf)
    default = next(iter(pipes))
    # The families are independent and each trains on one thread (their native code frees the
    # GIL): side by side they take the time of the slowest instead of the sum, on 2 cores. The
    # default, nearly always the one chosen, is also refitted on every snapshot in its thread,
    # while the challengers' longer backtests run (the refit `_choose` would do after them).
    with ThreadPoolExecutor(max_workers=max(1, min(len(pipes), os.cpu_count() or 1))) as pool:
        runs = {
            name: pool.submit(
                _backtest_family,
                TimeSplitCalibrated(pipe, train_every=every),
                (X, y, dates),
                refit=name == default,
            )
            for name, pipe in pipes.items()
        }
    for name, run in runs.items():  # in the families' order, as one after the other
        try:
            est, refit_error = run.result()
        except NotEnoughHistory:
            raise  # the data, not the family: no other family will do better
        except Exception as exc:  # noqa: BLE001 - any family's failure falls back to the next
            _step_aside(failed, name, exc)
            continue
        yy = y[est.oot_index_]
        fitted[name] = est
        if refit_error is not None:
            refit_errors[name] = refit_error
        results[name] = {
            "auc": auc(yy, est.oot_raw_),
            "top_decile_lift": top_decile_lift(yy, est.oot_raw_),
        }
    if not fitted:
        _none_left(failed)
    return fitted, results, failed, refit_errors


def _backtest_family(
    est: TimeSplitCalibrated, data: tuple, refit: bool = False
) -> tuple[TimeSplitCalibrated, Exception | None]:
    """The family's backtest, and (`refit`) its model on every snapshot: (estimator, the refit's
    error or None). A failed refit is `_choose`'s to handle, if the family is chosen."""
    # OpenMP's thread count is a setting of the calling thread: one here too (see step.fit).
    with threadpool_limits(limits=1, user_api="openmp"):
        est.backtest(*data)
        if refit:
            try:
                est.refit(*data)
            except Exception as exc:  # noqa: BLE001 - as a refit in `_choose` would fail
                return est, exc
        return est, None


def _step_aside(failed: dict, name: str, exc: Exception) -> None:
    failed[name] = f"{type(exc).__name__}: {exc}"
    log.warning("model family %s could not be trained: %s", name, failed[name])


def _none_left(failed: dict):
    why = "; ".join(f"{n.replace('_', ' ')}: {w}" for n, w in failed.items())
    raise NotEnoughHistory(f"no model family could be trained on this data ({why})")


def _choose(
    fitted: dict, results: dict, failed: dict, data: tuple, accounts: np.ndarray, refit_errors
):
    """The family that carries the score, and its model trained on every snapshot: the default
    unless a challenger wins (`_select`). Only that one is refitted on it all (the others'
    full fits were never used), unless `_fit_candidates` already did (the default; its error,
    if any, in `refit_errors`); one whose refit fails steps aside as in the backtest, and the
    choice is made again among the rest."""
    X, y, dates = data
    while True:
        best = _select(fitted, results, y, accounts)
        try:
            if best in refit_errors:
                raise refit_errors[best]
            if hasattr(fitted[best], "estimator_"):  # refitted beside the backtests
                return best, fitted[best]
            return best, fitted[best].refit(X, y, dates)
        except Exception as exc:  # noqa: BLE001 - as in _fit_candidates
            _step_aside(failed, best, exc)
            del fitted[best], results[best]
            if not fitted:
                _none_left(failed)


def _select(fitted: dict, results: dict, y: np.ndarray, accounts: np.ndarray) -> str:
    """The default (first) family, unless a challenger beats its backtest AUC in at least
    CHALLENGER_WINS of account-level bootstrap resamples."""
    default, *challengers = fitted
    results[default].pop("wins_bootstrap_share", None)  # a challenger until a refit failed
    best = default
    for name in challengers:
        idx = fitted[name].oot_index_  # the same backtest rows for every candidate
        share = win_share(y[idx], fitted[default].oot_raw_, fitted[name].oot_raw_, accounts[idx])
        results[name]["wins_bootstrap_share"] = share
        if share >= CHALLENGER_WINS and results[name]["auc"] > results[best]["auc"]:
            best = name
    return best


def earns_place(card: dict) -> dict:
    """Whether the backtest beats the best simple rule and is calibrated within tolerance."""
    bt = card["backtest"]
    rules = {n: b["auc"] for n, b in card["baselines"].items() if n in SIMPLE_RULES and b["auc"]}
    rule = max(rules, key=rules.get) if rules else None
    rule_auc = rules.get(rule, 0.5)
    gap = bt["mean_predicted"] / bt["observed_rate"] - 1 if bt["observed_rate"] else None
    model_auc = bt["auc"] or 0.5
    beats = model_auc > rule_auc
    calibrated = gap is not None and abs(gap) <= CALIBRATION_TOLERANCE
    name = card["model"].replace("_", " ")
    if not beats:
        reason = (
            f"the {name} model's backtest AUC {model_auc:.2f} does not beat the simple rule "
            f"'{rule}' ({rule_auc:.2f})"
        )
    elif not calibrated:
        reason = (
            f"the {name} model's mean predicted risk {bt['mean_predicted']:.1%} is not within "
            f"{CALIBRATION_TOLERANCE:.0%} of the observed rate {bt['observed_rate']:.1%}"
        )
    else:
        reason = (
            f"{name}: backtest AUC {model_auc:.2f} beats the best simple rule '{rule}' "
            f"({rule_auc:.2f}); mean predicted {bt['mean_predicted']:.1%} vs "
            f"{bt['observed_rate']:.1%} observed"
        )
    return {
        "passed": beats and calibrated,
        "reason": reason,
        "best_rule": rule,
        "best_rule_auc": rule_auc,
        "model_auc": model_auc,
        "calibration_gap": gap,
    }


def _backtest(est: TimeSplitCalibrated, oot: pl.DataFrame) -> dict:
    y = oot["churned"].to_numpy().astype(int)
    return {
        "folds": est.folds_,
        "rows": oot.height,
        "auc": auc(y, est.oot_raw_),
        "top_decile_lift": top_decile_lift(y, est.oot_raw_),
        "mean_predicted": float(est.oot_proba_.mean()),
        "observed_rate": float(y.mean()),
        "brier": float(np.mean((est.oot_proba_ - y) ** 2)),
    }
