"""Features: which features' early adoption goes with retention and expansion, with intervals."""

import polars as pl
import streamlit as st

from health.analytics import feature_outcomes as feature_impact
from health.app import connection, filters, memo, signin, tables, widgets
from health.app.charts import product as charts_product
from health.db import catalog

signin.require_page("features")

st.title("Features")
con = connection.cursor()
if not catalog.is_refreshed(con):
    widgets.empty_state("No feature usage to compare yet.")
    st.stop()


@st.cache_data(show_spinner="Comparing adopters with the rest…", max_entries=16)
def _impact(version, scope: tuple | None, min_n: int) -> feature_impact.Impact:
    # Keyed on small values (the database version, ids, a number), never on frames.
    return feature_impact.compare(connection.cursor(), account_ids=scope, min_n=min_n)


scope = filters.scope()
impact = _impact(connection.version(), None if scope is None else tuple(scope), 10)
st.caption(
    "Adopters used a feature in their first 90 days. Outcomes: still a customer 180 days after "
    "signup, and expanding (MRR or seats grew) within 365 days. Only accounts old enough for an "
    "outcome are judged on it. **Association, not causation.**"
)
if impact.notes:
    st.info(" ".join(impact.notes), icon=":material/info:")
if impact.table.is_empty():
    st.stop()

m1, m2, m3 = st.columns(3)
m1.metric(
    "Judged on retention", f"{impact.judged.get('retained', 0):,}", help="Accounts 180+ days old"
)
m2.metric(
    "Judged on expansion", f"{impact.judged.get('expanded', 0):,}", help="Accounts 365+ days old"
)
m3.metric("Features compared", f"{impact.table['feature'].n_unique():,}")

show_small = st.toggle(
    "Include features with fewer than 10 accounts on either side",
    key="fi_small",
    help="A feature nearly everyone (or nearly no one) uses leaves too few accounts to compare.",
)
shown = impact.table if show_small else impact.table.filter(~pl.col("small_sample"))
if shown.is_empty():
    st.info(
        "Every feature has fewer than 10 accounts on one side: switch on the toggle above to "
        "see them anyway, with very wide intervals.",
        icon=":material/info:",
    )
else:
    drawn = (memo.scope_key(scope), show_small)
    st.plotly_chart(memo.figure(drawn, charts_product.feature_forest, shown), width="stretch")
    st.caption(
        "Each point: the adopters' rate minus the other accounts' rate, in percentage points, "
        "with a 95 % interval (Newcombe's, from Wilson intervals of each rate). An interval "
        "that crosses zero (grey) is consistent with no difference. "
        + charts_product.CAUSATION_NOTE
    )

tables.dataframe(
    impact.table,
    {
        "feature": "Feature",
        "outcome": None,
        "outcome_label": "Outcome",
        "adopters": st.column_config.NumberColumn("Adopters (n)", format="localized"),
        "adopters_reached": st.column_config.NumberColumn("…reached it", format="localized"),
        "adopter_rate": st.column_config.NumberColumn("Adopters' rate", format="percent"),
        "adopter_low": st.column_config.NumberColumn("95 % low", format="percent"),
        "adopter_high": st.column_config.NumberColumn("95 % high", format="percent"),
        "others": st.column_config.NumberColumn("Others (n)", format="localized"),
        "others_reached": st.column_config.NumberColumn("…reached it", format="localized"),
        "other_rate": st.column_config.NumberColumn("Others' rate", format="percent"),
        "other_low": st.column_config.NumberColumn("95 % low", format="percent"),
        "other_high": st.column_config.NumberColumn("95 % high", format="percent"),
        "difference": st.column_config.NumberColumn("Difference", format="percent"),
        "difference_low": st.column_config.NumberColumn("95 % low", format="percent"),
        "difference_high": st.column_config.NumberColumn("95 % high", format="percent"),
        "small_sample": st.column_config.CheckboxColumn("Under 10 on a side"),
    },
)
widgets.download(impact.table, "feature-impact")
