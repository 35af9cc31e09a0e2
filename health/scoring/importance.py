"""Which features the churn model leans on: permutation importance (ROC AUC lost when a
feature is shuffled) of the last backtest fold's model, with the direction each pushes risk."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from health.scoring import features


def of_last_fold(est, X, y, oot: pl.DataFrame, numeric: list[str], rows: int = 4000) -> list[dict]:
    """Permutation importance (AUC lost) of the last backtest model on its own test period, with
    the direction each feature pushes risk."""
    idx = est.fold_indices_[-1]
    if len(idx) > rows:
        idx = np.random.default_rng(0).choice(idx, rows, replace=False)
    if y[idx].min() == y[idx].max():
        return []
    importances = permutation_importance(est.fold_estimators_[-1], X.iloc[idx], y[idx])
    signs = oot.select(
        pl.corr(pl.col(f), pl.col("risk"), method="spearman").alias(f) for f in numeric
    ).row(0)
    direction = dict(zip(numeric, signs, strict=True))
    out = []
    for name, value in zip(X.columns, importances, strict=True):
        if value <= 0:
            continue
        rho = direction.get(name)
        out.append(
            {
                "feature": name,
                "label": features.LABELS.get(name, name),
                "importance": float(value),
                "direction": None if rho is None or np.isnan(rho) else float(np.sign(rho)),
            }
        )
    return sorted(out, key=lambda r: -r["importance"])


def permutation_importance(pipe, X, y: np.ndarray, repeats: int = 2, seed: int = 0) -> np.ndarray:
    """ROC AUC lost when each column of X is shuffled (mean over `repeats`): the figures
    scikit-learn's permutation_importance gives with the same seed, from the same shuffles, but
    with the pipeline's preprocessing run once. Its transforms work row by row, so shuffling a
    feature's transformed columns together is shuffling the feature."""
    *prep, (_, model) = pipe.steps
    groups = _column_groups(pipe, list(X.columns))
    if groups is None:  # a transformed column not traceable to one feature: the long way
        from sklearn.inspection import permutation_importance as sklearn_importance

        result = sklearn_importance(
            pipe, X, y, scoring="roc_auc", n_repeats=repeats, random_state=seed
        )
        return result.importances_mean
    Xt = type(pipe)(prep).transform(X)
    Xt = np.asarray(Xt.toarray() if hasattr(Xt, "toarray") else Xt, dtype=float)
    baseline = roc_auc_score(y, model.decision_function(Xt))
    # scikit-learn shuffles every feature with one seed drawn from random_state, repeats cumulative
    draw = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    lost, shuffled = np.zeros(len(groups)), Xt.copy()
    for j, cols in enumerate(groups):
        rng, order = np.random.RandomState(draw), np.arange(len(Xt))
        for _ in range(repeats):
            rng.shuffle(order)
            shuffled[:, cols] = shuffled[np.ix_(order, cols)]
            lost[j] += baseline - roc_auc_score(y, model.decision_function(shuffled))
        shuffled[:, cols] = Xt[:, cols]
    return lost / repeats


def _column_groups(pipe, columns: list[str]) -> list[list[int]] | None:
    """Per input column, the positions of the preprocessed columns made from it alone (itself,
    its missing-value indicator, its one-hot levels), or None if any is not one feature's."""
    try:
        names = list(pipe.named_steps["prep"].get_feature_names_out())
    except (KeyError, AttributeError, ValueError):
        return None
    groups: list[list[int]] = [[] for _ in columns]
    for i, name in enumerate(names):
        owners = [
            j
            for j, c in enumerate(columns)
            if name in (c, f"missingindicator_{c}")
            or (c in features.CATEGORICAL and name.startswith(f"{c}_"))
        ]
        if len(owners) != 1:
            return None
        groups[owners[0]].append(i)
    return groups
