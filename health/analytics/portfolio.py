"""Portfolio: health and moments over time, and what churn scenarios mean for revenue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from health import db
from health.analytics import metrics

# is_partial: the as-of date's calendar week, not over yet (week to date)
HEALTH_WEEKS = {
    "week_end": pl.Date,
    "tier": pl.String,
    "accounts": pl.Int64,
    "arr": pl.Float64,
    "is_partial": pl.Boolean,
}
MOMENTS_MONTHS = {"month": pl.Date, "moment": pl.String, "moments": pl.Int64}
# The comparison the field quotes: -5 % (net expansion) against +5 % monthly net churn.
SCENARIOS = (-0.05, 0.0, 0.05)


def _query(con, name: str, needs: tuple[str, ...], schema: dict, account_ids) -> pl.DataFrame:
    # A refresh without the model or the moment detector leaves their tables out: say "none".
    if not all(db.table_exists(con, t) for t in needs):
        return pl.DataFrame(schema=schema)
    # None keeps every account and an empty list none, as in health.metrics; the SQL reads an
    # empty list as "no filter", so the empty case is cut here.
    frame = db.query(con, name, account_ids=list(account_ids or []))
    return frame.clear() if account_ids is not None and not account_ids else frame


def health_weeks(con, account_ids: list[str] | None = None) -> pl.DataFrame:
    """Accounts and ARR per tier per week (the health distribution over time)."""
    needs = ("mart_health_history", "stg_accounts", "params")
    return _query(con, "q_portfolio_health_weeks", needs, HEALTH_WEEKS, account_ids)


def moments_months(con, account_ids: list[str] | None = None) -> pl.DataFrame:
    """Moments detected per month per moment type."""
    needs = ("moments", "params")
    return _query(con, "q_portfolio_moments_months", needs, MOMENTS_MONTHS, account_ids)


def observed_net_churn(nrr: float | None) -> float | None:
    """The monthly net churn that compounds to a yearly net revenue retention: 1 - NRR^(1/12)."""
    if nrr is None or nrr < 0:
        return None
    return 1 - nrr ** (1 / 12)


@dataclass(frozen=True)
class Headline:
    """The portfolio's revenue numbers as of the refresh date."""

    accounts: int
    arr: float
    arr_at_risk: float | None  # sum of ARR x churn risk
    arr_at_risk_tier: float | None  # ARR of the accounts on the at_risk tier
    accounts_at_risk: int | None
    note: str | None  # why ARR at risk is unknown
    grr: float | None  # trailing 12 months
    nrr: float | None
    retention_source: str | None  # subscriptions, or accounts.arr when none were loaded
    churn_month: dt.date | None  # the last complete month
    churn_rate: float | None
    annualised_churn: float | None

    @property
    def mrr(self) -> float:
        """Today's monthly recurring revenue: active ARR / 12."""
        return self.arr / 12

    @property
    def net_churn(self) -> float | None:
        """Observed monthly net churn, derived from the trailing NRR."""
        return observed_net_churn(self.nrr)


def _first(frame: pl.DataFrame, column: str):
    return frame[column][0] if frame.height else None


def headline(con, account_ids: list[str] | None = None) -> Headline:
    """ARR, ARR at risk, trailing GRR/NRR and last complete month's logo churn."""
    risk = metrics.run(con, "arr_at_risk", account_ids=account_ids)
    trailing = metrics.run(con, "revenue_retention", account_ids=account_ids).filter(
        pl.col("period") == "trailing"
    )
    churn = metrics.run(con, "churn", account_ids=account_ids)
    if churn.height:
        churn = churn.filter(pl.col("complete")).sort("month").tail(1)
    return Headline(
        accounts=int(_first(risk, "active_accounts") or 0),
        arr=float(_first(risk, "arr") or 0),
        arr_at_risk=_first(risk, "arr_at_risk"),
        arr_at_risk_tier=_first(risk, "arr_at_risk_tier"),
        accounts_at_risk=_first(risk, "accounts_at_risk"),
        note=_first(risk, "note"),
        grr=_first(trailing, "grr"),
        nrr=_first(trailing, "nrr"),
        retention_source=_first(trailing, "source"),
        churn_month=_first(churn, "month"),
        churn_rate=_first(churn, "churn_rate"),
        annualised_churn=_first(churn, "annualised_churn"),
    )


