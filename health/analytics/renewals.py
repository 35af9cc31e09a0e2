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
Those past forecasts are out-of-sample: with a churn model they are the fit's backtest
predictions (model_backtest: each by a model trained before that quarter), never today's model
re-scoring weeks it learned from; with the scorecard, its stored scores (hand-set weights).

Renewals are of two kinds: term commitments (annual or multi-year terms, or a renewal date from
the accounts file) and monthly subscriptions rolling over, which renew every month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from health import db
from health.scoring import decision
from health.scoring import store as model_store
from health.scoring.features import HORIZON_DAYS

WINDOW_MONTHS = 6  # the next two quarters
LEVEL = 0.90
MAX_CELLS = 200_000  # lattice size of the exact distribution; ARR is rounded to its unit
NEEDS = ("mart_account_features", "mart_health_history", "stg_accounts")
TERM, MONTHLY = "term", "monthly"
KINDS = (TERM, MONTHLY)

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
    kinds: tuple[str, ...] = KINDS,
    scores: str = "today",
) -> pl.DataFrame:
    """Accounts active at the as-of date whose commitment ends in the window, as known then,
    with the scores of that week: "today" the score carrying it now (mart_health_history), or
    "backtest" the out-of-time predictions of the model fit (model_backtest; accounts without
    one have null risks).

    The one place that decides where a renewal date comes from (q_renewals.sql): the end of the
    current subscription term at the scoring week; for the latest as-of only, else the accounts
    file's renewal_date (a snapshot that would leak into past dates)."""
    if account_ids is not None and not account_ids:
        account_ids = ["\x00"]  # an empty scope keeps no account (the SQL reads [] as all)
    frame = db.query(
        con,
        "q_renewals",
        as_of=as_of,
        window_from=window_from,
        window_to=window_to,
        use_snapshot=latest,
        account_ids=list(account_ids or []),
    ).filter(pl.col("kind").is_in(list(kinds)))
    name = {"today": "q_renewal_scores", "backtest": "q_renewal_backtest"}[scores]
    week = scored_week(con, as_of)
    risks = db.query(con, name, week_end=week) if week else db.query(con, name, week_end=as_of)
    return frame.join(risks, on="account_id", how="left")


def scored_week(con, as_of: dt.date) -> dt.date | None:
    """The last feature week on or before the as-of date: the week a forecast then is made from."""
    rows = con.execute(
        "select max(week_end) from mart_account_features where week_end <= ?", [as_of]
    ).fetchall()
    return rows[0][0]


def probabilities(frame: pl.DataFrame, usual: dict[str, float] | None) -> pl.DataFrame:
    """Add p_renew, expected_arr and the method each probability is made by."""
    if "decision_risk" not in frame.columns:
        frame = frame.with_columns(decision_risk=pl.lit(None, pl.Float64))
    days_out = (pl.col("renewal_date") - pl.col("scored_on")).dt.total_days()
    group = pl.when(pl.col("renewal_source") == "subscription term")
    base = group.then(pl.lit((usual or {}).get(decision.ON_TERMS, 0.0))).otherwise(
        pl.lit((usual or {}).get(decision.NO_TERM, 0.0))
    )
    # health = 100 / (1 + decision risk / usual) (decision.health), so the decision risk is
    # usual * (100 / health - 1): the exact number the health score was made from.
    # The backtest stores the decision risk itself (decision_risk), today's scores only health.
    from_health = base.clip(1e-6) * (100.0 / pl.col("health_score").clip(1e-6) - 1.0)
    at_decision = pl.coalesce(pl.col("decision_risk"), from_health).clip(0, 1)
    model = pl.col("score_source") == "model"
    no_decision = pl.col("decision_risk").is_null() & pl.lit(usual is None)
    method = (
        pl.when(~model & pl.col("score_source").is_not_null())
        .then(pl.lit(SCORECARD))
        .when((days_out <= HORIZON_DAYS) | no_decision)
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
    dist, scratch = np.zeros(int(k.sum()) + 1), np.empty(int(k.sum()) + 1)
    dist[0], top = 1.0, 0
    # One convolution per account: sequential by nature, each step a vectorised array update
    # over the cells reached so far. Smallest first: the many small renewals are added while
    # that range is short, the few large ones last (7x less work on 4,300 renewals).
    order = np.argsort(k, kind="stable")
    for ki, pi in zip(k[order], p[order], strict=True):
        head = np.multiply(dist[: top + 1], pi, out=scratch[: top + 1])
        dist[: top + 1] *= 1.0 - pi
        dist[ki : ki + top + 1] += head
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
                "out-of-sample, against whether it renewed), by a logistic fit on the log-odds."
            )
        else:
            out.append(
                f"Not recalibrated on past renewals: that needs {MIN_RENEWALS} with a known "
                f"outcome, {MIN_EACH} of them lost."
            )
        return out


