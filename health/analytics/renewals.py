"""Renewal forecast: who renews in the next two quarters, the ARR to expect with an exact 90 %
interval (the sum of independent Bernoullis), and the same forecast's track record.

The probability that an account renews is one minus its chance of churning by the renewal:
- renewal within the churn model's 90-day horizon of the week it was scored: the model's
  calibrated 90-day churn risk covers the renewal, so it is used as it is;
- renewal further out: the model's risk at the account's decision point (as if the renewal were
  45 days away, health/scoring/decision.py), recovered exactly from the health score it defines;
- in cold start (no model, the scorecard carries the score): the scorecard's rough risk, which
  is not a calibrated probability, and the page says so.
Then each probability is recalibrated on past renewals whose outcome was known by the as-of
date (the same forecast made before each earlier quarter), because the churn model is
calibrated over every 90 days of an account's life, not over the days around a renewal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression

from health import db
from health.scoring import decision
from health.scoring import store as model_store
from health.scoring.features import HORIZON_DAYS

WINDOW_MONTHS = 6  # the next two quarters
LEVEL = 0.90
TRACK_QUARTERS = 6  # past quarters shown in the track record
MAX_CELLS = 200_000  # lattice size of the exact distribution; ARR is rounded to its unit
NEEDS = ("mart_account_features", "mart_health_history", "stg_accounts")

IN_HORIZON = "90-day churn risk"
AT_DECISION = "risk at the decision point"
SCORECARD = "scorecard (not calibrated)"
METHOD_SENTENCES = {
    IN_HORIZON: (
        "Renewals within {h} days of the scoring week: one minus the churn model's calibrated "
        "probability of churning within {h} days, which covers the renewal."
    ),
    AT_DECISION: (
        "Renewals more than {h} days out, beyond the churn model's horizon: one minus the "
        "model's risk at the account's decision point, that is its {h}-day churn risk as if its "
        "renewal were 45 days away, given what is known today (the same risk the health score "
        "is made of). It assumes the account's state holds until then."
    ),
    SCORECARD: (
        "Cold start, no churn model yet: one minus the scorecard's rough risk. These are not "
        "calibrated probabilities; the track record shows how far to trust them."
    ),
}


def missing(con) -> list[str]:
    """The relations the forecast reads that this database lacks (empty when none)."""
    return [t for t in NEEDS if not db.table_exists(con, t)]


def window(as_of: dt.date, months: int = WINDOW_MONTHS) -> tuple[dt.date, dt.date]:
    """The days after the as-of date up to the same day `months` later."""
    m = as_of.month - 1 + months
    year, month = as_of.year + m // 12, m % 12 + 1
    end = dt.date(year, month, 1) + dt.timedelta(days=min(as_of.day, 28) - 1)
    return as_of + dt.timedelta(days=1), end


def renewal_accounts(
    con,
    as_of: dt.date,
    window_from: dt.date,
    window_to: dt.date,
    latest: bool,
    account_ids: list[str] | None = None,
) -> pl.DataFrame:
    """Accounts active at the as-of date whose commitment ends in the window, as known then.

    The one place that decides where a renewal date comes from (q_renewals.sql): the end of the
    current subscription term at the scoring week; for the latest as-of only, else the accounts
    file's renewal_date (a snapshot that would leak into past dates)."""
    if account_ids is not None and not account_ids:
        account_ids = ["\x00"]  # an empty scope keeps no account (the SQL reads [] as all)
    return db.query(
        con,
        "q_renewals",
        as_of=as_of,
        window_from=window_from,
        window_to=window_to,
        use_snapshot=latest,
        account_ids=list(account_ids or []),
    )


