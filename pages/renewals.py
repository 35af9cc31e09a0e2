"""Renewals: the next two quarters' renewals, expected ARR with an exact interval, track record."""

import streamlit as st

from health.analytics import renewals
from health.analytics.portfolio import money
from health.app import connection, filters, signin, tables, widgets
from health.app.charts import renewals as charts
from health.db import catalog

signin.require_page("renewals")

st.title("Renewals")
con = connection.cursor()
if not catalog.is_refreshed(con) or renewals.missing(con):
    widgets.empty_state("No renewal forecast yet: health scores are needed first.")
    st.stop()
scope = filters.scope()
if scope == []:
    st.warning("No account matches the sidebar filters.", icon=":material/filter_alt_off:")
    st.stop()

# Data first.
as_of = con.execute("select as_of from params").fetchall()[0][0]
past = renewals.history(con, as_of)
fc = renewals.forecast(con, as_of, scope, past)
total = renewals.summarise(fc.accounts).row(0, named=True)
months = renewals.summarise(fc.accounts, "month")
segments = renewals.summarise(fc.accounts, "segment")
owners = renewals.summarise(fc.accounts, "csm_owner")
track = renewals.track_record(con, as_of, scope, past)
record = renewals.track_sentence(track)

# Then render.
st.caption(
    f"As of {as_of}: accounts whose commitment ends from {fc.window_from} to {fc.window_to} "
    "(the next two quarters), each with the probability that it renews."
)
if fc.accounts.is_empty():
    st.info(
        "No renewal falls in the next two quarters. Renewal dates come from annual (or "
        "multi-year) subscription terms, else the accounts file's `renewal_date`.",
        icon=":material/event_available:",
    )
    st.stop()
c1, c2, c3, c4 = st.columns([0.8, 1.1, 1.1, 1.5])
c1.metric("Renewals", f"{total['accounts']:,}")
c2.metric("ARR up for renewal", money(total["arr"]))
c3.metric("Expected to renew", money(total["expected_arr"]), help="Σ ARR × P(renews)")
c4.metric(
    "90 % interval",
    f"{renewals.compact(total['low_90'])} – {renewals.compact(total['high_90'])}",
    help="Exact distribution of the sum of independent renewals, not a normal approximation",
)
st.markdown("**How each probability is made**")
for sentence in fc.methods():
    st.markdown(f"- {sentence}")
st.plotly_chart(charts.expected_by_month(months), width="stretch")

money_cols = {
    "arr": tables.money("ARR up for renewal"),
    "expected_arr": tables.money("Expected to renew"),
    "low_90": tables.money("90 % low"),
    "high_90": tables.money("90 % high"),
}
tab_month, tab_segment, tab_csm = st.tabs(["Per month", "Per segment", "Per CSM"])
for tab, frame, key, title in (
    (tab_month, months, "month", "Month"),
    (tab_segment, segments, "segment", "Segment"),
    (tab_csm, owners, "csm_owner", "CSM"),
):
    with tab:
        tables.dataframe(frame, {key: title, "accounts": "Renewals", **money_cols})
        widgets.download(frame, f"renewals-by-{key}")

st.subheader("Accounts renewing")
shown = fc.accounts.select(renewals.ACCOUNT_COLUMNS)
tables.dataframe(
    shown,
    {
        "account_id": "ID",
        "name": "Account",
        "csm_owner": "CSM",
        "renewal_date": st.column_config.DateColumn("Renews on"),
        "p_renew": st.column_config.NumberColumn("P(renews)", format="percent"),
        "method": "Probability from",
        "renewal_source": "Renewal date from",
        "churn_risk": st.column_config.NumberColumn("90-day churn risk", format="percent"),
        **money_cols,
    },
)
widgets.download(shown, "renewal-forecast")

st.subheader("Track record")
if track.is_empty() or track["accounts"].sum() == 0:
    st.info(
        "No track record yet: it needs complete quarters with scores from before they began, "
        "and renewals whose dates were known then, which come from subscription terms "
        "(`subscriptions.csv`; the accounts file's `renewal_date` is only today's).",
        icon=":material/history:",
    )
    st.stop()
st.caption(
    "The same forecast made the day before each past quarter began, from the scores of that "
    "week (features as known then) and recalibrated on the quarters before it only, against the "
    "ARR that renewed: still a customer after the renewal date."
)
st.markdown(record)
st.plotly_chart(charts.track_record(track), width="stretch")
tables.dataframe(
    track,
    {
        "quarter": "Quarter",
        "forecast_made_on": st.column_config.DateColumn("Forecast made on"),
        "accounts": "Renewals",
        "actual_accounts": "Renewed",
        "actual_arr": tables.money("ARR renewed"),
        "in_interval": "In the interval",
        "expected_uncalibrated": tables.money("Expected, before recalibration"),
        "calibrated_on": "Recalibrated on (renewals)",
        "in_training_window": "In the model's training window",
        **money_cols,
    },
)
widgets.download(track, "renewal-track-record")
