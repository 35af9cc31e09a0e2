"""From churn risk to a 0-100 health score and a tier, the same way for every account.

churn_risk is the calibrated probability of churn within 90 days, so it is mostly about timing:
an annual account churns almost only at renewal, and 200 days before it its 90-day risk is
near zero however badly it is doing. Health asks the model a timing-free question instead:
the risk at the account's next decision point (as if its renewal were 45 days away; accounts
without a fixed term decide every month, so their own risk is that already), compared with the
usual risk at such a point. 50 is usual, 100 no risk; 33 is twice the usual risk.
"""

from __future__ import annotations

import polars as pl

from health.scoring.features import HORIZON_DAYS

ON_TERMS = "on terms"
NO_TERM = "no fixed term"
DECISION_DAYS = 45.0  # "renewal due": the middle of the 90-day horizon
MIN_GROUP_CHURNS = 5

_later = pl.col("days_to_renewal") > HORIZON_DAYS
MOVED = _later  # the rows `at_decision` changes (null: none)
_due = pl.col("days_to_renewal") <= HORIZON_DAYS
GROUP = (
    pl.when(pl.col("days_to_renewal").is_null()).then(pl.lit(NO_TERM)).otherwise(pl.lit(ON_TERMS))
)


def at_decision(frame: pl.DataFrame) -> pl.DataFrame:
    """The same rows as if every account on terms were 45 days from its renewal."""
    return frame.with_columns(
        days_to_renewal=pl.when(_later)
        .then(pl.lit(DECISION_DAYS))
        .otherwise(pl.col("days_to_renewal")),
        renewal_within_90d=pl.when(_later)
        .then(pl.lit(1.0))
        .otherwise(pl.col("renewal_within_90d")),
    )


def usual_risk(oot: pl.DataFrame, overall: float) -> dict[str, float]:
    """The mean out-of-time predicted risk at a decision point: accounts on terms whose renewal
    was due within 90 days, and accounts without a fixed term (overall where churns are few)."""
    rows = oot.filter(_due | pl.col("days_to_renewal").is_null())
    groups = rows.group_by(GROUP.alias("group")).agg(
        pl.col("risk").mean().alias("usual"), pl.col("churned").sum().alias("churns")
    )
    found = {
        r["group"]: r["usual"]
        for r in groups.iter_rows(named=True)
        if r["churns"] >= MIN_GROUP_CHURNS
    }
    return {g: float(found.get(g, overall)) for g in (ON_TERMS, NO_TERM)}


def health(decision_risk: pl.Expr, usual: dict[str, float]) -> pl.Expr:
    """0-100: 100 / (1 + decision risk / the usual decision risk of the account's group)."""
    base = GROUP.replace_strict(usual, return_dtype=pl.Float64).clip(1e-6)
    return 100.0 / (1.0 + decision_risk / base)
