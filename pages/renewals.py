"""Renewals: the next two quarters' renewals, expected ARR with an exact interval, track record."""

import streamlit as st

from health.analytics import renewal_record, renewals
from health.analytics.portfolio import money
from health.app import connection, filters, memo, renewal_columns, signin, tables, widgets
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
monthly = st.toggle(
    "Include monthly rollovers",
    key="renewals_monthly",
    help="Monthly subscriptions renew every month; by default only term commitments "
    "(annual or multi-year terms) are counted.",
)
kinds = renewals.KINDS if monthly else (renewals.TERM,)


@st.cache_data(show_spinner="Forecasting the renewals…", max_entries=16)
def _forecast(version, scope: tuple | None, kinds: tuple) -> tuple:
    # Keyed on small values (the database version, ids, kinds): the exact intervals and the
    # track record take seconds at 10,000 accounts, and a rerun (a tab, a toggle) needs none.
    con, ids = connection.cursor(), None if scope is None else list(scope)
    as_of = con.execute("select as_of from params").fetchall()[0][0]
    past = renewals.history(con, as_of, kinds)
    fc = renewals.forecast(con, as_of, ids, past, kinds)
    keys = (None, "month", "kind", "segment", "csm_owner")
    groups = {by: renewals.summarise(fc.accounts, by) for by in keys}
    left_out = renewals.left_out(con, as_of, ids) if kinds == (renewals.TERM,) else None
    track = renewal_record.track_record(con, as_of, ids, past, kinds)
    return as_of, fc, groups, left_out, track, renewals.record_source(con)


# Data first.
ids = None if scope is None else tuple(scope)
as_of, fc, groups, left_out, track, source = _forecast(connection.version(), ids, kinds)
total = groups[None].row(0, named=True)
record = renewal_record.track_sentence(track)
what = "All renewals" if monthly else "Term renewals"
noun = "term commitments and monthly rollovers" if monthly else "term commitments"

# Then render.
st.caption(
    f"As of {as_of}: {noun} ending from "
    f"{fc.window_from} to {fc.window_to} (the next two quarters), each with the probability "
    "that it renews." + (f" {left_out}" if left_out else "")
)
if fc.accounts.is_empty():
    st.info(
        "No renewal falls in the next two quarters. Renewal dates come from subscription terms, "
        "else the accounts file's `renewal_date`.",
        icon=":material/event_available:",
    )
    st.stop()
c1, c2, c3, c4 = st.columns([0.8, 1.1, 1.1, 1.5])
c1.metric(what, f"{total['accounts']:,}")
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
drawn = (ids, kinds)
st.plotly_chart(memo.figure(drawn, charts.expected_by_month, groups["month"]), width="stretch")

money_cols = {
    "arr": tables.money("ARR up for renewal"),
    "expected_arr": tables.money("Expected to renew"),
    "low_90": tables.money("90 % low"),
    "high_90": tables.money("90 % high"),
}
tabs = {"month": "Month", "segment": "Segment", "csm_owner": "CSM"}
if monthly:
    tabs = {**tabs, "kind": "Kind"}
shown_tabs = st.tabs([f"Per {t}" for t in tabs.values()])
for tab, (key, title) in zip(shown_tabs, tabs.items(), strict=True):
    with tab:
        tables.dataframe(groups[key], {key: title, "accounts": "Renewals", **money_cols})
        widgets.download(groups[key], f"renewals-by-{key}")

st.subheader("Accounts renewing")
shown = fc.accounts.select(renewals.ACCOUNT_COLUMNS)
tables.dataframe(shown, {**renewal_columns.ACCOUNTS, **money_cols})
widgets.download(shown, "renewal-forecast")

st.subheader("Track record, out-of-sample")
st.markdown(renewal_record.source_sentence(source, track))
if track.is_empty():
    st.info(
        "No track record yet: it needs complete quarters with scores from before they began, "
        "and renewals whose dates were known then, which come from subscription terms "
        "(`subscriptions.csv`; the accounts file's `renewal_date` is only today's).",
        icon=":material/history:",
    )
    st.stop()
st.caption(
    "Per past quarter: the forecast made the day before it began, from what was known then, "
    f"against the ARR of the {noun} that renewed (still a customer after the renewal date)."
    " The Brier score is the mean squared gap between each probability and what happened "
    "(0 is perfect); beside it, the same for a forecast of the earlier quarters' renewal rate."
)
if record:
    st.markdown(record)
st.plotly_chart(memo.figure(drawn, charts.track_record, track), width="stretch")
tables.dataframe(renewal_record.for_display(track), {**renewal_columns.TRACK, **money_cols})
widgets.download(track, "renewal-track-record")
