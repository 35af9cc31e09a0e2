"""How tables read to people: column headers and coded values in words (no Streamlit here).

Only what is shown changes: the frames keep their column names and coded values, so
downloads, filters and the CLI's files are unchanged. `health/app/tables.py` builds the column
configs.
"""

from __future__ import annotations

LABELS = {
    "account_id": "ID",
    "csm_owner": "CSM",
    "active_days_28d": "Active days, 28 d",
    "created_on": "Added",
    "deactivated_on": "Deactivated",
    "ticket_id": "Ticket",
    "start_date": "Start",
    "end_date": "End",
    "table_name": "Table",
    "row_number": "Row",
    "train_to": "Trained to",
    "test_from": "Tested from",
    "test_to": "Tested to",
    "train_rows": "Training snapshots",
    "test_rows": "Test snapshots",
    "test_churns": "Churns in test",
    "auc": "Backtest AUC",
    "top_decile_lift": "Top-decile lift",
    "wins_bootstrap_share": "Beats the default (bootstrap share)",
    "share_all": "Share of all accounts",
    "share_product_ideal": "Share of product's ideal",
    "share_cs_ideal": "Share of CS's ideal",
    "product_ideal_accounts": "Product's ideal (n)",
    "cs_ideal_accounts": "CS's ideal (n)",
    "both_accounts": "On both lists (n)",
    "mean_score": "Mean health",
    "group_median_score": "Group's median health",
    "per_100_accounts": "Per 100 accounts",
    "accounts_with_moment": "Accounts with one",
    "months_since": "Months since signup",
    "days": "Window (days)",  # segments' activation: activated within this many days
    "eligible": "Old enough to judge",
    "activated_within": "Activated in the window",
    "activated": "Activated (ever)",
    "activation_rate_overall": "Activation rate (ever)",
    "logo_retention": "Still customers",
    "snooze_until": "Snoozed until",
    "churn_risk": "Churn risk (90 d)",
    "questions_or_recognition": "Questions or recognition",
}
ACRONYMS = {
    "id": "ID", "arr": "ARR", "mrr": "MRR", "csm": "CSM", "csat": "CSAT", "nps": "NPS",
    "sso": "SSO",
}  # fmt: skip
NUMBER_LABELS = {"priority": "At stake"}  # an action's priority is dollars at stake
# Columns holding coded values (at_risk, champion_left, l1_logistic): shown in words.
CODED = {
    "tier", "moment", "kind", "newest_moment_kind", "model", "reason_kind", "reason", "stage",
    "category", "trait", "topic", "role", "status", "state", "priority",
}  # fmt: skip
MONEY = {"arr", "mrr", "mrr_change", "arr_at_risk", "priority", "at_stake"}
PERCENT_WORDS = {"share", "rate", "retention"}  # a float column named with one is a share


def label(name: str) -> str:
    """A column's header for people: `is_champion` → Champion, `opened_at` → Opened."""
    if name in LABELS:
        return LABELS[name]
    words = name.split("_")
    if len(words) > 1 and words[0] == "is":
        words = words[1:]
    if len(words) > 1 and words[-1] in ("at", "on"):
        words = words[:-1]
    text = " ".join(ACRONYMS.get(w, w.replace("28d", "28 d")) for w in words)
    return text[:1].upper() + text[1:]


def value_label(value) -> str:
    """A coded value in words: at_risk → At risk, champion_left → Champion left."""
    if value is None:
        return "—"
    text = " ".join(ACRONYMS.get(w, w) for w in str(value).split("_"))
    return text[:1].upper() + text[1:]
