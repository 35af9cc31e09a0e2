"""Column titles and formats of the Renewals page's tables."""

import streamlit as st

from health.app import tables

ACCOUNTS = {
    "account_id": "ID",
    "name": "Account",
    "csm_owner": "CSM",
    "renewal_date": st.column_config.DateColumn("Renews on"),
    "kind": "Kind",
    "p_renew": st.column_config.NumberColumn("P(renews)", format="percent"),
    "method": "Probability from",
    "renewal_source": "Renewal date from",
    "churn_risk": st.column_config.NumberColumn("90-day churn risk", format="percent"),
}

_RATE = {"format": "percent"}
TRACK = {
    "quarter": "Quarter",
    "forecast_made_on": st.column_config.DateColumn("Forecast made on"),
    "interval_90": "90 % interval",
    "status": "No figures because",
    "accounts": "Renewals",
    "actual_accounts": "Renewed",
    "actual_arr": tables.money("ARR renewed"),
    "in_interval": "In interval",
    "predicted_rate": st.column_config.NumberColumn("Predicted rate", **_RATE),
    "observed_rate": st.column_config.NumberColumn("Observed rate", **_RATE),
    "brier": st.column_config.NumberColumn("Brier score", format="%.3f"),
    "brier_reference": st.column_config.NumberColumn("Brier, base rate", format="%.3f"),
    "expected_uncalibrated": tables.money("Expected, before recalibration"),
    "calibrated_on": "Recalibrated on (renewals)",
    "outcomes_known_by": st.column_config.DateColumn("Model saw outcomes up to"),
}
