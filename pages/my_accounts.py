"""My accounts: a CSM's book ranked by what is at stake, with why and the next step."""

import streamlit as st

from health import db
from health.accounts import book
from health.actions import log as action_log
from health.app import connection, filters, loaders, signin, tables, widgets
from health.present import labels

signin.require_page("my-accounts")

st.title("My accounts")
con = connection.cursor()
if not db.table_exists(con, "mart_account_health"):
    widgets.empty_state("No scored accounts yet.")
    st.stop()

forced = signin.default_owner()  # a CSM sees their own book only
c1, c2, c3, c4 = st.columns([3, 3, 3, 2])
if forced:
    owner = forced
    c1.text_input("CSM", forced, disabled=True)
else:
    choice = c1.selectbox("CSM", ["All CSMs", *loaders.owners()], key="my_owner")
    owner = None if choice == "All CSMs" else choice
tiers = c2.multiselect(
    "Tier", ["at_risk", "watch", "healthy"], format_func=labels.value_label, key="my_tier"
)
moments = c3.multiselect(
    "Moment in the last 90 days",
    ["crisis", "relationship_change", "delight"],
    format_func=labels.value_label,
    key="my_moment",
)
renewal = c4.selectbox("Renewal within", ["any time", 30, 60, 90, 180], key="my_renewal")
scope = filters.scope()
frame = loaders.book(
    action_log.log_path(),
    book.BookFilters(
        owner=owner,
        account_ids=tuple(scope) if scope is not None else None,
        tiers=tuple(tiers),
        moment_types=tuple(moments),
        renewal_within_days=None if renewal == "any time" else int(renewal),
    ),
)
if frame.is_empty():
    st.info("No active account matches these filters.", icon=":material/filter_alt_off:")
    st.stop()

m1, m2, m3, m4 = st.columns(4)
m1.metric("Accounts", f"{frame.height:,}")
m2.metric("ARR", f"${frame['arr'].fill_null(0).sum():,.0f}")
m3.metric(
    "ARR at risk",
    f"${(frame['arr'].fill_null(0) * frame['churn_risk'].fill_null(0)).sum():,.0f}",
    help="Sum of ARR x churn risk: the revenue expected to churn in the next 90 days",
)
m4.metric("At risk", f"{(frame['tier'] == 'at_risk').sum():,}", help="Accounts in the At risk tier")

st.caption(
    "Ranked by what is at stake: ARR x churn risk, up to doubled as the renewal nears. "
    "Click a row to open the account."
)
shown = frame.select(
    "account_id",
    "name",
    "tier",
    "health_score",
    "health_trend",
    "churn_risk",
    "arr",
    "renewal_in_days",
    "top_driver",
    "newest_moment_kind",
    "newest_moment_on",
    "next_action",
    "segment",
    "csm_owner",
)
tables.account_table(
    shown,
    "book",
    {
        "account_id": "ID",
        "name": "Account",
        "tier": "Tier",
        "health_score": st.column_config.ProgressColumn(
            "Health", min_value=0, max_value=100, format="%.0f"
        ),
        "health_trend": st.column_config.LineChartColumn(
            "Last 12 weeks", y_min=0, y_max=100, help="Weekly health score"
        ),
        "churn_risk": st.column_config.NumberColumn("Churn risk (90 d)", format="percent"),
        "arr": tables.money("ARR"),
        "renewal_in_days": st.column_config.NumberColumn("Renewal in (days)", format="%d"),
        "top_driver": "Top driver",
        "newest_moment_kind": "Newest moment",
        "newest_moment_on": st.column_config.DateColumn("Moment detected"),
        "next_action": "Next action",
        "segment": "Segment",
        "csm_owner": "CSM",
    },
)
widgets.download(shown.drop("health_trend"), "my-accounts")
