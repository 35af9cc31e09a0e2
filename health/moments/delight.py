"""Delight read from adoption, contracts and surveys: a new feature, more seats, a new promoter."""

from __future__ import annotations

import datetime as dt

import polars as pl

ADOPTION_SCHEMA = {
    "account_id": pl.String,
    "kind": pl.String,
    "started_on": pl.Date,
    "detected_on": pl.Date,
    "event": pl.String,
    "feature": pl.String,
    "events": pl.Int64,
    "weeks_used": pl.Int64,
    "adopted_by": pl.Float64,
}


def detect_feature_adoption(
    firsts: pl.DataFrame,
    as_of: dt.date,
    *,
    min_age_days: int = 84,
    confirm_weeks: int = 3,
    max_confirm_weeks: int = 4,
    min_events: int = 4,
    min_feature_age_days: int = 84,
    max_adopted_by: float = 0.8,
) -> pl.DataFrame:
    """An advanced feature the account never used, taken up after onboarding and kept up.

    The first use comes at least `min_age_days` after signup, and the feature is used again
    week after week: in every one of the `confirm_weeks` weeks from the first use, or with one
    week missed per extra week up to `max_confirm_weeks`, and `min_events` times in all (a
    one-off click is not adoption); `detected_on` is the end of the first window that holds.
    A feature that only just appeared anywhere (a release: everybody's first use at once)
    needs `min_feature_age_days` of history across all accounts, and one most accounts use
    (more than `max_adopted_by`) is core, not advanced. `firsts`: int_moment_feature_firsts.
    """
    if firsts.is_empty():
        return pl.DataFrame(schema=ADOPTION_SCHEMA)
    n_accounts = firsts["account_id"].n_unique()
    base = firsts.with_columns(
        released=pl.col("first_day").min().over("event"),
        adopted_by=pl.col("account_id").n_unique().over("event") / n_accounts,
    ).filter(
        (pl.col("age_days") >= min_age_days)
        & (pl.col("first_day") - pl.col("released") >= dt.timedelta(days=min_feature_age_days))
        & (pl.col("adopted_by") <= max_adopted_by)
    )
    found = []
    for k in range(confirm_weeks, max_confirm_weeks + 1):
        weeks = [pl.col(f"events_w{j}") for j in range(k)]
        found.append(
            base.with_columns(
                events=pl.sum_horizontal(weeks),
                weeks_used=pl.sum_horizontal([(w > 0).cast(pl.Int64) for w in weeks]),
                detected_on=pl.col("first_day") + pl.duration(days=7 * k - 1),
            ).filter(
                (pl.col("weeks_used") >= confirm_weeks)
                & (pl.col(f"events_w{k - 1}") > 0)
                & (pl.col("events") >= min_events)
                & (pl.col("detected_on") <= as_of)
            )
        )
    out = (
        pl.concat(found)
        .sort("account_id", "event", "detected_on")
        .unique(subset=["account_id", "event"], keep="first", maintain_order=True)
        .sort("account_id", "first_day", "event")
    )
    return out.select(
        "account_id",
        pl.lit("usage_spike").alias("kind"),
        pl.col("first_day").alias("started_on"),
        "detected_on",
        "event",
        "feature",
        pl.col("events").cast(pl.Int64),
        pl.col("weeks_used").cast(pl.Int64),
        pl.col("adopted_by").cast(pl.Float64),
    )


CONTRACT_SCHEMA = {
    "account_id": pl.String,
    "kind": pl.String,
    "started_on": pl.Date,
    "detected_on": pl.Date,
    "seats_before": pl.Float64,
    "seats_after": pl.Float64,
    "mrr_before": pl.Float64,
    "mrr_after": pl.Float64,
    "plan_before": pl.String,
    "plan_after": pl.String,
}


