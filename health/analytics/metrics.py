"""Product KPIs as product-analytics tools define them, over the refreshed as-of data.

Every function takes a connection to a refreshed database and the same three filters:
`segments` (keep these segments), `account_ids` (keep these accounts) and `by` (break the
result down by one account attribute, see DIMENSIONS; without it every row's `group` is 'All').
None keeps everything; an empty list keeps nothing. To compare segments side by side, pass
by="segment" (and `segments` to pick which).
A frame always has the columns listed in COLUMNS; it is empty when the data a KPI needs is
absent (no user ids in events, no journey milestones, no refresh yet), never an error.
"""

from __future__ import annotations

import polars as pl

from health import db

# Account attributes a KPI can be broken down by; the SQL maps each name to its column.
DIMENSIONS = ("segment", "plan", "industry", "region", "csm_owner")

# The columns of each KPI's frame, in order: the contract pages build on (tested).
COLUMNS: dict[str, tuple[str, ...]] = {
    "activation": (
        "group", "cohort", "days", "signups", "eligible", "activated_within",
        "activation_rate", "activated", "activation_rate_overall",
    ),
    "feature_adoption": (
        "group", "feature", "accounts_using", "active_accounts", "account_share",
        "users_using", "active_users", "user_share",
    ),
    "feature_adoption_monthly": (
        "group", "month", "complete", "feature", "accounts_using", "active_accounts",
        "account_share", "users_using", "active_users", "user_share",
    ),
    "stickiness": ("group", "days", "active_accounts", "avg_dau", "mau", "dau_mau"),
    "stickiness_accounts": (
        "group", "account_id", "name", "days", "active_days", "avg_dau", "mau", "dau_mau",
    ),
    "power_users": ("group", "active_days", "user_weeks", "users_per_week", "share"),
    "lifecycle": ("group", "week_end", "weeks_ago", "status", "users"),
    "retention_cohorts": (
        "group", "cohort", "months_since", "accounts", "retained", "logo_retention",
        "start_mrr", "mrr", "revenue_retention", "source",
    ),
    "churn": (
        "group", "month", "complete", "active_start", "churned", "churn_rate",
        "annualised_churn",
    ),
    "revenue_retention": (
        "group", "period", "start_date", "end_date", "starting_mrr", "expansion",
        "contraction", "churned_mrr", "grr", "nrr", "source",
    ),
    "arr_at_risk": (
        "group", "active_accounts", "arr", "arr_at_risk", "arr_at_risk_tier",
        "accounts_at_risk", "note",
    ),
    "time_to_value": (
        "group", "cohort", "accounts", "reached", "reached_share", "median_days", "p90_days",
    ),
}  # fmt: skip

# Relations every KPI reads: a database that was never refreshed has none of them.
_BASE = ("params", "stg_accounts")
_USERS = (*_BASE, "int_user_days")
_EVENTS = (*_BASE, "int_user_feature_days")
_JOURNEY = (*_BASE, "int_journey_milestones")
_REVENUE = (*_BASE, "int_kpi_revenue_periods")


def _kpi(
    con,
    name: str,
    needs: tuple[str, ...],
    segments: list[str] | None,
    account_ids: list[str] | None,
    by: str | None,
    frame: str | None = None,
    **params,
) -> pl.DataFrame:
    """Run q_kpi_<name> with the filters bound; an empty `frame` when a relation is missing."""
    if by is not None and by not in DIMENSIONS:
        raise ValueError(f"by={by!r} is not a breakdown; use one of {', '.join(DIMENSIONS)}.")
    if not all(db.table_exists(con, t) for t in needs):
        return empty(frame or name)
    text = db.sql(f"q_kpi_{name}")
    params |= {
        "segments": None if segments is None else list(segments),
        "account_ids": None if account_ids is None else list(account_ids),
        "by": by,
    }
    # DuckDB refuses parameters a statement doesn't use.
    return db.run(con, text, **{k: v for k, v in params.items() if f"${k}" in text})


def empty(name: str) -> pl.DataFrame:
    """An empty frame with the columns of KPI `name`."""
    return pl.DataFrame(schema=dict.fromkeys(COLUMNS[name], pl.Null))


def activation_rate(
    con,
    *,
    days: int = 30,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """Per signup-month cohort: share activated within `days` days of signup, and at all."""
    return _kpi(con, "activation", _JOURNEY, segments, account_ids, by, days=days)


def feature_adoption(
    con,
    *,
    days: int = 28,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """Per feature: share of the accounts and users active in the last `days` days that used it."""
    return _kpi(con, "feature_adoption", _EVENTS, segments, account_ids, by, days=days)


def feature_adoption_monthly(
    con,
    *,
    months: int = 12,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """Per calendar month and feature: share of that month's active accounts and users using it."""
    return _kpi(con, "feature_adoption_monthly", _EVENTS, segments, account_ids, by, months=months)


def stickiness(
    con,
    *,
    days: int = 28,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """DAU/MAU per group: mean daily active users in the last `days` days / users active in them."""
    return _kpi(con, "stickiness", _USERS, segments, account_ids, by, days=days)


def stickiness_by_account(
    con,
    *,
    days: int = 28,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """DAU/MAU of each account with a user active in the last `days` days, stickiest first."""
    return _kpi(con, "stickiness_accounts", _USERS, segments, account_ids, by, days=days)


def power_user_curve(
    con,
    *,
    weeks: int = 4,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """How many users were active 1 to 7 days a week, pooled over the last `weeks` as-of weeks."""
    return _kpi(con, "power_users", _USERS, segments, account_ids, by, weeks=weeks)


def user_lifecycle(
    con,
    *,
    weeks: int = 12,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """New, returning, resurrecting and dormant (negative) users per as-of week, latest `weeks`."""
    return _kpi(con, "lifecycle", _USERS, segments, account_ids, by, weeks=weeks)


def retention_cohorts(
    con,
    *,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """Logo and revenue retention per signup-month cohort and whole months since signup."""
    return _kpi(con, "retention_cohorts", _REVENUE, segments, account_ids, by)


def churn_rate(
    con,
    *,
    months: int = 12,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """Logo churn per calendar month (churned in it / active at its start), and annualised."""
    return _kpi(con, "churn", _BASE, segments, account_ids, by, months=months)


def revenue_retention(
    con,
    *,
    months: int = 12,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """Gross and net revenue retention over the trailing `months` months and each month in them."""
    return _kpi(con, "revenue_retention", _REVENUE, segments, account_ids, by, months=months)


def arr_at_risk(
    con,
    *,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """Active ARR, weighted by churn risk and on the at_risk tier; NULLs and a note if unscored."""
    note = _unscored(con)
    if note:
        return _kpi(
            con, "arr_unscored", _REVENUE, segments, account_ids, by, "arr_at_risk", note=note
        )
    return _kpi(con, "arr_at_risk", _REVENUE, segments, account_ids, by)


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


def time_to_value(
    con,
    *,
    segments: list[str] | None = None,
    account_ids: list[str] | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """Median and p90 days to first value, per signup cohort and overall (cohort null)."""
    return _kpi(con, "time_to_value", _JOURNEY, segments, account_ids, by)
