"""Accounts: every account with its owner, ARR, tenure and recent activity; filter and sort."""

import streamlit as st

from health.accounts import overview as accounts
from health.app import connection, filters, loaders, memo, signin, tables, widgets
from health.app.charts import base as charts
from health.db import catalog

signin.require_page("accounts")

st.title("Accounts")
con = connection.cursor()
if not catalog.is_refreshed(con):
    widgets.empty_state("No accounts yet.")
    st.stop()

opts = loaders.account_options()
book = signin.default_owner()  # a CSM's own book: the only accounts they may see
c1, c2, c3, c4 = st.columns([2, 2, 2, 3])
owners = c2.multiselect(
    "CSM", [book] if book else opts["csm_owner"], default=book, disabled=bool(book), key="acc_owner"
)
chosen = accounts.Filters(
    segments=tuple(c1.multiselect("Segment", opts["segment"], key="acc_segment")),
    owners=(book,) if book else tuple(owners),
    plans=tuple(c3.multiselect("Plan", opts["plan"], key="acc_plan")),
    search=c4.text_input("Search name or ID", key="acc_search"),
    active_only=st.toggle("Active customers only", value=True, key="acc_active"),
)
scope = memo.scope_key(filters.scope())  # the global sidebar filters narrow this page too
frame, weekly = loaders.accounts(chosen, scope)
if frame.is_empty():
    st.warning("No account matches these filters.", icon=":material/filter_alt_off:")
    st.stop()

m1, m2, m3, m4 = st.columns(4)
m1.metric("Accounts", f"{frame.height:,}")
m2.metric("ARR", f"${frame['arr'].fill_null(0).sum():,.0f}")
m3.metric("Events, last 28 days", f"{frame['events_28d'].sum():,}")
growing = frame.filter(frame["events_trend"] > 0).height
m4.metric("Growing usage", f"{growing:,}", help="Accounts with more events than the 28 days before")

fig = memo.figure((chosen, scope), charts.weekly_activity, weekly)
st.plotly_chart(fig, width="stretch")

shown = frame.select(
    "account_id",
    "name",
    "segment",
    "csm_owner",
    "plan",
    "arr",
    "tenure_days",
    "users_28d",
    "events_28d",
    "events_trend",
    "last_active_on",
    "renewal_date",
)
st.caption("Click a row to open the account.")
tables.account_table(
    shown,
    "accounts",
    {
        "account_id": "ID",
        "name": "Account",
        "segment": "Segment",
        "csm_owner": "CSM",
        "plan": "Plan",
        "arr": tables.money("ARR"),
        "tenure_days": st.column_config.NumberColumn("Tenure (days)", format="%d"),
        "users_28d": st.column_config.NumberColumn("Active users, 28 d", format="%d"),
        "events_28d": st.column_config.NumberColumn("Events, 28 d", format="%d"),
        "events_trend": st.column_config.NumberColumn(
            "Trend vs prior 28 d",
            format="percent",
            help="Events in the last 28 days vs the 28 before",
        ),
        "last_active_on": st.column_config.DateColumn("Last active"),
        "renewal_date": st.column_config.DateColumn("Renewal"),
    },
)
widgets.download(shown, "accounts")
