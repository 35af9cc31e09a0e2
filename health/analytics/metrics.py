"""Product KPIs as product-analytics tools define them, over the refreshed as-of data.

Each KPI is declared once in KPIS (its SQL file, the relations it reads, its parameters, its
columns, its label and format) and run by one function, `run(con, name, ...)`, with the same three
filters: `segments` (keep these segments), `account_ids` (keep these accounts) and `by` (break
the result down, see BREAKDOWNS; without it every row's `group` is 'All'). None keeps
everything; an empty list keeps nothing. To compare segments side by side, pass by="segment"
(and `segments` to pick which).
A frame always has the KPI's `columns`; it is empty when the data a KPI needs is absent (no user
ids in events, no journey milestones, no refresh yet), never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from health import db

# The breakdowns a KPI or a page may split accounts by, with their labels. The one mapping from
# an account to its group is the accounts_by macro (health/db/sql/macros.sql); only these names
# ever reach it.
BREAKDOWNS = {
    "segment": "Segment",
    "plan": "Plan",
    "region": "Region",
    "industry": "Industry",
    "csm_owner": "CSM",
    "cohort_quarter": "Signup quarter",
    "cohort_month": "Signup month",
}

# Relations every KPI reads: a database that was never refreshed has none of them.
_BASE = ("params", "stg_accounts")
_USERS = (*_BASE, "int_user_days")
_EVENTS = (*_BASE, "int_user_feature_days")
_JOURNEY = (*_BASE, "int_journey_milestones")
_REVENUE = (*_BASE, "int_kpi_revenue_periods")


@dataclass(frozen=True)
class KPI:
    """One KPI: the SQL that computes it, what it reads and takes, and how people read it."""

    sql: str  # the q_kpi_ file
    needs: tuple[str, ...]  # relations it reads; without one of them the frame is empty
    columns: tuple[str, ...]  # its frame's columns, in order: the contract pages build on
    label: str  # its name for people
    value: str  # the column that holds its headline number
    format: str  # how that number reads (a Python/d3 format spec)
    doc: str  # what it is, in one line
    params: dict[str, int] = field(default_factory=dict)  # its parameters, with their defaults
    unscored: str | None = None  # the SQL run instead (with a note) when health scores are missing
    # (SQL file, relations): run instead when the parameters are the defaults and the relations
    # exist; it sums per-account rows the refresh stored for those defaults (no daily rows read)
    stored: tuple[str, tuple[str, ...]] | None = None


KPIS: dict[str, KPI] = {
    "activation": KPI(
        "q_kpi_activation", _JOURNEY,
        ("group", "cohort", "days", "signups", "eligible", "activated_within",
         "activation_rate", "activated", "activation_rate_overall"),
        "Activation rate", "activation_rate", ".0%",
        "Per signup-month cohort: share activated within `days` days of signup, and at all.",
        {"days": 30},
    ),
    "feature_adoption": KPI(
        "q_kpi_feature_adoption", (*_EVENTS, "int_feature_weeks"),
        ("group", "feature", "accounts_using", "active_accounts", "account_share",
         "users_using", "active_users", "user_share"),
        "Feature adoption", "account_share", ".0%",
        "Per feature: share of the accounts and users active in the last `days` days using it.",
        {"days": 28},
        stored=("q_kpi_feature_adoption_28d", ("int_adoption_accounts", "int_adoption_features")),
    ),
    "feature_adoption_monthly": KPI(
        "q_kpi_feature_adoption_monthly", _EVENTS,
        ("group", "month", "complete", "feature", "accounts_using", "active_accounts",
         "account_share", "users_using", "active_users", "user_share"),
        "Feature adoption per month", "account_share", ".0%",
        "Per calendar month and feature: share of its active accounts and users using it.",
        {"months": 12},
    ),
    "stickiness": KPI(
        "q_kpi_stickiness", _USERS,
        ("group", "days", "active_accounts", "avg_dau", "mau", "dau_mau"),
        "Stickiness (DAU/MAU)", "dau_mau", ".0%",
        "DAU/MAU per group: mean daily active users in the last `days` days / users active.",
        {"days": 28},
        stored=("q_kpi_stickiness_28d", ("int_adoption_accounts",)),
    ),
    "stickiness_accounts": KPI(
        "q_kpi_stickiness_accounts", _USERS,
        ("group", "account_id", "name", "days", "active_days", "avg_dau", "mau", "dau_mau"),
        "Stickiness per account", "dau_mau", ".0%",
        "DAU/MAU of each account with a user active in the last `days` days, stickiest first.",
        {"days": 28},
    ),
    "power_users": KPI(
        "q_kpi_power_users", _USERS,
        ("group", "active_days", "user_weeks", "users_per_week", "share"),
        "Power user curve", "share", ".0%",
        "How many users were active 1 to 7 days a week, pooled over the last `weeks` weeks.",
        {"weeks": 4},
    ),
    "lifecycle": KPI(
        "q_kpi_lifecycle", _USERS,
        ("group", "week_end", "weeks_ago", "is_partial", "status", "users"),
        "User lifecycle", "users", ",.0f",
        "New, returning, resurrecting and dormant (negative) users per calendar week (the last "
        "one is the week to date).",
        {"weeks": 12},
    ),
    "retention_cohorts": KPI(
        "q_kpi_retention_cohorts", _REVENUE,
        ("group", "cohort", "months_since", "accounts", "at_risk", "retained", "logo_retention",
         "start_mrr", "mrr", "revenue_retention", "source"),
        "Still customers", "logo_retention", ".0%",
        "Logo (Kaplan-Meier) and revenue retention per signup-month cohort and month since.",
    ),
    "churn": KPI(
        "q_kpi_churn", _BASE,
        ("group", "month", "complete", "active_start", "churned", "churn_rate",
         "annualised_churn"),
        "Logo churn rate", "churn_rate", ".1%",
        "Logo churn per calendar month (churned in it / active at its start), and annualised.",
        {"months": 12},
    ),
    "revenue_retention": KPI(
        "q_kpi_revenue_retention", _REVENUE,
        ("group", "period", "start_date", "end_date", "starting_mrr", "expansion",
         "contraction", "churned_mrr", "grr", "nrr", "source"),
        "Net revenue retention", "nrr", ".0%",
        "Gross and net revenue retention over the trailing `months` and each month in them.",
        {"months": 12},
    ),
    "arr_at_risk": KPI(
        "q_kpi_arr_at_risk", _REVENUE,
        ("group", "active_accounts", "arr", "arr_at_risk", "arr_at_risk_tier",
         "accounts_at_risk", "note"),
        "ARR at risk", "arr_at_risk", ",.0f",
        "Active ARR, weighted by churn risk and on the at_risk tier; NULLs and a note if unscored.",
        unscored="q_kpi_arr_unscored",
    ),
    "time_to_value": KPI(
        "q_kpi_time_to_value", _JOURNEY,
        ("group", "cohort", "accounts", "reached", "reached_share", "median_days", "p90_days"),
        "Median days to first value", "median_days", ".1f",
        "Median and p90 days to first value, per signup cohort and overall (cohort null).",
    ),
}  # fmt: skip


def run(
    con,
    name: str,
    *,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
    **params: int,
) -> pl.DataFrame:
    """KPI `name` over the filtered accounts, with its parameters (defaults from KPIS) bound."""
    kpi = KPIS[name]
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"by={by!r} is not a breakdown; use one of {', '.join(BREAKDOWNS)}.")
    unknown = set(params) - set(kpi.params)
    if unknown:
        raise TypeError(f"{name} takes {', '.join(kpi.params) or 'no parameters'}, not {unknown}")
    if not all(db.table_exists(con, t) for t in kpi.needs):
        return empty(name)
    sql, bound = kpi.sql, kpi.params | params
    if kpi.stored and bound == kpi.params and all(db.table_exists(con, t) for t in kpi.stored[1]):
        sql = kpi.stored[0]
    note = _unscored(con) if kpi.unscored else None
    if note:
        sql, bound = kpi.unscored, bound | {"note": note}
    text = db.sql(sql)
    bound |= {
        "segments": None if segments is None else list(segments),
        "account_ids": None if account_ids is None else list(account_ids),
        "by": by,
    }
    # DuckDB refuses parameters a statement doesn't use.
    return db.run(con, text, **{k: v for k, v in bound.items() if f"${k}" in text})


def empty(name: str) -> pl.DataFrame:
    """An empty frame with the columns of KPI `name`."""
    return pl.DataFrame(schema=dict.fromkeys(KPIS[name].columns, pl.Null))


def _unscored(con) -> str | None:
    """Why health scores can't weigh ARR (None when they can)."""
    rows = db.run(
        con,
        "select column_name from information_schema.columns where table_name = $t",
        t="mart_account_health",
    )
    if rows.is_empty():
        return "No health scores yet (mart_account_health is missing): refresh with the model."
    missing = {"account_id", "churn_risk", "tier"} - set(rows["column_name"])
    if missing:
        return f"mart_account_health lacks {', '.join(sorted(missing))}: refresh with the model."
    return None
