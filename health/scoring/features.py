"""Health features per account and week (mart_account_features) with 90-day churn labels."""

from __future__ import annotations

import datetime as dt

import polars as pl

from health import db

HORIZON_DAYS = 90

# Model inputs, grouped as the product talks about them; labels say what each one is.
GROUPS: dict[str, dict[str, str]] = {
    "usage": {
        "events_7d": "events in the last 7 days",
        "events_28d": "events in the last 28 days",
        "events_84d": "events in the last 84 days",
        "events_per_seat_28d": "events per seat, last 28 days",
        "events_change_28d": "change in events vs the 28 days before",
        "events_change_84d": "events in the last 28 days vs the 56 before",
        "active_days_28d": "days with activity, last 28 days",
        "active_users_7d": "active users, last 7 days",
        "active_users_28d": "active users, last 28 days",
        "active_users_change_28d": "change in active users vs the 28 days before",
        "active_user_share": "active users per seat",
        "events_per_user_28d": "events per active user, last 28 days",
        "features_28d": "features used, last 28 days",
        "features_ever": "features ever used",
        "core_adoption_28d": "share of core features used, last 28 days",
        "non_core_share_28d": "share of activity outside the core features",
        "event_types_28d": "kinds of events, last 28 days",
        "event_types_ever": "kinds of events ever",
        "days_since_active": "days since the last activity",
        "tenure_days": "days since signup",
    },
    "contract": {
        "mrr": "monthly recurring revenue",
        "seats": "seats",
        "mrr_per_seat": "MRR per seat",
        "price_index": "price per seat vs others on the plan",
        "annual_term": "on annual terms",
        "term_months": "contract term, months",
        "months_on_plan": "months on the current plan",
        "lines_change_90d": "add-ons bought (+) or dropped (-) in 90 days",
        "days_to_renewal": "days to renewal",
        "renewal_within_90d": "renewal within 90 days",
        "seats_change_90d": "change in seats over 90 days",
        "mrr_change_90d": "change in MRR over 90 days",
    },
    "support": {
        "tickets_28d": "tickets opened, last 28 days",
        "tickets_84d": "tickets opened, last 84 days",
        "tickets_per_seat_84d": "tickets per seat, last 84 days",
        "high_tickets_84d": "high/urgent tickets opened, last 84 days",
        "open_tickets": "tickets open",
        "high_open": "high/urgent tickets open",
        "csat_84d": "CSAT, last 84 days",
    },
    "voice": {
        "nps_latest": "NPS score, latest half-year",
        "nps_change": "NPS change vs the half-year before",
    },
    "csm": {
        "sentiment_latest": "CSM sentiment at the last touchpoint",
        "days_since_touch": "days since the last CSM touchpoint",
        "red_touches_84d": "red touchpoints, last 84 days",
    },
    "people": {
        "champions": "champions known",
        "champions_left": "champions who left",
        "champion_days_inactive": "days since a champion was active",
        "users_left_84d": "users deactivated, last 84 days",
    },
}
NUMERIC: tuple[str, ...] = tuple(f for group in GROUPS.values() for f in group)
CATEGORICAL: tuple[str, ...] = ("segment", "plan")
LABELS: dict[str, str] = {f: label for group in GROUPS.values() for f, label in group.items()}


# Every feature row with its outcome: `churned` within 90 days, null while not yet known.
_WITH_OUTCOME = """
    select
        f.*,
        a.churn_date,
        case
            when f.week_end + $horizon::integer > p.as_of then null
            else coalesce(a.churn_date <= f.week_end + $horizon::integer, false)
        end as churned
    from mart_account_features as f
    join stg_accounts as a using (account_id)
    cross join params as p
"""


def load(con, since: dt.date | None = None) -> pl.DataFrame:
    """Every feature row with its outcome: `churned` within 90 days, null while not yet known.
    `since`: only the weeks from this day on (what a reused model scores after new data)."""
    frame = db.run(
        con,
        f"select * from ({_WITH_OUTCOME}) where $since is null or week_end >= $since "
        "order by week_end, account_id",
        horizon=HORIZON_DAYS,
        since=since,
    )
    return frame.with_columns(pl.col(c).cast(pl.Float64) for c in NUMERIC)


def known_in_training(con) -> list[str]:
    """`known(training_rows(load(con)))` (health/scoring/fit.py), counted in the database
    without loading every week: the numeric features a model trained now would use."""
    counts = ", ".join(f"count({c})" for c in NUMERIC)  # names from NUMERIC: an allow-list
    row = db.run(
        con,
        f"""
        with rows as ({_WITH_OUTCOME}),
            -- training_rows: labelled weeks from four weeks into the usage data
            start as (select min(week_end) + 28 as day from rows where events_28d > 0)
        select {counts} from rows
        where churned is not null
            and week_end >= coalesce((select day from start), '-infinity'::date)
        """,
        horizon=HORIZON_DAYS,
    ).row(0)
    return [c for c, n in zip(NUMERIC, row, strict=True) if n > 0]


def known(frame: pl.DataFrame) -> list[str]:
    """Numeric features with at least one value: a missing table gives none, and is left out."""
    counts = frame.select(pl.col(c).is_not_null().sum() for c in NUMERIC).row(0)
    return [c for c, n in zip(NUMERIC, counts, strict=True) if n > 0]
