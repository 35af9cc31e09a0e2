"""The Segments page's tables: the groups' summary and the numbers behind each chart."""

from __future__ import annotations

import streamlit as st

from health.analytics import segments
from health.app import tables, widgets


def summary_columns(by: str) -> dict:
    """Headers and formats of the summary table, one row per group of the breakdown `by`."""
    number = st.column_config.NumberColumn
    return {
        "group": segments.BREAKDOWNS[by],
        "accounts": number("Accounts", format="localized"),
        "activation_eligible": number("Judged on activation", format="localized"),
        "activation_rate": number(
            "Activated within 30 d", format="percent", help="Of accounts signed up 30+ days ago"
        ),
        "reached_value_share": number("Reached first value", format="percent"),
        "median_ttv_days": number("Median TTV (days)", format="%.1f"),
        "p90_ttv_days": number("p90 TTV (days)", format="%.1f"),
        "dau_mau": number("DAU/MAU", format="percent"),
        "retention_12m": number("Customers at 12 months", format="percent"),
        "median_health": number("Median health", format="%.0f"),
        "at_risk_share": number("At risk", format="percent"),
        "moments_per_100": number("Moments per 100", format="%.1f"),
    }


def numbers_behind_the_charts(cmp: segments.Comparison, by: str) -> None:
    """One tab per chart with its table and CSV."""

    def table(frame, name: str, config: dict | None = None) -> None:
        cohort = st.column_config.DateColumn("Signup month", format="MMM YYYY")
        group = segments.BREAKDOWNS[by]
        tables.dataframe(frame, {"group": group, "cohort": cohort, **(config or {})})
        widgets.download(frame, f"segments-{by}-{name}")

    names = ["Activation by cohort", "Retention", "Adoption", "Health", "Moments"]
    t1, t2, t3, t4, t5 = st.tabs(names)
    with t1:
        table(cmp.activation, "activation")
    with t2:
        table(cmp.retention, "retention", {"at_risk": "At risk (customers, old enough)"})
    with t3:
        table(cmp.adoption, "feature-adoption")
    with t4:
        table(cmp.health, "health")
    with t5:
        table(cmp.moments, "moments")