def detect_contract_expansions(
    subscriptions: pl.DataFrame, *, min_growth: float = 0.0
) -> pl.DataFrame:
    """Contract periods with more seats or more MRR than the period before.

    Growth must exceed `min_growth` (a share: 0.1 ignores increases of 10 % or less, e.g. a
    price index). Known the day the new period starts. `subscriptions`: account_id,
    start_date, seats, mrr, plan.
    """
    if subscriptions.is_empty():
        return pl.DataFrame(schema=CONTRACT_SCHEMA)
    prev = {c: pl.col(c).shift(1).over("account_id") for c in ("seats", "mrr", "plan")}
    grew = lambda c: pl.col(c) > prev[c] * (1 + min_growth)  # noqa: E731 - twice, same rule
    return (
        subscriptions.sort("account_id", "start_date")
        .with_columns(
            seats_before=prev["seats"],
            mrr_before=prev["mrr"],
            plan_before=prev["plan"],
        )
        .filter(grew("seats").fill_null(False) | grew("mrr").fill_null(False))
        .select(
            "account_id",
            pl.lit("expansion").alias("kind"),
            pl.col("start_date").alias("started_on"),
            pl.col("start_date").alias("detected_on"),
            pl.col("seats_before").cast(pl.Float64),
            pl.col("seats").cast(pl.Float64).alias("seats_after"),
            pl.col("mrr_before").cast(pl.Float64),
            pl.col("mrr").cast(pl.Float64).alias("mrr_after"),
            pl.col("plan_before").cast(pl.String),
            pl.col("plan").cast(pl.String).alias("plan_after"),
        )
    )


PROMOTER_SCHEMA = {
    "account_id": pl.String,
    "kind": pl.String,
    "started_on": pl.Date,
    "detected_on": pl.Date,
    "score_before": pl.Float64,
    "score_after": pl.Float64,
    "answers_before": pl.Int64,
    "respondent": pl.String,
}


def detect_promoters(
    surveys: pl.DataFrame, *, wave_gap_days: int = 45, promoter_at: int = 9
) -> pl.DataFrame:
    """Accounts whose NPS answers turn from detractor or passive to promoter.

    Answers less than `wave_gap_days` apart form one survey wave. A flip is an answer of
    `promoter_at` or more, in a wave where promoters are now the majority, after a wave where
    they were not: counted on waves, so one respondent's noise within a wave is not a flip.
    `surveys`: account_id, user_id, responded_at, score (and optional respondent name).
    """
    if surveys.is_empty():
        return pl.DataFrame(schema=PROMOTER_SCHEMA)
    s = (
        surveys.with_columns(day=pl.col("responded_at").cast(pl.Date))
        .sort("account_id", "responded_at")
        .with_columns(
            new_wave=(
                (pl.col("day") - pl.col("day").shift(1).over("account_id")).dt.total_days()
                > wave_gap_days
            ).fill_null(True)
        )
        .with_columns(wave=pl.col("new_wave").cast(pl.Int64).cum_sum().over("account_id"))
        .with_columns(
            promoter=(pl.col("score") >= promoter_at).cast(pl.Int64),
            running_promoters=(pl.col("score") >= promoter_at)
            .cast(pl.Int64)
            .cum_sum()
            .over("account_id", "wave"),
            running_answers=pl.int_range(1, pl.len() + 1).over("account_id", "wave"),
        )
    )
    waves = s.group_by("account_id", "wave").agg(
        prev_share=pl.col("promoter").mean(),
        prev_score=pl.col("score").mean(),
        prev_n=pl.len(),
    )
    flips = (
        s.join(waves.with_columns(pl.col("wave") + 1), on=["account_id", "wave"], how="inner")
        .filter(
            (pl.col("promoter") == 1)
            & (pl.col("prev_share") < 0.5)
            & (2 * pl.col("running_promoters") > pl.col("running_answers"))
        )
        .group_by("account_id", "wave")
        .agg(pl.all().sort_by("responded_at").first())
        .sort("account_id", "day")
    )
    respondent = pl.col("name") if "name" in flips.columns else pl.col("user_id")
    return flips.select(
        "account_id",
        pl.lit("promoter").alias("kind"),
        pl.col("day").alias("started_on"),
        pl.col("day").alias("detected_on"),
        pl.col("prev_score").cast(pl.Float64).alias("score_before"),
        pl.col("score").cast(pl.Float64).alias("score_after"),
        pl.col("prev_n").cast(pl.Int64).alias("answers_before"),
        respondent.cast(pl.String).alias("respondent"),
    )
