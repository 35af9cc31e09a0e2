"""Segments: two or more groups of accounts side by side, from activation to moments of truth."""

import streamlit as st

from health.analytics import segments
from health.app import compare, connection, filters, loaders, memo, signin, tables, text, widgets
from health.app.charts import product as charts_product
from health.db import catalog

signin.require_page("segments")

st.title("Segments")
con = connection.cursor()
if not catalog.is_refreshed(con):
    widgets.empty_state("Nothing to compare yet.")
    st.stop()


@st.cache_data(show_spinner="Comparing the groups…", max_entries=32)
def _compare(version, by: str, chosen: tuple, scope: tuple | None) -> segments.Comparison:
    # Keyed on small values (the database version, names and ids), never on frames.
    return segments.compare(connection.cursor(), by, list(chosen), account_ids=scope)


scope = memo.scope_key(filters.scope())
c1, c2 = st.columns([1, 3])
by = c1.selectbox(
    "Compare by", list(segments.BREAKDOWNS), format_func=segments.BREAKDOWNS.get, key="seg_by"
)
options = loaders.groups(by, scope)
if options.is_empty():
    st.warning("No account matches the global filters.", icon=":material/filter_alt_off:")
    st.stop()
if options.height < 2:
    label = segments.BREAKDOWNS[by].lower()
    st.info(
        f"Every account here has the same {label}: {text.md(options['group'][0])}. Nothing to "
        f"compare; choose another breakdown, or load accounts with a `{by}` column on "
        "the **Data** page.",
        icon=":material/rule:",
    )
    st.stop()
chosen = c2.multiselect(
    "Groups to compare",
    options["group"].to_list(),
    default=segments.default_groups(options, by),
    key=f"seg_groups_{by}",
    help="Pick two or more. The global filters in the sidebar narrow every group.",
)
if len(chosen) < 2:
    st.info("Pick at least two groups to compare them side by side.", icon=":material/rule:")
    st.stop()

cmp = _compare(connection.version(), by, tuple(chosen), scope)
drawn = (by, tuple(chosen), scope)
if cmp.notes:
    st.info(" ".join(cmp.notes), icon=":material/info:")
missing = loaders.missing_inputs("segments")
if missing:
    st.info("Fewer signals: " + "; ".join(missing) + ".", icon=":material/info:")

kpis = memo.figure(drawn, charts_product.segment_kpis, cmp.summary, chosen)
st.plotly_chart(kpis, width="stretch")
tables.dataframe(cmp.summary, compare.summary_columns(by))
widgets.download(cmp.summary, f"segments-{by}-summary")

left, right = st.columns(2)
with left:
    if cmp.retention.is_empty():
        st.caption("No retention curve: no account in these groups is old enough yet.")
    else:
        curves = memo.figure(drawn, charts_product.retention_curves, cmp.retention, chosen)
        st.plotly_chart(curves, width="stretch")
        st.caption(
            "Signup cohorts pooled like a survival curve: each month's loss is measured on the "
            "accounts old enough to have reached it."
        )
with right:
    if cmp.health.is_empty():
        st.caption("No health scores for these groups yet.")
    else:
        tiers = memo.figure(drawn, charts_product.health_distribution, cmp.health, chosen)
        st.plotly_chart(tiers, width="stretch")

left, right = st.columns(2)
with left:
    if cmp.adoption.is_empty():
        st.caption("No product events in the last 28 days for these groups.")
    else:
        heat = memo.figure(drawn, charts_product.adoption_heatmap, cmp.adoption, chosen)
        st.plotly_chart(heat, width="stretch")
with right:
    if cmp.moments.is_empty():
        st.caption("No moments of truth detected for these groups in the last 365 days.")
    else:
        per_100 = memo.figure(drawn, charts_product.moments_per_100, cmp.moments, chosen)
        st.plotly_chart(per_100, width="stretch")
        st.caption("Per 100 accounts that were customers at some point in the last 365 days.")

st.subheader("The numbers behind the charts")
compare.numbers_behind_the_charts(cmp, by)