def probabilities(frame: pl.DataFrame, usual: dict[str, float] | None) -> pl.DataFrame:
    """Add p_renew, expected_arr and the method each probability is made by."""
    days_out = (pl.col("renewal_date") - pl.col("scored_on")).dt.total_days()
    group = pl.when(pl.col("renewal_source") == "subscription term")
    base = group.then(pl.lit((usual or {}).get(decision.ON_TERMS, 0.0))).otherwise(
        pl.lit((usual or {}).get(decision.NO_TERM, 0.0))
    )
    # health = 100 / (1 + decision risk / usual) (decision.health), so the decision risk is
    # usual * (100 / health - 1): the exact number the health score was made from.
    at_decision = (base.clip(1e-6) * (100.0 / pl.col("health_score").clip(1e-6) - 1.0)).clip(0, 1)
    model = pl.col("score_source") == "model"
    method = (
        pl.when(~model & pl.col("score_source").is_not_null())
        .then(pl.lit(SCORECARD))
        .when((days_out <= HORIZON_DAYS) | (usual is None))
        .then(pl.lit(IN_HORIZON))
        .otherwise(pl.lit(AT_DECISION))
    )
    churn = pl.when(method == AT_DECISION).then(at_decision).otherwise(pl.col("churn_risk"))
    return (
        frame.with_columns(method=method)
        .with_columns(p_renew=(1.0 - churn).fill_null(0.5).clip(0, 1))
        .with_columns(
            expected_arr=pl.col("arr").fill_null(0) * pl.col("p_renew"),
            month=pl.col("renewal_date").dt.truncate("1mo"),
        )
    )


def sum_distribution(weights, probs, max_cells: int = MAX_CELLS) -> tuple[np.ndarray, float]:
    """The exact distribution of Σ wᵢ·Bernoulli(pᵢ), independent, on a lattice of one unit.

    The unit is the largest whole-dollar amount dividing every ARR (exact for whole-dollar
    ARR), unless the total would need more than `max_cells` cells: then each weight is rounded
    to a coarser whole-dollar unit. Returns (probabilities, unit)."""
    w = np.asarray(weights, dtype=float)
    p = np.asarray(probs, dtype=float)
    dollars = np.rint(w).astype(np.int64)
    unit = float(max(1, np.gcd.reduce(dollars))) if dollars.any() else 1.0
    if dollars.sum() / unit > max_cells:
        unit = float(np.ceil(dollars.sum() / max_cells))
    k = np.rint(w / unit).astype(np.int64)
    dist = np.zeros(int(k.sum()) + 1)
    dist[0], top = 1.0, 0
    # One convolution per account: sequential by nature, each step a vectorised array update.
    for ki, pi in zip(k, p, strict=True):
        head = dist[: top + 1].copy()
        dist[: top + 1] *= 1.0 - pi
        dist[ki : ki + top + 1] += pi * head
        top += ki
    return dist, unit


def interval(weights, probs, level: float = LEVEL) -> tuple[float, float]:
    """The equal-tailed `level` interval of Σ wᵢ·Bernoulli(pᵢ), from its exact distribution."""
    if len(weights) == 0:
        return 0.0, 0.0
    dist, unit = sum_distribution(weights, probs)
    cdf = np.cumsum(dist)
    tail = (1.0 - level) / 2.0
    # Tolerance: the cumulative sum of floats can end a hair below 1.
    low = int(np.searchsorted(cdf, tail - 1e-12))
    high = int(np.searchsorted(cdf, 1.0 - tail - 1e-12))
    return low * unit, min(high, len(dist) - 1) * unit


