"""Which features' early adoption goes with retention and expansion: rates, intervals, no causes.

Per feature, accounts are split into adopters (used it in their first `early_days` days) and the
rest. Two outcomes, each judged only on accounts old enough for it: still a customer
`retention_days` after signup, and expanding (MRR or seats grew, int_journey_milestones) within
`expansion_days`. Each rate gets a Wilson 95 % interval and the difference (adopters minus the
rest) Newcombe's hybrid score interval, built from the two Wilson intervals. Adopters differ from
the rest in many ways (size, intent, onboarding help): these are associations, not effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from health import db

Z95 = 1.959963984540054  # the normal quantile for a two-sided 95 % interval
OUTCOMES = {
    "retained": "Still a customer {retention_days} days after signup",
    "expanded": "Expanding within {expansion_days} days of signup",
}
COLUMNS = (
    "feature", "outcome", "outcome_label",
    "adopters", "adopters_reached", "adopter_rate", "adopter_low", "adopter_high",
    "others", "others_reached", "other_rate", "other_low", "other_high",
    "difference", "difference_low", "difference_high", "small_sample",
)  # fmt: skip
_NEEDS = (
    "params",
    "stg_accounts",
    "int_event_days",
    "int_kpi_revenue_periods",
    "int_journey_milestones",
)


def wilson(reached: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """The Wilson score interval (low, high) of reached / n; null when n is 0."""
    n = n.cast(pl.Float64)
    p = reached.cast(pl.Float64) / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z / denominator * (p * (1 - p) / n + z**2 / (4 * n**2)).sqrt()
    valid = n > 0
    return (
        pl.when(valid).then((centre - half).clip(0, 1)),
        pl.when(valid).then((centre + half).clip(0, 1)),
    )


def newcombe(
    p1: pl.Expr, low1: pl.Expr, high1: pl.Expr, p2: pl.Expr, low2: pl.Expr, high2: pl.Expr
) -> tuple[pl.Expr, pl.Expr]:
    """Newcombe's hybrid score interval (low, high) for p1 - p2, from the two Wilson intervals."""
    difference = p1 - p2
    low = difference - ((p1 - low1) ** 2 + (high2 - p2) ** 2).sqrt()
    high = difference + ((high1 - p1) ** 2 + (p2 - low2) ** 2).sqrt()
    return low, high


def with_intervals(counts: pl.DataFrame, min_n: int = 10) -> pl.DataFrame:
    """Add rates, Wilson intervals, the difference and its Newcombe interval to a counts frame."""
    a_low, a_high = wilson(pl.col("adopters_reached"), pl.col("adopters"))
    o_low, o_high = wilson(pl.col("others_reached"), pl.col("others"))
    rates = counts.with_columns(
        adopter_rate=pl.when(pl.col("adopters") > 0).then(
            pl.col("adopters_reached") / pl.col("adopters")
        ),
        adopter_low=a_low,
        adopter_high=a_high,
        other_rate=pl.when(pl.col("others") > 0).then(pl.col("others_reached") / pl.col("others")),
        other_low=o_low,
        other_high=o_high,
    )
    d_low, d_high = newcombe(
        pl.col("adopter_rate"), a_low, a_high, pl.col("other_rate"), o_low, o_high
    )
    return rates.with_columns(
        difference=pl.col("adopter_rate") - pl.col("other_rate"),
        difference_low=d_low,
        difference_high=d_high,
        small_sample=pl.min_horizontal("adopters", "others") < min_n,
    )


@dataclass
class Impact:
    """Feature impact: one row per feature per outcome, what was judged, and what is missing."""

    table: pl.DataFrame
    accounts: int = 0
    judged: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def compare(
    con,
    *,
    account_ids: list[str] | None = None,
    early_days: int = 90,
    retention_days: int = 180,
    expansion_days: int = 365,
    min_n: int = 10,
) -> Impact:
    """Adopters vs non-adopters of each feature on retention and expansion, with 95 % intervals."""
    if not all(db.table_exists(con, t) for t in _NEEDS):
        return Impact(
            _empty(), notes=["The journey tables are missing: run `python -m health refresh`."]
        )
    windows = {"retention_days": retention_days, "expansion_days": expansion_days}
    ids = None if account_ids is None else list(account_ids)
    coverage = db.query(con, "q_feature_coverage", account_ids=ids, **windows).row(0, named=True)
    counts = db.query(con, "q_feature_outcomes", account_ids=ids, early_days=early_days, **windows)
    labels = {k: v.format(**windows) for k, v in OUTCOMES.items()}
    table = (
        with_intervals(counts, min_n)
        .with_columns(outcome_label=pl.col("outcome").replace_strict(labels, default=None))
        .select(COLUMNS)
        .sort("outcome", "difference", descending=[True, True], nulls_last=True)
    )
    judged = {"retained": coverage["judged_retained"], "expanded": coverage["judged_expanded"]}
    return Impact(table, coverage["accounts"] or 0, judged, _notes(coverage, windows, counts))


def _notes(coverage: dict, windows: dict, counts: pl.DataFrame) -> list[str]:
    notes = []
    if not coverage["accounts"]:
        return ["No accounts match the filters."]
    if not coverage["has_subscriptions"]:
        notes.append(
            "Expansion can't be judged: no subscriptions are loaded. Load `subscriptions.csv` "
            "(MRR and seats per contract period) to see which features go with expansion."
        )
    elif not coverage["judged_expanded"]:
        notes.append(
            f"No account signed up over {windows['expansion_days']} days ago, so none can be "
            "judged on expansion yet."
        )
    if not coverage["judged_retained"]:
        notes.append(
            f"No account signed up over {windows['retention_days']} days ago, so none can be "
            "judged on retention yet."
        )
    elif counts.is_empty():
        notes.append("No feature was used in the accounts' first days: the events name none.")
    return notes


def _empty() -> pl.DataFrame:
    types = {"feature": pl.String, "outcome": pl.String, "outcome_label": pl.String}
    return pl.DataFrame(schema={c: types.get(c, pl.Float64) for c in COLUMNS})
