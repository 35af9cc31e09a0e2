"""Model: can the churn risk be trusted? Backtest against simple rules, calibration, drivers."""

import polars as pl
import streamlit as st

from health.app import connection, signin, tables, text, widgets
from health.app.charts import model as charts_model
from health.db import catalog
from health.scoring import store as model_store

signin.require_page("model")

st.title("Model")
con = connection.cursor()
card = model_store.read_card(con) if catalog.is_refreshed(con) else None
if card is None:
    widgets.empty_state("No health model yet.")
    st.stop()

st.caption(
    f"As of {card['as_of']} · trained on the data to {card.get('trained_as_of', card['as_of'])} "
    f"({card['trained_at']} UTC; retrained weekly) · churn within "
    f"{card['horizon_days']} days · health: {card['tiers']['health']}"
)
for family, why in (card.get("failed_candidates") or {}).items():
    st.info(
        f"The {family.replace('_', ' ')} model could not learn this data and stepped aside: {why}",
        icon=":material/alt_route:",
    )
if card["status"] != "model":
    st.warning(card["message"], icon=":material/ac_unit:")
    if card["status"] == "fallback":  # a model trained but did not earn its place: show why
        st.plotly_chart(charts_model.versus_baselines(card), width="stretch")
        st.plotly_chart(charts_model.calibration(card), width="stretch")
    st.markdown(
        "Each component is the average of its signals, scaled 0-100; the weights of components "
        "an account has no data for are spread over the others. Weights live in "
        "`health/scorecard.toml`."
    )
    st.plotly_chart(charts_model.scorecard_weights(card["scorecard"]), width="stretch")
    st.stop()

st.success(card["message"], icon=":material/verified:")
if "earns_place" in card:
    st.caption(f"It carries the score because {card['earns_place']['reason']}.")
bt, lead, window = card["backtest"], card["lead_time"], card["training_window"]
m1, m2, m3, m4 = st.columns(4)
m1.metric("Backtest AUC", f"{bt['auc']:.2f}", help="Chance is 0.50; ranking on later dates")
m2.metric(
    "Top-decile lift",
    f"{bt['top_decile_lift']:.1f}x",
    help="Churn rate in the riskiest 10 % over the overall rate",
)
m3.metric(
    "Mean predicted vs observed",
    f"{bt['mean_predicted']:.1%}",
    delta=f"{bt['mean_predicted'] - bt['observed_rate']:+.1%} vs {bt['observed_rate']:.1%}",
    delta_color="off",
)
m4.metric(
    "Lead time",
    "n/a" if lead["median_days"] is None else f"{lead['median_days']:.0f} days",
    help=(
        f"Median days from the first at-risk flag to the churn. Of {lead['churned_accounts']} "
        f"accounts that churned in the backtest, {(lead['caught_share'] or 0):.0%} were flagged "
        f"at risk and {(lead.get('watched_share') or 0):.0%} at least on watch in their last "
        "90 days."
    ),
)

st.plotly_chart(charts_model.versus_baselines(card), width="stretch")
left, right = st.columns(2)
with left:
    st.plotly_chart(charts_model.calibration(card), width="stretch")
with right:
    st.plotly_chart(charts_model.risk_drivers(card), width="stretch")

st.subheader("Training and backtest")
st.markdown(
    f"Trained on **{window['rows']:,}** weekly snapshots of **{window['accounts']:,}** accounts "
    f"from {window['from']} to {window['to']}, **{window['churned_accounts']}** of which churned "
    "within 90 days of a snapshot. Each backtest period is predicted by a model trained only on "
    "outcomes known before it began."
)
tables.dataframe(pl.DataFrame(card["backtest"]["folds"]))
candidates = pl.DataFrame(
    [{"model": name, **scores} for name, scores in card["candidates"].items()]
)
tables.dataframe(
    candidates,
    {
        "auc": st.column_config.NumberColumn("Backtest AUC", format="%.3f"),
        "top_decile_lift": st.column_config.NumberColumn("Top-decile lift", format="%.2f"),
    },
)
with st.expander("Features and versions"):
    st.markdown(text.md(", ".join(card["feature_labels"].values()), text.LONG))
    st.json(card["versions"])
