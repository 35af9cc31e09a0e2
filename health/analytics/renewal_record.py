"""The renewal forecast's track record: per past quarter, the forecast made the day before it
began, out-of-sample, against the ARR that actually renewed, and how well calibrated it was.

Out-of-sample means the probabilities of a quarter came from something that had not seen that
quarter's outcomes: with a churn model, the fit's backtest model trained only on snapshots
whose outcome was known before the quarter (renewals.history reads model_backtest); with the
scorecard, hand-set weights that learn nothing. Each quarter is recalibrated on the quarters
before it only.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from health.analytics import renewals

TRACK_QUARTERS = 6  # past quarters shown
MIN_QUARTER_RENEWALS = 10  # fewer renewals in a quarter and its figures are not shown

NOT_REACHED = "no out-of-sample forecast: the model's backtest does not reach this quarter"
TOO_FEW = "too few renewals to judge ({n})"

TRACK_SCHEMA = {  # the columns a reader looks at first come first
    "quarter": pl.String,
    "forecast_made_on": pl.Date,
    "accounts": pl.Int64,
    "expected_arr": pl.Float64,
    "low_90": pl.Float64,
    "high_90": pl.Float64,
    "actual_arr": pl.Float64,
    "in_interval": pl.Boolean,
    "predicted_rate": pl.Float64,
    "observed_rate": pl.Float64,
    "brier": pl.Float64,
    "brier_reference": pl.Float64,
    "status": pl.String,
    "actual_accounts": pl.Int64,
    "arr": pl.Float64,
    "expected_uncalibrated": pl.Float64,
    "calibrated_on": pl.Int64,
    "outcomes_known_by": pl.Date,
    "unscored": pl.Int64,
}


def track_record(
    con,
    as_of: dt.date,
    account_ids: list[str] | None = None,
    past: list[pl.DataFrame] | None = None,
    kinds: tuple[str, ...] = renewals.KINDS,
) -> pl.DataFrame:
    """Per past quarter (the last six): the out-of-sample forecast made the day before it began,
    recalibrated on the quarters before it only, against the ARR that actually renewed; or, in
    `status`, why a quarter has no figures (not reached by the backtest, too few renewals)."""
    past = renewals.history(con, as_of, kinds) if past is None else past
    made = {p["quarter"][0]: i for i, p in enumerate(past) if p.height}
    weeks = renewals.out_of_sample_weeks(con)
    rows = []
    for start, _ in renewals.past_quarters(con, as_of)[-TRACK_QUARTERS:]:
        name, made_on = renewals.quarter_name(start), start - dt.timedelta(days=1)
        i = made.get(name)
        row = {"quarter": name, "forecast_made_on": made_on}
        if i is None:
            reached = weeks is None or renewals.scored_week(con, made_on) in weeks
            rows.append({**row, "status": TOO_FEW.format(n=0) if reached else NOT_REACHED})
            continue
        rows.append({**row, **_quarter(past[i], past[:i], account_ids)})
    return pl.DataFrame(rows, schema=TRACK_SCHEMA)


def _quarter(frame: pl.DataFrame, earlier: list[pl.DataFrame], account_ids) -> dict:
    """One quarter's figures: forecast, interval, actual, calibration; or a status saying why
    there are none."""
    fixed, n = renewals.recalibrate(frame, earlier)
    raw = frame
    if account_ids is not None:
        fixed = fixed.filter(pl.col("account_id").is_in(account_ids))
        raw = raw.filter(pl.col("account_id").is_in(account_ids))
    known_by = frame["outcomes_known_by"].max() if "outcomes_known_by" in frame.columns else None
    base = {"calibrated_on": n, "outcomes_known_by": known_by, "accounts": fixed.height}
    base["unscored"] = int(frame["unscored"][0]) if "unscored" in frame.columns else 0
    if fixed.height < MIN_QUARTER_RENEWALS:
        return {**base, "status": TOO_FEW.format(n=fixed.height)}
    y = fixed["renewed"].cast(pl.Float64).to_numpy()
    p = fixed["p_renew"].to_numpy()
    head = renewals.summarise(fixed).row(0, named=True)
    actual = float(fixed.filter(pl.col("renewed"))["arr"].fill_null(0).sum())
    before = pl.concat([e.select("renewed") for e in earlier]) if earlier else None
    rate = float(before["renewed"].mean()) if before is not None and before.height else None
    return {
        **base,
        **head,
        "expected_uncalibrated": float(raw["expected_arr"].sum()),
        "actual_accounts": int(y.sum()),
        "actual_arr": actual,
        "in_interval": head["low_90"] <= actual <= head["high_90"],
        "predicted_rate": float(p.mean()),
        "observed_rate": float(y.mean()),
        "brier": float(np.mean((p - y) ** 2)),
        # A forecast that knows nothing of the accounts: the earlier quarters' renewal rate.
        "brier_reference": None if rate is None else float(np.mean((rate - y) ** 2)),
    }


def track_sentence(track: pl.DataFrame) -> str | None:
    """How the past forecasts did, in a sentence; None without a quarter with figures."""
    scored = track.filter(pl.col("status").is_null())
    if scored.is_empty():
        return None
    hits = int(scored["in_interval"].sum())
    error = (scored["expected_arr"] - scored["actual_arr"]).abs().sum() / max(
        float(scored["actual_arr"].sum()), 1.0
    )
    text = (
        f"Out-of-sample, in {hits} of {scored.height} past quarters the ARR that renewed fell "
        f"inside the forecast's 90 % interval; its expected ARR was off by {error:.1%} of the "
        f"actual in total. Brier score {_mean(scored['brier']):.3f} on average "
        "(0 is perfect; lower is better)"
    )
    ref = scored["brier_reference"].drop_nulls()
    if ref.len():
        mine = _mean(scored.filter(pl.col("brier_reference").is_not_null())["brier"])
        text += (
            f"; {mine:.3f} against {_mean(ref):.3f} for the same quarters forecast by the earlier "
            "quarters' renewal rate alone"
        )
    return text + "."


def _mean(values: pl.Series) -> float:
    return float(values.mean())


def source_sentence(source: str, track: pl.DataFrame) -> str:
    """Which score the track record is for and why its forecasts are out-of-sample."""
    if source == "model":
        known = track["outcomes_known_by"].drop_nulls()
        when = f" (the latest by {known.max()})" if known.len() else ""
        return (
            "These forecasts are out-of-sample. Each quarter's churn risks come from the model "
            "fit's backtest: a model trained only on snapshots whose 90-day outcome was known "
            f"before the quarter began{when}, not today's model, which learned from these "
            "quarters' outcomes. Their probability scale (two numbers) was fitted on the other "
            "backtest periods, and each quarter is recalibrated on earlier quarters' renewals "
            "only. Quarters before the backtest's first test period have no such forecast."
        )
    return (
        "The scorecard carries the score (no churn model has earned its place), so this is the "
        "scorecard's track record. Its weights are set by hand and learn nothing from outcomes, "
        "so its past scores are out-of-sample by construction; only its rough risk scale uses "
        "today's overall churn rate (one number), which the recalibration on earlier quarters' "
        "renewals replaces once it has enough of them."
    )


def for_display(track: pl.DataFrame) -> pl.DataFrame:
    """The track record's table as a reader scans it: the interval in one column, why a quarter
    has no figures last; the download keeps every column."""
    # A handful of quarters: formatting each in Python is cheap.
    low, high = (
        pl.col(c).map_elements(renewals.compact, return_dtype=pl.String)
        for c in ("low_90", "high_90")
    )
    return track.select(
        "quarter",
        "accounts",
        "expected_arr",
        pl.format("{} – {}", low, high).alias("interval_90"),
        "actual_arr",
        "in_interval",
        "predicted_rate",
        "observed_rate",
        "brier",
        "brier_reference",
        "status",
        "outcomes_known_by",
    )
