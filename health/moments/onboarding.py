"""Relationship change right after signup: a stalled onboarding or an early WOW, against peers.

An account's first weeks are compared with comparable accounts (same segment) at the same age,
per seat (else per invited user), after dividing out the shared weekly index so a signup just
before the holidays is not called stalled. Peers are only accounts that had already reached
that age by then: the comparison at `detected_on` uses nothing later. The test runs each week
from `min_weeks` to `max_weeks` of age and fires at the first week the evidence is strong.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

import numpy as np
import polars as pl

ONBOARDING_SCHEMA = {
    "account_id": pl.String,
    "kind": pl.String,
    "started_on": pl.Date,
    "detected_on": pl.Date,
    "age_weeks": pl.Int64,
    "metric_before": pl.Float64,  # the peers' median events per seat per week
    "metric_after": pl.Float64,  # the account's events per seat per week
    "ratio": pl.Float64,
    "z": pl.Float64,
    "users": pl.Int64,
    "features": pl.Int64,
    "peer_features": pl.Float64,
    "size": pl.Float64,
}


def onboarding_stats(
    onboarding: pl.DataFrame,
    accounts: pl.DataFrame,
    index: pl.DataFrame,
    *,
    max_weeks: int = 8,
    min_peers: int = 10,
    min_scale: float = 0.2,
) -> pl.DataFrame:
    """Per account and week of age: cumulative usage per seat and its robust z against peers.

    `onboarding`: account_id, age_week, mid_day, events, active_users, new_users,
    new_features. `accounts`: account_id, segment, signup_date, size (seats or invited users;
    null when unknown). `index`: week_end, index (the shared weekly index).
    """
    if onboarding.is_empty():
        return pl.DataFrame()
    idx = index.sort("week_end").rename({"week_end": "mid_day"})
    weeks = (
        onboarding.filter(pl.col("age_week") < max_weeks)
        .sort("mid_day")
        .join_asof(idx, on="mid_day", strategy="forward")
        .with_columns(pl.col("index").fill_null(1.0))
        .sort("account_id", "age_week")
    )
    cum = weeks.with_columns(
        weeks_seen=pl.col("age_week") + 1,
        events_c=pl.col("events").cum_sum().over("account_id"),
        exposure_c=pl.col("index").cum_sum().over("account_id"),
        users_c=pl.col("new_users").cum_sum().over("account_id"),
        features_c=pl.col("new_features").cum_sum().over("account_id"),
    ).join(accounts.select("account_id", "segment", "signup_date", "size"), on="account_id")
    cum = cum.with_columns(
        size=pl.coalesce(pl.col("size"), pl.col("users_c"), pl.lit(1)).clip(lower_bound=1),
        completed=pl.col("signup_date") + pl.duration(days=7 * pl.col("weeks_seen") - 1),
    ).with_columns(
        rate=pl.col("events_c") / (pl.col("exposure_c") * pl.col("size")),
        intensity=((pl.col("events_c") + 1) / (pl.col("exposure_c") * pl.col("size"))).log(),
    )
    by_segment = _with_peers(cum, ["segment", "weeks_seen"], min_scale)
    # The first accounts of a segment have too few peers yet: all segments pooled stand in.
    pooled = _with_peers(cum, ["weeks_seen"], min_scale)
    peer_cols = ["peer_median", "peer_scale", "peers", "peer_features"]
    use_seg = pl.col("peers") >= min_peers
    out = (
        by_segment.join(
            pooled.select("account_id", "weeks_seen", *peer_cols),
            on=["account_id", "weeks_seen"],
            suffix="_all",
        )
        .with_columns(
            [
                pl.when(use_seg).then(pl.col(c)).otherwise(pl.col(f"{c}_all")).alias(c)
                for c in peer_cols
            ]
        )
        .drop([f"{c}_all" for c in peer_cols])
        .filter(pl.col("peers") >= min_peers)
    )
    return out.with_columns(
        z=(pl.col("intensity") - pl.col("peer_median")) / pl.col("peer_scale"),
        ratio=(pl.col("intensity") - pl.col("peer_median")).exp(),
    ).sort("account_id", "weeks_seen")


def _with_peers(cum: pl.DataFrame, by: list[str], min_scale: float) -> pl.DataFrame:
    """`cum` with its causal peer statistics within each group of `by`."""
    frames = []
    for _, part in cum.group_by(by):
        med, scale, n, feat = _causal_peers(
            part["intensity"].to_numpy(),
            part["features_c"].to_numpy().astype(float),
            part["completed"].to_numpy(),
            min_scale=min_scale,
        )
        frames.append(
            part.with_columns(
                peer_median=pl.Series(med),
                peer_scale=pl.Series(scale),
                peers=pl.Series(n),
                peer_features=pl.Series(feat),
            )
        )
    return pl.concat(frames)


def _causal_peers(values, features, day, *, min_scale: float):
    """For each account: median and robust scale of the values of accounts done strictly before."""
    order = np.argsort(day, kind="stable")
    med = np.full(len(values), np.nan)
    scale = np.full(len(values), np.nan)
    feat = np.full(len(values), np.nan)
    n = np.zeros(len(values), dtype=np.int64)
    seen: list[float] = []
    seen_f: list[float] = []
    by_day: dict = defaultdict(list)
    for i in order:
        by_day[day[i]].append(i)
    for d in sorted(by_day):  # a day's accounts see only earlier days: no peeking at equals
        if seen:
            m = len(seen)
            q1, q2, q3 = seen[m // 4], seen[m // 2], seen[(3 * m) // 4]
            for i in by_day[d]:
                med[i], n[i] = q2, m
                scale[i] = max((q3 - q1) / 1.349, min_scale)
                feat[i] = seen_f[len(seen_f) // 2]
        for i in by_day[d]:
            bisect.insort(seen, float(values[i]))
            bisect.insort(seen_f, float(features[i]))
    return med, scale, n, feat


def _first(stats: pl.DataFrame, hit: pl.Expr, kind: str) -> pl.DataFrame:
    first = stats.filter(hit).group_by("account_id").agg(pl.all().sort_by("weeks_seen").first())
    return first.select(
        "account_id",
        pl.lit(kind).alias("kind"),
        pl.col("signup_date").alias("started_on"),
        pl.col("completed").alias("detected_on"),
        pl.col("weeks_seen").cast(pl.Int64).alias("age_weeks"),
        pl.col("peer_median").exp().alias("metric_before"),
        pl.col("rate").alias("metric_after"),
        "ratio",
        "z",
        pl.col("users_c").cast(pl.Int64).alias("users"),
        pl.col("features_c").cast(pl.Int64).alias("features"),
        "peer_features",
        pl.col("size").cast(pl.Float64),
    )


def detect_stalled_onboarding(
    stats: pl.DataFrame,
    *,
    min_weeks: int = 3,
    z: float = 3.0,
    max_ratio: float = 0.3,
) -> pl.DataFrame:
    """Accounts whose first weeks are far below their peers' at the same age, per seat.

    Fires at the first week of age from `min_weeks` where the robust z of cumulative events per
    seat is at most `-z` and the account is at most `max_ratio` of the peers' median.
    """
    if stats.is_empty():
        return pl.DataFrame(schema=ONBOARDING_SCHEMA)
    hit = (pl.col("weeks_seen") >= min_weeks) & (pl.col("z") <= -z) & (pl.col("ratio") <= max_ratio)
    return _first(stats, hit, "stalled_onboarding")


def detect_early_wow(
    stats: pl.DataFrame,
    *,
    min_weeks: int = 2,
    z: float = 2.5,
    min_ratio: float = 2.5,
    min_breadth: float = 1.0,
) -> pl.DataFrame:
    """Accounts off to an unusually fast, broad and intense start against their peers.

    Intense: robust z of cumulative events per seat at least `z` and at least `min_ratio` times
    the peers' median. Broad: at least `min_breadth` times the peers' median number of features.
    """
    if stats.is_empty():
        return pl.DataFrame(schema=ONBOARDING_SCHEMA)
    hit = (
        (pl.col("weeks_seen") >= min_weeks)
        & (pl.col("z") >= z)
        & (pl.col("ratio") >= min_ratio)
        & (pl.col("features_c") >= min_breadth * pl.col("peer_features"))
    )
    return _first(stats, hit, "early_wow")
