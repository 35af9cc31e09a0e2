"""Portfolio: health and moments over time, and what churn scenarios mean for revenue."""

from __future__ import annotations

import polars as pl

from health import db


def health_weeks(con, account_ids: list[str] | None = None) -> pl.DataFrame:
    """Accounts and ARR per tier per week (the health distribution over time)."""
    return db.query(con, "q_portfolio_health_weeks", account_ids=account_ids or [])


def moments_months(con, account_ids: list[str] | None = None) -> pl.DataFrame:
    """Moments detected per month per moment type."""
    return db.query(con, "q_portfolio_moments_months", account_ids=account_ids or [])


def churn_scenarios(mrr: float, monthly_net_churn: dict[str, float], months: int = 12):
    """Revenue over the next `months` and the MRR reached, for each monthly net churn rate.

    Net churn is lost MRR minus expansion, as a share of MRR each month: +5 % shrinks the
    book by 5 % a month, -5 % (net expansion) grows it by 5 %. MRR compounds monthly.
    """
    rows = []
    for name, rate in monthly_net_churn.items():
        path = [mrr * (1 - rate) ** m for m in range(1, months + 1)]
        rows.append(
            {
                "scenario": name,
                "monthly_net_churn": rate,
                "revenue_next_12_months": sum(path),
                "arr_in_12_months": path[-1] * 12,
            }
        )
    frame = pl.DataFrame(rows)
    base = frame["revenue_next_12_months"].min()
    return frame.with_columns(
        (pl.col("revenue_next_12_months") / base - 1).alias("vs_worst"),
    )


def path(mrr: float, rate: float, months: int = 12) -> pl.DataFrame:
    """Month-by-month MRR under one monthly net churn rate."""
    return pl.DataFrame(
        {
            "month": list(range(months + 1)),
            "mrr": [mrr * (1 - rate) ** m for m in range(months + 1)],
        }
    )