def forecast(
    con,
    as_of: dt.date,
    account_ids: list[str] | None = None,
    past: list | None = None,
    kinds: tuple[str, ...] = KINDS,
) -> Forecast:
    """The renewals of the next two quarters after the as-of date, with probabilities
    recalibrated on every past renewal known by then (`past`: `history`, if already made)."""
    start, end = window(as_of)
    frame = renewal_accounts(con, as_of, start, end, True, account_ids, kinds)
    past = history(con, as_of, kinds) if past is None else past
    frame, n = recalibrate(probabilities(frame, usual_risk(con)), past)
    return Forecast(as_of, start, end, frame, n)


ACCOUNT_COLUMNS = (
    "account_id", "name", "segment", "csm_owner", "renewal_date", "kind", "arr", "p_renew",
    "expected_arr", "method", "renewal_source", "churn_risk", "health_score",
)  # fmt: skip


def left_out(con, as_of: dt.date, account_ids: list[str] | None = None) -> str | None:
    """A sentence on the monthly rollovers in the window a term-only forecast leaves out."""
    start, end = window(as_of)
    frame = renewal_accounts(con, as_of, start, end, True, account_ids, (MONTHLY,))
    if frame.is_empty():
        return None
    return (
        f"Left out: {frame.height:,} monthly subscriptions rolling over in the window "
        f"({compact(float(frame['arr'].fill_null(0).sum()))} ARR; each counted once, at its "
        "next monthly rollover); turn on *Include monthly rollovers* to count them."
    )


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


def quarter_name(start: dt.date) -> str:
    """2026 Q3."""
    return f"{start.year} Q{(start.month - 1) // 3 + 1}"


def record_source(con) -> str:
    """Whose past forecasts are out-of-sample: "model" (its backtest), else "scorecard"."""
    card = model_store.read_card(con) or {}
    return "model" if card.get("status") == "model" else "scorecard"


def out_of_sample_weeks(con) -> set[dt.date] | None:
    """The weeks with out-of-sample scores: the backtest's with a model, None (all) without."""
    if record_source(con) != "model":
        return None
    if not db.table_exists(con, "model_backtest"):
        return set()
    return {r[0] for r in con.execute("select distinct week_end from model_backtest").fetchall()}


