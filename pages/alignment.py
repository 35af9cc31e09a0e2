"""Alignment: where CSM judgement and the data disagree, whose ideal customer is whose."""

import polars as pl
import streamlit as st

from health.analytics import alignment
from health.analytics.portfolio import money, percent
from health.app import connection, filters, loaders, memo, signin, tables, text, widgets
from health.app.charts import leader as charts
from health.db import catalog

signin.require_page("alignment")

st.title("Alignment")
con = connection.cursor()
if not catalog.is_refreshed(con):
    widgets.empty_state("No alignment report yet: accounts and events are needed.")
    st.stop()
lacking = alignment.missing(con)
if lacking:
    widgets.empty_state(f"Health scores are needed first ({', '.join(lacking)} not built yet).")
    st.stop()
scope = filters.scope()
if scope == []:
    st.warning("No account matches the sidebar filters.", icon=":material/filter_alt_off:")
    st.stop()

# Data first.
key = memo.scope_key(scope)
grid, disagree, traits = loaders.alignment(key)
ov = alignment.overlap(traits)
size = alignment.summarise(disagree)
judged = alignment.has_sentiment(grid)
questions = alignment.meeting_questions(disagree, traits, ov, grid)
NEED_SENTIMENT = (
    "CSM sentiment is needed to compare CSM judgement with the data: load touchpoints "
    "(`touchpoints.csv` with a `sentiment` of green / yellow / red per touchpoint) on the "
    "**Data** page, or with `python -m health load DIR && python -m health refresh`."
)

# Then render.
st.subheader("Where CSM judgement and the data disagree")
if not judged:
    st.info(NEED_SENTIMENT, icon=":material/sentiment_neutral:")
else:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Disagreements", f"{size.accounts:,}", help="Active accounts, latest sentiment")
    c2.metric("ARR involved", money(size.arr))
    c3.metric("Green, at risk in data", money(size.optimistic_arr), help="CSM optimistic")
    c4.metric("Red, healthy in data", money(size.pessimistic_arr), help="CSM pessimistic")
    fig = memo.figure((key,), charts.alignment_matrix, grid)
    st.plotly_chart(fig, width="stretch")
    widgets.download(grid, "sentiment-by-tier", label="Download the matrix (CSV)")
    if disagree.is_empty():
        st.success("CSMs and the data agree on every account.", icon=":material/handshake:")
    else:
        shown = disagree.select(
            "name", "disagreement", "arr", "arr_at_risk", "csm_sentiment", "judged_on",
            "tier", "health_score", "csm_owner", "segment", "drivers", "account_id",
        )  # fmt: skip
        tables.dataframe(
            shown,
            {
                "name": "Account",
                "disagreement": "Disagreement",
                "arr": tables.money("ARR"),
                "arr_at_risk": tables.money("ARR × churn risk"),
                "csm_sentiment": "CSM says",
                "judged_on": st.column_config.DateColumn("Judged on"),
                "tier": "Data says",
                "health_score": st.column_config.NumberColumn("Health", format="%.0f"),
                "csm_owner": "CSM",
                "segment": "Segment",
                "drivers": "Why the data says so",
                "account_id": "ID",
            },
        )
        widgets.download(shown, "disagreements")

st.subheader("Who is our ideal customer?")
st.caption(
    "Product's ideal: still a customer, healthy in the data, and adopted or expanding. "
    "CS's ideal: an active account whose CSM rated the latest touchpoint green."
)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Product's ideal customers", f"{ov.product_ideal:,}")
c2.metric("CS's green accounts", f"{ov.cs_ideal:,}" if judged else "—")
c3.metric("On both lists", f"{ov.both:,}" if judged else "—")
c4.metric("Overlap", percent(ov.jaccard if judged else None, 0), help="On both / on either")
if not judged:
    st.caption("CS's side stays empty until touchpoints with a CSM sentiment are loaded.")
if traits.is_empty():
    st.info("No accounts in scope to describe.", icon=":material/info:")
else:
    st.plotly_chart(memo.figure((key,), charts.icp_traits, traits), width="stretch")
    with st.expander("Trait shares as a table"):
        tables.dataframe(traits)
    widgets.download(traits, "ideal-customer-traits")

st.subheader("Questions for the next product–CS meeting")
if questions:
    st.markdown("\n".join(f"1. {text.md(q, text.LONG)}" for q in questions))
    widgets.download(pl.DataFrame({"question": questions}), "meeting-questions")
else:
    st.caption(
        "No gap between product data and CSM judgement is large enough to raise."
        if judged
        else "The questions compare CSM judgement with the data: they need CSM sentiment."
    )