def rate_label(rate: float) -> str:
    """A monthly rate as people write it: +5 %, −5 %, 0 %, +2.7 %."""
    pct = round(rate * 100, 1)
    if pct == 0:
        return "0 %"
    text = f"{abs(pct):.1f}".removesuffix(".0")
    return f"{'+' if pct > 0 else '−'}{text} %"


def scenario_rates(observed: float | None = None) -> dict[str, float]:
    """The scenarios to compare: the observed monthly net churn (if known), −5 %, 0 and +5 %."""
    rates = {} if observed is None else {f"Observed ({rate_label(observed)})": observed}
    return rates | {rate_label(r): r for r in SCENARIOS}


def path(mrr: float, rate: float, months: int = 12) -> pl.DataFrame:
    """Month-by-month MRR under one monthly net churn rate (month 0 is today)."""
    return pl.DataFrame(
        {
            "month": list(range(months + 1)),
            "mrr": [mrr * (1 - rate) ** m for m in range(months + 1)],
        }
    )


def revenue(mrr: float, rate: float, months: int = 12) -> float:
    """Revenue billed over the next `months`: this month at today's MRR, then compounding.

    With this convention -5 % instead of +5 % brings about 73 % more revenue in a year, the
    figure customer-success writing quotes for churn prevention; summing months 1..12 instead
    would say 91 %.
    """
    return sum(mrr * (1 - rate) ** m for m in range(months))


def churn_scenarios(mrr: float, monthly_net_churn: dict[str, float], months: int = 12):
    """Revenue over the next `months` and the MRR reached, for each monthly net churn rate.

    Net churn is lost MRR minus expansion, as a share of MRR each month: +5 % shrinks the
    book by 5 % a month, -5 % (net expansion) grows it by 5 %. MRR compounds monthly.
    """
    rows = [
        {
            "scenario": name,
            "monthly_net_churn": rate,
            "revenue_next_12_months": revenue(mrr, rate, months),
            "mrr_in_12_months": mrr * (1 - rate) ** months,
            "arr_in_12_months": mrr * (1 - rate) ** months * 12,
        }
        for name, rate in monthly_net_churn.items()
    ]
    frame = pl.DataFrame(rows)
    base = frame["revenue_next_12_months"].min()
    return frame.with_columns(
        (pl.col("revenue_next_12_months") / base - 1).alias("vs_worst"),
    )


def paths(mrr: float, monthly_net_churn: dict[str, float], months: int = 12) -> pl.DataFrame:
    """Month-by-month MRR for every scenario, long: scenario, monthly_net_churn, month, mrr."""
    return pl.concat(
        [
            path(mrr, rate, months).select(
                pl.lit(name).alias("scenario"),
                pl.lit(rate, dtype=pl.Float64).alias("monthly_net_churn"),
                "month",
                "mrr",
            )
            for name, rate in monthly_net_churn.items()
        ]
    )


def compare(mrr: float, better: float = -0.05, worse: float = 0.05, months: int = 12) -> str:
    """One sentence: what `better` instead of `worse` monthly net churn means for revenue."""
    b, w = revenue(mrr, better, months), revenue(mrr, worse, months)
    change = f"{b / w - 1:+.0%}".replace("%", " %") if w else "n/a"
    return (
        f"At {rate_label(better)} monthly net churn instead of {rate_label(worse)}, next year's "
        f"revenue would be ${b:,.0f} instead of ${w:,.0f} ({change}), on today's MRR of "
        f"${mrr:,.0f}."
    )


def observed_sentence(head: Headline, months: int = 12) -> str | None:
    """One sentence: where the observed net churn takes next year's revenue."""
    rate = head.net_churn
    if rate is None:
        return None
    kept, flat = revenue(head.mrr, rate, months), revenue(head.mrr, 0.0, months)
    word = "more" if kept > flat else "less"
    return (
        f"At the observed {rate_label(rate)} a month (trailing 12-month NRR "
        f"{head.nrr * 100:.1f} %), next year's revenue would be ${kept:,.0f}: "
        f"${abs(kept - flat):,.0f} {word} than if MRR held flat."
    )


def money(value: float | None) -> str:
    """$1,234 for a metric card, or an em dash when unknown."""
    return "—" if value is None else f"${value:,.0f}"


def percent(value: float | None, digits: int = 1) -> str:
    """12.3 % for a metric card, or an em dash when unknown."""
    return "—" if value is None else f"{value * 100:.{digits}f} %"
