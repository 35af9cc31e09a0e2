"""Side by side: product KPIs, health and moments for two or more groups of accounts.

A breakdown (segment, plan, region, industry, CSM, signup quarter or month) splits the accounts
into groups; `compare` assembles, for the chosen groups, the KPIs of health.metrics (activation,
time to value, stickiness, retention curves, feature adoption), the health tier distribution
(mart_account_health) and moments per 100 accounts (table `moments`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from health import db
from health.analytics import journey, metrics
from health.db import catalog

# The breakdowns a page may offer, with their labels (one list, shared with the KPIs).
BREAKDOWNS = metrics.BREAKDOWNS
NOT_SET = "(not set)"  # the group of accounts without a value for the breakdown
TIERS = ("healthy", "watch", "at_risk")
_BASE = ("params", "stg_accounts")

# What each page loses without an optional table (shown instead of silently thinner numbers).
_MISSING = {
    "segments": {
        "subscriptions": "no subscriptions, so expansion moments aren't detected and revenue "
        "comes from accounts.arr alone",
        "surveys": "no surveys, so promoter moments aren't detected",
    },
    "journey": {
        "touchpoints": "no touchpoints, so Onboarding is dated by the first product event "
        "rather than a kickoff or onboarding call",
        "subscriptions": "no subscriptions, so no account can reach Expanding (MRR or seats "
        "growing)",
        "surveys": "no surveys, so no account can reach Advocate (an NPS score of 9 or 10)",
    },
}


def _check(by: str) -> str:
    if by not in BREAKDOWNS:
        raise ValueError(f"by={by!r} is not a breakdown; use one of {', '.join(BREAKDOWNS)}.")
    return by


def _ids(account_ids: list[str] | None) -> list[str] | None:
    return None if account_ids is None else list(account_ids)


def groups(con, by: str, account_ids: list[str] | None = None) -> pl.DataFrame:
    """A breakdown's groups, largest first (cohorts in time order): group, accounts, customers."""
    if not all(db.table_exists(con, t) for t in _BASE):
        return pl.DataFrame(
            schema={"group": pl.String, "accounts": pl.Int64, "customers": pl.Int64}
        )
    return db.query(con, "q_segment_groups", by=_check(by), account_ids=_ids(account_ids))


def default_groups(options: pl.DataFrame, by: str, limit: int = 3) -> list[str]:
    """A sensible first pick: the latest cohorts for a signup breakdown, else the largest groups."""
    if by.startswith("cohort_"):
        return sorted(options["group"].to_list())[-limit:]
    return options["group"].head(limit).to_list()


def missing_inputs(con, page: str) -> list[str]:
    """What `page` can't show because an optional table is not loaded, one phrase per table."""
    counts = catalog.tables(con)
    empty = set(counts.filter(pl.col("rows") == 0)["table"].to_list())
    return [text for table, text in _MISSING[page].items() if table in empty]


@dataclass
class Comparison:
    """The chosen groups side by side; every frame has a `group` column."""

    by: str
    groups: list[str]
    summary: pl.DataFrame  # one row per group: the headline numbers
    activation: pl.DataFrame  # metrics KPI "activation" per group and signup cohort
    retention: pl.DataFrame  # pooled_retention: group, months_since, accounts, at_risk, …
    adoption: pl.DataFrame  # metrics KPI "feature_adoption" per group and feature
    health: pl.DataFrame  # group, tier, accounts, share, mean_score, group_median_score
    moments: pl.DataFrame  # group, moment, moments, accounts_with_moment, accounts, per 100
    notes: list[str] = field(default_factory=list)


def compare(
    con,
    by: str,
    chosen: list[str],
    *,
    account_ids: list[str] | None = None,
    activation_days: int = 30,
    moment_days: int = 365,
    min_accounts: int = 5,
) -> Comparison:
    """The chosen groups of breakdown `by` side by side, within `account_ids` (None: all)."""
    params = {"by": _check(by), "groups": list(chosen), "account_ids": _ids(account_ids)}
    members = db.query(con, "q_segment_members", **params)
    kpis = _kpis(con, by, members, _ids(account_ids), activation_days)
    retention = pooled_retention(kpis["retention"], min_accounts)
    notes = []
    if db.table_exists(con, "mart_account_health"):
        health = db.query(con, "q_segment_health", **params)
    else:
        health = pl.DataFrame(schema={"group": pl.String, "tier": pl.String})
        notes.append("No health scores yet: refresh to score the accounts.")
    if db.table_exists(con, "moments"):
        moments = db.query(con, "q_segment_moments", days=moment_days, **params)
    else:
        moments = pl.DataFrame(schema={"group": pl.String, "per_100_accounts": pl.Float64})
        notes.append("No moments yet: refresh to detect them.")
    if kpis["activation"].is_empty():
        notes.append("No journey milestones yet: refresh to compute activation and TTV.")
    summary = _summary(members, kpis, retention, health, moments, list(chosen))
    return Comparison(
        by, list(chosen), summary, kpis["activation"], retention, kpis["adoption"], health,
        moments, notes,
    )  # fmt: skip


# The KPIs this page compares, by their names in metrics.KPIS.
_KPIS = {
    "activation": "activation",
    "ttv": "time_to_value",
    "stickiness": "stickiness",
    "retention": "retention_cohorts",
    "adoption": "feature_adoption",
}


