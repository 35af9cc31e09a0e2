"""Did it work: what followed each playbook's actions, against comparable triggers left alone.

Two kinds of evidence, never mixed in one figure:
- *randomised*: where a playbook holds back a random share of its new actions (`holdout` in
  playbooks.toml), actions offered to a CSM against those held out; the difference is what
  offering the action did.
- *observational*: actions a CSM marked done against the same playbook's triggers with no
  action done (queued past the budget, dismissed, expired, held out, or from before the product
  was in use), compared within the same risk band and segment at the start. CSMs choose what to
  do, so a difference is only *associated with* the action.
Each figure has a 90 % interval from a bootstrap within risk band and segment.
"""

from __future__ import annotations

import os

import numpy as np
import polars as pl

from health import db
from health.actions import log as action_log

# What followed, with how a person reads it; a share is a proportion of the accounts judged.
OUTCOMES = {
    "health_change_4w": "Health 4 weeks later (points)",
    "health_change_12w": "Health 12 weeks later (points)",
    "churned_180d": "Churned within 180 days",
    "expanded_180d": "Expanded within 180 days",
}
SHARES = ("churned_180d", "expanded_180d")
STRATA = ("risk_band", "segment")
RANDOMISED, OBSERVATIONAL = "randomised", "observational"
# Triggers whose action was not done: the comparison group of the observational figures.
UNTREATED = ("queued", "expired", "dismissed", "held_out")
COLUMNS = {
    "reason": pl.String,
    "outcome": pl.String,
    "outcome_label": pl.String,
    "evidence": pl.String,
    "treated_n": pl.Int64,
    "compared_n": pl.Int64,
    "treated": pl.Float64,
    "compared": pl.Float64,
    "difference": pl.Float64,
    "low": pl.Float64,
    "high": pl.Float64,
    "reading": pl.String,
}


def episodes(con, log: str | os.PathLike) -> pl.DataFrame:
    """Every trigger episode with its start, arm facts, strata and outcomes (q_action_outcomes)."""
    if not (db.table_exists(con, "mart_actions") and db.table_exists(con, "mart_health_history")):
        return pl.DataFrame()
    done = action_log.statuses(log).filter(pl.col("status") == "done").select("action_id")
    cur = db.cursor(con)
    try:
        with db.registered(cur, "done_actions", done):
            return cur.sql(db.sql("q_action_outcomes")).pl()
    finally:
        cur.close()


def did_it_work(
    con, log: str | os.PathLike, reps: int = 400, seed: int = 0, min_n: int = 3
) -> pl.DataFrame:
    """Per playbook and outcome: treated against compared, the difference and its 90 % interval."""
    rows = episodes(con, log)
    if rows.is_empty():
        return pl.DataFrame(schema=COLUMNS)
    c = pl.col
    arms = {
        RANDOMISED: (c("assignment") == "offered", c("assignment") == "held_out"),
        OBSERVATIONAL: (c("done"), ~c("done") & c("state").is_in(UNTREATED)),
    }
    out = []
    rng = np.random.default_rng(seed)
    for reason in sorted(rows["reason"].unique().to_list()):
        mine = rows.filter(c("reason") == reason)
        for evidence, (treated, compared) in arms.items():
            if evidence == RANDOMISED and mine.filter(compared).is_empty():
                continue  # no holdout for this playbook: no randomised figure to give
            for outcome in OUTCOMES:
                judged = mine.filter(c(outcome).is_not_null())
                figure = _compare(judged, treated, compared, outcome, reps, rng, min_n)
                if figure:
                    out.append(
                        {"reason": reason, "outcome": outcome, "evidence": evidence, **figure}
                    )
    if not out:
        return pl.DataFrame(schema=COLUMNS)
    frame = pl.DataFrame(out).with_columns(outcome_label=c("outcome").replace_strict(OUTCOMES))
    return frame.with_columns(reading=_reading()).select([c(k).cast(t) for k, t in COLUMNS.items()])


def _compare(judged, treated, compared, outcome, reps, rng, min_n) -> dict | None:
    """Matched within strata: each stratum with both arms, weighted by its treated accounts."""
    t = judged.filter(treated).select(*STRATA, y=pl.col(outcome))
    k = judged.filter(compared).select(*STRATA, y=pl.col(outcome))
    # Sorted: the strata's order decides the bootstrap's draws, so the figures repeat exactly.
    both = t.select(STRATA).unique().join(k.select(STRATA).unique(), on=list(STRATA))
    both = both.sort(list(STRATA))
    t, k = t.join(both, on=list(STRATA)), k.join(both, on=list(STRATA))
    if t.height < min_n or k.height < min_n:
        return None
    weights, t_means, k_means = [], [], []
    for key in both.iter_rows():
        ty = _values(t, key)
        ky = _values(k, key)
        weights.append(len(ty))
        t_means.append(_boot_means(ty, reps, rng))
        k_means.append(_boot_means(ky, reps, rng))
    w = np.array(weights, dtype=float) / sum(weights)
    t_all = np.stack(t_means)  # strata x (reps + 1): column 0 is the sample itself
    k_all = np.stack(k_means)
    treated_v, compared_v = w @ t_all, w @ k_all
    diff = treated_v - compared_v
    low, high = np.percentile(diff[1:], [5, 95])
    return {
        "treated_n": t.height,
        "compared_n": k.height,
        "treated": float(treated_v[0]),
        "compared": float(compared_v[0]),
        "difference": float(diff[0]),
        "low": float(low),
        "high": float(high),
    }


def _values(frame: pl.DataFrame, key: tuple) -> np.ndarray:
    cond = pl.all_horizontal(pl.col(s) == v for s, v in zip(STRATA, key, strict=True))
    return frame.filter(cond)["y"].to_numpy().astype(float)


def _boot_means(y: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """The mean of y, then the means of `reps` resamples of it."""
    draws = rng.integers(0, len(y), size=(reps, len(y)))
    return np.concatenate([[y.mean()], y[draws].mean(axis=1)])


def _reading() -> pl.Expr:
    """The figure in words, with the wording its kind of evidence allows."""
    c = pl.col
    share = c("outcome").is_in(SHARES)
    scale = pl.when(share).then(100.0).otherwise(1.0)
    unit = pl.when(share).then(pl.lit(" percentage points")).otherwise(pl.lit(" points"))
    number = (c("difference") * scale).round(1).cast(pl.String)
    span = pl.format(
        "90 % interval {} to {}", (c("low") * scale).round(1), (c("high") * scale).round(1)
    )
    verb = (
        pl.when(c("evidence") == RANDOMISED)
        .then(pl.lit("offering the action changed it by "))
        .otherwise(pl.lit("doing the action is associated with a difference of "))
    )
    return pl.concat_str([verb, number, unit, pl.lit(" ("), span, pl.lit(")")])