def history(con, as_of: dt.date, kinds: tuple[str, ...] = KINDS) -> list[pl.DataFrame]:
    """Per past quarter with out-of-sample scores, every renewal's forecast made the day before
    it began (raw probabilities) and whether it renewed: still a customer after the renewal.

    With a churn model the scores are the fit's backtest predictions for that week, each by a
    model trained only on outcomes known before it (model_backtest); quarters the backtest
    does not reach are left out, as are renewals it did not score. Never mart_health_history's
    model scores: today's model re-scores past weeks after learning from their outcomes. With
    the scorecard (hand-set weights, nothing learned) its stored past scores."""
    usual, source, weeks = usual_risk(con), record_source(con), out_of_sample_weeks(con)
    scores = "backtest" if source == "model" else "today"
    out = []
    for start, end in past_quarters(con, as_of):
        made_on = start - dt.timedelta(days=1)
        if weeks is not None and scored_week(con, made_on) not in weeks:
            continue
        frame = renewal_accounts(con, made_on, start, end, False, None, kinds, scores)
        out.append(
            probabilities(frame.filter(pl.col("churn_risk").is_not_null()), usual).with_columns(
                quarter=pl.lit(quarter_name(start)),
                forecast_made_on=pl.lit(made_on),
                unscored=pl.lit(frame["churn_risk"].null_count()),
                renewed=pl.col("churn_date").is_null()
                | (pl.col("churn_date") > pl.col("renewal_date")),
            )
        )
    return out


def _logit(p: pl.Series) -> np.ndarray:
    q = p.to_numpy().clip(1e-4, 1 - 1e-4)
    return np.log(q / (1 - q))


def platt(x: np.ndarray, y: np.ndarray, c: float = 1e4) -> tuple[float, float]:
    """Slope and intercept of a logistic fit of y on x, the slope's L2 penalty 1/(2c) (what
    scikit-learn's LogisticRegression(C=c) fits), by Newton's method: two parameters, and the
    page would otherwise wait seconds for scikit-learn to import."""
    design = np.column_stack([x, np.ones_like(x)])
    ridge = np.diag([1 / c, 0.0])
    theta = np.zeros(2)

    def loss(t: np.ndarray) -> float:
        z = design @ t
        return float(np.sum(np.logaddexp(0, z) - y * z) + t[0] ** 2 / (2 * c))

    for _ in range(100):
        p = 1 / (1 + np.exp(-(design @ theta)))
        grad = design.T @ (p - y) + ridge @ theta
        hess = design.T @ (design * (p * (1 - p))[:, None]) + ridge + 1e-12 * np.eye(2)
        step, before = np.linalg.solve(hess, grad), loss(theta)
        while loss(theta - step) > before and np.abs(step).max() > 1e-12:
            step = step / 2  # a damped step where the full one overshoots (near separation)
        theta = theta - step
        if np.abs(step).max() < 1e-10:
            break
    return float(theta[0]), float(theta[1])


def recalibrate(frame: pl.DataFrame, past: list[pl.DataFrame]) -> tuple[pl.DataFrame, int]:
    """Renewal probabilities recalibrated on past renewals whose outcome was known (a logistic
    fit on the log-odds, Platt's way): the churn model is calibrated for any 90 days, not for
    the days around a renewal. Term commitments and monthly rollovers each on their own kind.
    Too few past renewals: the frame as it is. Returns (frame, renewals recalibrated on)."""
    known = pl.concat(past, how="diagonal_relaxed") if past else pl.DataFrame()
    if known.is_empty() or frame.is_empty():
        return frame, 0
    if "kind" in frame.columns and "kind" in known.columns and frame["kind"].n_unique() > 1:
        parts = [
            recalibrate(frame.filter(pl.col("kind") == k), [known.filter(pl.col("kind") == k)])
            for k in frame["kind"].unique(maintain_order=True)
        ]
        merged = pl.concat([f for f, _ in parts]).sort("renewal_date", "account_id")
        return merged, sum(n for _, n in parts)
    y = known["renewed"].to_numpy().astype(int)
    if len(y) < MIN_RENEWALS or min(y.sum(), len(y) - y.sum()) < MIN_EACH:
        return frame, 0
    slope, intercept = platt(_logit(known["p_renew"]), y)
    p = 1 / (1 + np.exp(-(slope * _logit(frame["p_renew"]) + intercept)))
    out = frame.with_columns(p_renew=pl.Series(p)).with_columns(
        expected_arr=pl.col("arr").fill_null(0) * pl.col("p_renew")
    )
    return out, len(y)
