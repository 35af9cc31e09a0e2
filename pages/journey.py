"""Journey: the aggregate journey map by group: funnel, time between milestones, stalls, TTV."""

import polars as pl
import streamlit as st

from health.analytics import journey, segments
from health.app import connection, filters, loaders, memo, signin, tables, widgets
from health.app.charts import product as charts_product
from health.db import catalog

signin.require_page("journey")

st.title("Journey")
con = connection.cursor()
if not catalog.is_refreshed(con):
    widgets.empty_state("No journey to map yet.")
    st.stop()

scope = filters.scope()
key = memo.scope_key(scope)
c1, c2, c3 = st.columns([1, 3, 1])
group_by = c1.selectbox(
    "Group by", journey.GROUPS, format_func=segments.BREAKDOWNS.get, key="jr_by"
)
stall_days = c3.number_input(
    "Stalled after (days)", min_value=7, max_value=365, value=60, step=15, key="jr_stall"
)
frame, options, missing = loaders.journey(group_by, key, stall_days)
if frame.is_empty():
    widgets.empty_state("No journey milestones yet." if scope is None else "No account matches.")
    st.stop()
chosen = c2.multiselect(
    "Groups",
    options["group"].to_list(),
    default=segments.default_groups(options, group_by, limit=4),
    key=f"jr_groups_{group_by}",
)
shown = frame.filter(pl.col("group").is_in(chosen))
if shown.is_empty():
    st.info("Pick one or more groups to see their journeys.", icon=":material/route:")
    st.stop()
if missing:
    st.info("Fewer milestones: " + "; ".join(missing) + ".", icon=":material/info:")

signups = shown.filter(pl.col("step_order") == 0)["accounts"].sum()
step_total = shown.group_by("step").agg(pl.col("accounts").sum(), pl.col("stalled").sum())
reached = dict(step_total.select("step", "accounts").rows())
m1, m2, m3, m4 = st.columns(4)
m1.metric("Signups", f"{signups:,}")
m2.metric("Reached first value", f"{reached.get('First value', 0) / signups:.0%}")
m3.metric("Adopted", f"{reached.get('Adopted', 0) / signups:.0%}")
m4.metric("Stalled now", f"{step_total['stalled'].sum():,}", help="See 'Where accounts stall'")

drawn = (key, group_by, stall_days, tuple(chosen))
funnel = memo.figure(drawn, charts_product.journey_funnel, shown, chosen)
st.plotly_chart(funnel, width="stretch")
st.caption(
    "A strict funnel: an account counts at a step only if it also reached every step before "
    "it. Onboarding → first value (first use of a value feature) → activated (core features "
    "used by enough users) → adopted (active most weeks) → expanding → advocate."
)

left, right = st.columns(2)
days = memo.figure(drawn, charts_product.milestone_days, shown, chosen)
left.plotly_chart(days, width="stretch")
stalls = memo.figure(drawn, charts_product.stalls, shown, chosen)
right.plotly_chart(stalls, width="stretch")
right.caption(
    f"Stalled: still a customer, and the furthest step reached (in order) is before Adopted "
    f"and was reached more than {stall_days} days ago. Adopted accounts that never expand are "
    "not counted as stalled."
)
tables.dataframe(
    shown,
    {
        "group": segments.BREAKDOWNS[group_by],
        "step_order": None,
        "step": "Step",
        "accounts": st.column_config.NumberColumn("Accounts", format="localized"),
        "share_of_signups": st.column_config.NumberColumn("Of signups", format="percent"),
        "conversion": st.column_config.NumberColumn("Of the step before", format="percent"),
        "median_days_from_previous": st.column_config.NumberColumn(
            "Median days from the step before", format="%.1f"
        ),
        "p90_days_from_previous": st.column_config.NumberColumn("p90 days", format="%.1f"),
        "stalled": st.column_config.NumberColumn("Stalled here", format="localized"),
    },
)
widgets.download(shown, f"journey-{group_by}")

st.subheader("Time to value")
by_segment, by_cohort = loaders.time_to_value(key)
if by_cohort.is_empty():
    widgets.empty_state("No time to value yet: no account has a first-value milestone.")
    st.stop()
left, right = st.columns([2, 3])
marked = chosen if group_by == "segment" else None
ttv = memo.figure((key, marked and tuple(marked)), charts_product.ttv_by_group, by_segment, marked)
left.plotly_chart(ttv, width="stretch")
cohorts = memo.figure((key,), charts_product.ttv_by_cohort, by_cohort)
right.plotly_chart(cohorts, width="stretch")
st.caption(
    "Days from signup to the first use of a value feature. Recent cohorts have had less time, "
    "so their figures cover only the accounts that got there quickly."
)
ttv_config = {
    "group": "Segment",
    "cohort": st.column_config.DateColumn("Signup month", format="MMM YYYY"),
    "accounts": st.column_config.NumberColumn("Accounts", format="localized"),
    "reached": st.column_config.NumberColumn("Reached value", format="localized"),
    "reached_share": st.column_config.NumberColumn("Share", format="percent"),
    "median_days": st.column_config.NumberColumn("Median days", format="%.1f"),
    "p90_days": st.column_config.NumberColumn("p90 days", format="%.1f"),
}
with left:
    tables.dataframe(by_segment, ttv_config)
    widgets.download(by_segment, "time-to-value-by-segment")
with right:
    tables.dataframe(by_cohort, ttv_config)
    widgets.download(by_cohort, "time-to-value-by-cohort")