def summarise(frame: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    """Accounts, ARR, expected renewing ARR and its 90 % interval, per value of `by` (or all)."""
    keys = ["all"] if by is None else frame[by].unique(maintain_order=False).sort().to_list()
    rows = []
    for key in keys:  # a handful of groups (months, segments, CSMs), each an exact distribution
        part = frame if by is None else frame.filter(pl.col(by).eq_missing(key))
        arr = part["arr"].fill_null(0)
        low, high = interval(arr.to_numpy(), part["p_renew"].to_numpy())
        rows.append(
            {
                "group": _label(key) if by else key,
                "accounts": part.height,
                "arr": float(arr.sum()),
                "expected_arr": float(part["expected_arr"].sum()),
                "low_90": low,
                "high_90": high,
            }
        )
    schema = {"group": pl.String, "accounts": pl.Int64, "arr": pl.Float64}
    schema |= {c: pl.Float64 for c in ("expected_arr", "low_90", "high_90")}
    out = pl.DataFrame(rows, schema=schema)
    return out.rename({"group": by}) if by else out.drop("group")


def _label(key) -> str | None:
    """A group's name: a month as "Nov 2026", anything else as its text."""
    if isinstance(key, dt.date):
        return f"{key:%b %Y}"
    return None if key is None else str(key)


def compact(value: float) -> str:
    """$1.94M, $250k or $900 for a metric card."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"${value / size:.{2 if suffix == 'M' else 0}f}{suffix}"
    return f"${value:,.0f}"


def usual_risk(con) -> dict[str, float] | None:
    """The usual decision risk per group from the model card; None in cold start."""
    card = model_store.read_card(con) or {}
    return card.get("usual_decision_risk") if card.get("status") == "model" else None


@dataclass(frozen=True)
class Forecast:
    """The renewals in the window, with their probabilities, and the methods used."""

    as_of: dt.date
    window_from: dt.date
    window_to: dt.date
    accounts: pl.DataFrame
    calibrated_on: int = 0  # past renewals the probabilities were recalibrated on

    def methods(self) -> list[str]:
        """One sentence per method used, saying how its probabilities are made."""
        used = set(self.accounts["method"].to_list())
        out = [s.format(h=HORIZON_DAYS) for m, s in METHOD_SENTENCES.items() if m in used]
        if self.calibrated_on:
            out.append(
                f"Then recalibrated on {self.calibrated_on:,} past renewals whose outcome was "
                "known before the as-of date (each forecast the day before its quarter began, "
                "against whether it renewed), by a logistic fit on the log-odds."
            )
        else:
            out.append(
                f"Not recalibrated on past renewals: that needs {MIN_RENEWALS} with a known "
                f"outcome, {MIN_EACH} of them lost."
            )
        return out


def forecast(
    con, as_of: dt.date, account_ids: list[str] | None = None, past: list | None = None
) -> Forecast:
    """The renewals of the next two quarters after the as-of date, with probabilities
    recalibrated on every past renewal known by then (`past`: `history`, if already made)."""
    start, end = window(as_of)
    frame = renewal_accounts(con, as_of, start, end, latest=True, account_ids=account_ids)
    past = history(con, as_of) if past is None else past
    frame, n = recalibrate(probabilities(frame, usual_risk(con)), past)
    return Forecast(as_of, start, end, frame, n)


ACCOUNT_COLUMNS = (
    "account_id", "name", "segment", "csm_owner", "renewal_date", "arr", "p_renew",
    "expected_arr", "method", "renewal_source", "churn_risk", "health_score",
)  # fmt: skip


# --- calibration on past renewals, and the track record ----------------------------------------

MIN_RENEWALS = 30  # past renewals needed (with at least MIN_EACH of each outcome) to recalibrate
MIN_EACH = 5


def quarter_start(day: dt.date) -> dt.date:
    """The first day of the calendar quarter holding `day`."""
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def past_quarters(con, as_of: dt.date) -> list[tuple[dt.date, dt.date]]:
    """Every complete quarter (ended by the as-of date) with scores from before it began."""
    first = con.execute("select min(week_end) from mart_health_history").fetchall()[0][0]
    quarters, end = [], quarter_start(as_of + dt.timedelta(days=1)) - dt.timedelta(days=1)
    while first is not None:
        start = quarter_start(end)
        if start - dt.timedelta(days=1) < first:
            break
        quarters.append((start, end))
        end = start - dt.timedelta(days=1)
    return quarters[::-1]


def history(con, as_of: dt.date) -> list[pl.DataFrame]:
    """Per past quarter, every account's forecast made the day before it began (scores as of
    that week, raw probabilities) and whether it renewed: still a customer after the renewal."""
    usual = usual_risk(con)
    out = []
    for start, end in past_quarters(con, as_of):
        made_on = start - dt.timedelta(days=1)
        frame = renewal_accounts(con, made_on, start, end, latest=False)
        out.append(
            probabilities(frame, usual).with_columns(
                quarter=pl.lit(f"{start.year} Q{(start.month - 1) // 3 + 1}"),
                forecast_made_on=pl.lit(made_on),
                renewed=pl.col("churn_date").is_null()
                | (pl.col("churn_date") > pl.col("renewal_date")),
            )
        )
    return out


def _logit(p: pl.Series) -> np.ndarray:
    q = p.to_numpy().clip(1e-4, 1 - 1e-4)
    return np.log(q / (1 - q)).reshape(-1, 1)


def recalibrate(frame: pl.DataFrame, past: list[pl.DataFrame]) -> tuple[pl.DataFrame, int]:
    """Renewal probabilities recalibrated on past renewals whose outcome was known (a logistic
    fit on the log-odds, Platt's way): the churn model is calibrated for any 90 days, not for
    the days around a renewal. Too few past renewals: the frame as it is. Returns (frame, n)."""
    known = pl.concat(past, how="diagonal_relaxed") if past else pl.DataFrame()
    if known.is_empty() or frame.is_empty():
        return frame, 0
    y = known["renewed"].to_numpy().astype(int)
    if len(y) < MIN_RENEWALS or min(y.sum(), len(y) - y.sum()) < MIN_EACH:
        return frame, 0
    fit = LogisticRegression(C=1e4).fit(_logit(known["p_renew"]), y)
    p = fit.predict_proba(_logit(frame["p_renew"]))[:, 1]
    out = frame.with_columns(p_renew=pl.Series(p)).with_columns(
        expected_arr=pl.col("arr").fill_null(0) * pl.col("p_renew")
    )
    return out, len(y)


def track_record(
    con,
    as_of: dt.date,
    account_ids: list[str] | None = None,
    past: list[pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """Per past quarter (the last six): the forecast made the day before it began, recalibrated
    on the quarters before it only, against the ARR that actually renewed."""
    past = history(con, as_of) if past is None else past
    card = model_store.read_card(con) or {}
    trained_to = (card.get("training_window") or {}).get("to")
    rows = []
    for i in range(max(0, len(past) - TRACK_QUARTERS), len(past)):
        frame, n = recalibrate(past[i], past[:i])
        raw = past[i]
        if account_ids is not None:
            frame = frame.filter(pl.col("account_id").is_in(account_ids))
            raw = raw.filter(pl.col("account_id").is_in(account_ids))
        made_on = past[i]["forecast_made_on"][0] if past[i].height else None
        renewed = frame.filter(pl.col("renewed"))
        head = summarise(frame).row(0, named=True)
        actual = float(renewed["arr"].fill_null(0).sum())
        rows.append(
            {
                "quarter": past[i]["quarter"][0] if past[i].height else None,
                "forecast_made_on": made_on,
                **head,
                "expected_uncalibrated": float(raw["expected_arr"].sum()),
                "actual_accounts": renewed.height,
                "actual_arr": actual,
                "in_interval": head["low_90"] <= actual <= head["high_90"],
                "calibrated_on": n,
                "in_training_window": bool(trained_to and made_on and str(made_on) <= trained_to),
            }
        )
    return pl.DataFrame(rows, schema=TRACK_SCHEMA).filter(pl.col("quarter").is_not_null())


TRACK_SCHEMA = {
    "quarter": pl.String,
    "forecast_made_on": pl.Date,
    "accounts": pl.Int64,
    "arr": pl.Float64,
    "expected_arr": pl.Float64,
    "low_90": pl.Float64,
    "high_90": pl.Float64,
    "expected_uncalibrated": pl.Float64,
    "actual_accounts": pl.Int64,
    "actual_arr": pl.Float64,
    "in_interval": pl.Boolean,
    "calibrated_on": pl.Int64,
    "in_training_window": pl.Boolean,
}


def track_sentence(track: pl.DataFrame) -> str | None:
    """How the past forecasts did, in a sentence; None without a complete quarter."""
    scored = track.filter(pl.col("accounts") > 0)
    if scored.is_empty():
        return None
    hits = int(scored["in_interval"].sum())
    error = (scored["expected_arr"] - scored["actual_arr"]).abs().sum() / max(
        float(scored["actual_arr"].sum()), 1.0
    )
    text = (
        f"In {hits} of {scored.height} past quarters the ARR that renewed fell inside the 90 % "
        f"interval; the expected ARR was off by {error:.1%} of the actual in total."
    )
    if scored["in_training_window"].any():
        text += (
            " Quarters marked as in the training window were forecast with today's model, which "
            "learned from those quarters' outcomes: their record flatters it."
        )
    return text
