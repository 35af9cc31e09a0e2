"""Portfolio: ARR, ARR at risk, GRR/NRR, churn, health and moments over time, churn scenarios."""

import streamlit as st

from health.analytics import portfolio
from health.analytics.portfolio import money, percent
from health.app import connection, filters, loaders, memo, signin, tables, widgets
from health.app.charts import leader as charts
from health.db import catalog

signin.require_page("portfolio")

st.title("Portfolio")
con = connection.cursor()
if not catalog.is_refreshed(con):
    widgets.empty_state("No portfolio yet: accounts and events are needed.")
    st.stop()
scope = filters.scope()
if scope == []:
    st.warning("No account matches the sidebar filters.", icon=":material/filter_alt_off:")
    st.stop()

# Data first.
key = memo.scope_key(scope)
head, weeks, moments, as_of = loaders.portfolio(key)
rates = portfolio.scenario_rates(head.net_churn)
scenarios = portfolio.churn_scenarios(head.mrr, rates)
paths = portfolio.paths(head.mrr, rates)
churn_month = f"{head.churn_month:%b %Y}" if head.churn_month else "last month"

# Then render.
st.caption(f"As of {as_of}: {head.accounts:,} active accounts in scope.")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Active ARR", money(head.arr), help="ARR of the accounts still customers")
c2.metric("ARR at risk", money(head.arr_at_risk), help="Σ ARR × churn risk (expected loss)")
c3.metric("ARR in the at-risk tier", money(head.arr_at_risk_tier))
c4.metric(
    "Accounts at risk", "—" if head.accounts_at_risk is None else f"{head.accounts_at_risk:,}"
)
c1, c2, c3, c4 = st.columns(4)
c1.metric("GRR, trailing 12 months", percent(head.grr), help="MRR kept, without expansion")
c2.metric("NRR, trailing 12 months", percent(head.nrr), help="MRR kept, with expansion")
c3.metric(f"Logo churn, {churn_month}", percent(head.churn_rate), help="Last complete month")
c4.metric("Logo churn, annualised", percent(head.annualised_churn))
if head.note:
    st.caption(head.note)
if head.retention_source == "accounts.arr":
    st.info(
        "No subscriptions are loaded, so GRR and NRR come from each account's ARR and churn "
        "date: expansion and contraction are not visible (GRR = NRR). Load `subscriptions.csv` "
        "(contract history) on the **Data** page to see them.",
        icon=":material/info:",
    )

st.subheader("Health over time")
if weeks.is_empty():
    st.info(
        "No health history yet: it comes from the health model. Run `python -m health refresh` "
        "(or load data on the **Data** page).",
        icon=":material/info:",
    )
else:
    by_arr = st.toggle("Show ARR instead of accounts", key="pf_by_arr")
    measure = "arr" if by_arr else "accounts"
    fig = memo.figure((key, measure), charts.health_over_time, weeks, measure)
    st.plotly_chart(fig, width="stretch")
    if by_arr:
        st.caption("Each week counts an account's current ARR, not its contract value that week.")
    widgets.download(weeks, "health-by-week")

st.subheader("Moments of truth over time")
if moments.is_empty():
    st.info(
        "No moments of truth detected yet: they come from the moment detector in "
        "`python -m health refresh`, and need several weeks of events per account.",
        icon=":material/info:",
    )
else:
    fig = memo.figure((key,), charts.moments_by_month, moments)
    st.plotly_chart(fig, width="stretch")
    widgets.download(moments, "moments-by-month")

st.subheader("What churn costs: scenarios for next year's revenue")
if head.mrr <= 0:
    st.info("No recurring revenue in scope: accounts need an ARR.", icon=":material/info:")
    st.stop()
st.markdown(portfolio.compare(head.mrr))
observed = portfolio.observed_sentence(head)
st.markdown(observed or "The observed net churn needs a trailing year of revenue history.")
fig = memo.figure((key,), charts.churn_paths, paths, scenarios)
st.plotly_chart(fig, width="stretch")
tables.dataframe(
    scenarios,
    {
        "scenario": "Scenario",
        "monthly_net_churn": st.column_config.NumberColumn("Monthly net churn", format="percent"),
        "revenue_next_12_months": tables.money("Revenue, next 12 months"),
        "mrr_in_12_months": tables.money("MRR in 12 months"),
        "arr_in_12_months": tables.money("ARR in 12 months"),
        "vs_worst": st.column_config.NumberColumn("vs worst scenario", format="percent"),
    },
)
st.caption(
    "Net churn = MRR lost minus expansion, each month; −5 % means the book grows 5 % a month. "
    "The observed rate is 1 − NRR^(1/12) from the trailing 12-month NRR."
)
widgets.download(scenarios, "churn-scenarios")