def _kpis(
    con, by: str, members: pl.DataFrame, account_ids: list[str] | None, activation_days: int
) -> dict[str, pl.DataFrame]:
    """Each KPI of health.metrics for the members, broken down by `by`.

    Each KPI is computed group by group, so the chosen groups' rows are the same whether the
    accounts are narrowed to the members or only to the scope. Binding and matching a list of
    every member's id costs more than it saves when the members are most of the scope (the
    default comparison of all segments: 10,000 ids, about 0.1-0.3 s per query), so the members'
    ids are passed only when they are a minority of it."""
    ids = members["account_id"].to_list()
    in_scope = len(account_ids) if account_ids is not None else _accounts(con)
    if 2 * len(ids) >= in_scope:
        ids = account_ids
    frames = {
        part: metrics.run(
            con, name, account_ids=ids, by=by,
            **({"days": activation_days} if name == "activation" else {}),
        )
        for part, name in _KPIS.items()
    }  # fmt: skip
    return {part: _chosen(frame, members) for part, frame in frames.items()}


def _accounts(con) -> int:
    return con.execute("select count(*) from stg_accounts").fetchall()[0][0]


def _chosen(frame: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """The rows of the members' groups (an empty KPI frame may have a null-typed group)."""
    if frame.is_empty():
        return frame
    return frame.filter(pl.col("group").cast(pl.String).is_in(members["group"].unique().to_list()))


def pooled_retention(cohorts: pl.DataFrame, min_accounts: int = 5) -> pl.DataFrame:
    """Logo retention by months since signup, a group's signup cohorts pooled (Kaplan-Meier).

    Each month's share kept (still customers / at risk: customers at the month before that are
    old enough to have reached this one) is summed over the cohorts, then chained, so accounts
    too young for a month are censored rather than counted as lost. The curve stops before the
    first month with fewer than `min_accounts` accounts old enough (its tail would be one or
    two accounts).
    """
    columns = ("group", "months_since", "accounts", "at_risk", "retained", "logo_retention")
    if cohorts.is_empty():
        return pl.DataFrame(
            schema={c: pl.Float64 if c == "logo_retention" else pl.Int64 for c in columns}
            | {"group": pl.String}
        )
    return (
        cohorts.group_by("group", "months_since")
        .agg(pl.col("accounts", "at_risk", "retained").sum())
        .sort("group", "months_since")
        .with_columns(
            kept=pl.when(pl.col("at_risk") > 0)
            .then(pl.col("retained") / pl.col("at_risk"))
            .otherwise(1.0),
            thin=(pl.col("accounts") < min_accounts).cum_sum().over("group"),
        )
        .with_columns(logo_retention=pl.col("kept").cum_prod().over("group"))
        .filter(pl.col("thin") == 0)
        .select(columns)
    )


def _summary(
    members: pl.DataFrame,
    kpis: dict[str, pl.DataFrame],
    retention: pl.DataFrame,
    health: pl.DataFrame,
    moments: pl.DataFrame,
    chosen: list[str],
) -> pl.DataFrame:
    """One row per chosen group: its size and headline numbers (null when not measurable)."""
    sizes = pl.DataFrame({"group": chosen}, schema={"group": pl.String}).join(
        members.group_by("group").agg(accounts=pl.len().cast(pl.Int64)), on="group", how="left"
    )
    activation = (
        kpis["activation"]
        .group_by("group")
        .agg(
            activation_eligible=pl.col("eligible").sum(),
            activation_rate=pl.when(pl.col("eligible").sum() > 0).then(
                pl.col("activated_within").sum() / pl.col("eligible").sum()
            ),
        )
    )
    ttv = (
        kpis["ttv"]
        .filter(pl.col("cohort").is_null())
        .select(
            "group",
            reached_value_share=pl.col("reached_share"),
            median_ttv_days=pl.col("median_days"),
            p90_ttv_days=pl.col("p90_days"),
        )
    )
    sticky = kpis["stickiness"].select("group", "dau_mau")
    kept = retention.filter(pl.col("months_since") == 12).select(
        "group", retention_12m=pl.col("logo_retention")
    )
    parts = [activation, ttv, sticky, kept]
    if "tier" in health.columns and "share" in health.columns:
        parts.append(
            health.group_by("group").agg(
                median_health=pl.col("group_median_score").first(),
                at_risk_share=pl.col("share").filter(pl.col("tier") == "at_risk").sum(),
            )
        )
    if "moment" in moments.columns:
        parts.append(
            moments.group_by("group").agg(moments_per_100=pl.col("per_100_accounts").sum())
        )
    for part in parts:
        sizes = sizes.join(part.cast({"group": pl.String}), on="group", how="left")
    return sizes


def journey_map(
    con, group_by: str, *, account_ids: list[str] | None = None, stall_days: int = 60
) -> pl.DataFrame:
    """journey.funnel with unnamed groups labelled, for a page or chart to show as they are."""
    if not db.table_exists(con, "int_journey_steps"):
        return pl.DataFrame(schema={"group": pl.String, "step_order": pl.Int32, "step": pl.String})
    frame = journey.funnel(con, group_by, stall_days=stall_days, account_ids=_ids(account_ids))
    return frame.with_columns(pl.col("group").fill_null(NOT_SET))


def time_to_value(
    con, *, account_ids: list[str] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Time to value per segment (all cohorts pooled) and per signup cohort (all segments)."""
    ids = _ids(account_ids)
    by_segment = metrics.run(con, "time_to_value", account_ids=ids, by="segment")
    by_cohort = metrics.run(con, "time_to_value", account_ids=ids)
    return (
        by_segment.filter(pl.col("cohort").is_null())
        .with_columns(pl.col("group").fill_null(NOT_SET))
        .drop("cohort"),
        by_cohort.filter(pl.col("cohort").is_not_null()).drop("group"),
    )
