"""Score detected moments against a generator's truth: precision, recall, F1, delay, look-alikes.

A detected moment is a hit when an unmatched true moment on the same account has the same
kind (per-kind table) or the same moment type (per-type table) and a `started_on` within
`tolerance_days`; matching is one-to-one, closest dates first. The truth is every moment the
generator planted plus the incidental ones its audit found in the data (they meet the same
definitions); `planted_recall` is also reported for the planted ones alone.

False crises on look-alikes are counted as a rate: per 1,000 look-alike account-years, where a
look-alike account is one carrying a one-week gap or a slow decline, or living through a shared
holiday (so nearly every account), over its observed life. A false crisis over a shared holiday
counts only when the account recovers after it (its usage in the four weeks after the holiday
is back to half its level before): one that never comes back had a real fall, holiday or not.
Both need the data folder beside the truth (`X` beside `X.truth`); without it, every false
crisis over a holiday counts and no rate is given.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from health.moments.taxonomy import MOMENT_OF

KINDS = tuple(MOMENT_OF)
TYPES = ("relationship_change", "crisis", "delight")
CRISES = tuple(k for k, m in MOMENT_OF.items() if m == "crisis")


@dataclass(frozen=True)
class Report:
    """What `evaluate` measured."""

    by_kind: pl.DataFrame  # kind, truth, detected, hits, precision, recall, f1, planted_recall,
    by_type: pl.DataFrame  # median_delay_days; by_type has `moment` where by_kind has `kind`
    macro_f1: float  # mean F1 over the three moment types
    median_delay_days: float | None  # detected_on - true started_on, over type-level hits
    lookalike_crises: pl.DataFrame  # false crises on look-alike accounts or shared holidays
    lookalike_accounts: int  # accounts with a one-week gap or a slow decline
    lookalike_years: float | None = None  # observed years of accounts exposed to a look-alike

    @property
    def false_crises_per_1000_years(self) -> float | None:
        """False crises on look-alikes per 1,000 look-alike account-years."""
        if not self.lookalike_years:
            return None
        return 1000 * self.lookalike_crises.height / self.lookalike_years

    def summary(self) -> str:
        """The report as plain-text tables."""
        with pl.Config(
            tbl_rows=20,
            tbl_cols=-1,
            tbl_width_chars=160,
            tbl_hide_dataframe_shape=True,
            tbl_hide_column_data_types=True,
            float_precision=2,
        ):
            delay = "n/a" if self.median_delay_days is None else f"{self.median_delay_days:.0f} d"
            crises = self.lookalike_crises.group_by("lookalike").len().sort("lookalike")
            return (
                f"{self.by_kind}\n{self.by_type}\nmacro F1 over the three types: "
                f"{self.macro_f1:.3f}; median delay start -> detection: {delay}\n"
                f"false crises on look-alikes ({self.lookalike_accounts} accounts with a gap or "
                f"a slow decline, plus shared holidays): {self.lookalike_crises.height}"
                + (
                    f" over {self.lookalike_years:,.0f} look-alike account-years "
                    f"({self.false_crises_per_1000_years:.2f} per 1,000)"
                    if self.lookalike_years
                    else ""
                )
                + (f"\n{crises}" if crises.height else "")
            )


def read_truth(truth_dir: Path, as_of: dt.date | None = None) -> pl.DataFrame:
    """The true moments (started by `as_of` when given), dates parsed."""
    truth = pl.read_csv(Path(truth_dir) / "moments.csv", try_parse_dates=True)
    truth = truth.with_columns(pl.col("started_on").cast(pl.Date))
    if as_of is not None:
        truth = truth.filter(pl.col("started_on") <= as_of)
    return truth


def _match(detected: pl.DataFrame, truth: pl.DataFrame, key: str, tol: int) -> pl.DataFrame:
    """One-to-one matches (det_row, truth_row, gap) on account and `key`, closest first."""
    pairs = (
        detected.select("account_id", key, "started_on", "detected_on", "_d")
        .join(
            truth.select("account_id", key, pl.col("started_on").alias("true_on"), "_t"),
            on=["account_id", key],
        )
        .with_columns(gap=(pl.col("started_on") - pl.col("true_on")).dt.total_days().abs())
        .filter(pl.col("gap") <= tol)
        .sort("gap", "_d", "_t")
    )
    used_d: set[int] = set()
    used_t: set[int] = set()
    keep = []
    for d, t, gap, true_on, detected_on in pairs.select(
        "_d", "_t", "gap", "true_on", "detected_on"
    ).iter_rows():
        if d in used_d or t in used_t:
            continue
        used_d.add(d)
        used_t.add(t)
        keep.append((d, t, gap, (detected_on - true_on).days))
    schema = {"_d": pl.UInt32, "_t": pl.UInt32, "gap": pl.Int64, "delay": pl.Int64}
    return pl.DataFrame(keep, schema=schema, orient="row")


def _table(detected, truth, matches, key: str, values: tuple[str, ...]) -> pl.DataFrame:
    hit_t = truth.join(matches.select("_t", "delay"), on="_t")
    rows = []
    for v in values:
        n_true = truth.filter(pl.col(key) == v).height
        n_det = detected.filter(pl.col(key) == v).height
        hits = hit_t.filter(pl.col(key) == v).height
        planted = truth.filter((pl.col(key) == v) & pl.col("planted")).height
        planted_hits = hit_t.filter((pl.col(key) == v) & pl.col("planted")).height
        p = hits / n_det if n_det else (1.0 if not n_true else 0.0)
        r = hits / n_true if n_true else (1.0 if not n_det else 0.0)
        rows.append(
            {
                key: v,
                "truth": n_true,
                "detected": n_det,
                "hits": hits,
                "precision": p,
                "recall": r,
                "f1": 2 * p * r / (p + r) if p + r else 0.0,
                "planted_recall": planted_hits / planted if planted else None,
                "median_delay_days": hit_t.filter(pl.col(key) == v)["delay"].median(),
            }
        )
    return pl.DataFrame(rows)


def _data_dir(truth_dir: Path) -> Path | None:
    """The data folder the truth describes (`X` beside `X.truth`), when it is there."""
    truth_dir = Path(truth_dir)
    data = truth_dir.with_name(truth_dir.name.removesuffix(".truth"))
    ok = data != truth_dir and (data / "accounts.csv").exists()
    return data if ok and (data / "events.parquet").exists() else None


def _recovered(data: Path, crises: pl.DataFrame) -> pl.DataFrame:
    """Per (account_id, started_on_right = holiday start, ended_on): did usage come back after?

    Back means: events in the four weeks from two weeks after the holiday at least half the
    weekly level of the eight weeks before it (prorated), and the account not churned then.
    """
    keys = crises.select("account_id", "started_on_right", "ended_on").unique()
    days = (
        pl.scan_parquet(data / "events.parquet")
        .filter(pl.col("account_id").is_in(keys["account_id"].implode()))
        .group_by("account_id", day=pl.col("event_time").dt.date())
        .agg(n=pl.len())
        .collect()
    )
    before = (pl.col("day") >= pl.col("started_on_right") - dt.timedelta(days=56)) & (
        pl.col("day") < pl.col("started_on_right")
    )
    after = (pl.col("day") > pl.col("ended_on") + dt.timedelta(days=14)) & (
        pl.col("day") <= pl.col("ended_on") + dt.timedelta(days=42)
    )
    sums = (
        keys.join(days, on="account_id", how="left")
        .group_by("account_id", "started_on_right", "ended_on")
        .agg(
            pre=pl.col("n").filter(before).sum() / 8,
            post=pl.col("n").filter(after).sum() / 4,
        )
    )
    return sums.with_columns(recovered=(pl.col("post") >= 0.5 * pl.col("pre")))


def _lookalike_crises(detected, truth_dir: Path, tol: int, unmatched: pl.DataFrame):
    """False crises (matching no true crisis) during a look-alike, give or take `tol` days."""
    look = pl.read_csv(Path(truth_dir) / "lookalikes.csv", try_parse_dates=True).with_columns(
        pl.col("started_on").cast(pl.Date), pl.col("ended_on").cast(pl.Date)
    )
    crises = unmatched.filter(pl.col("kind").is_in(CRISES))
    own = crises.join(look.filter(pl.col("account_id") != "*"), on="account_id")
    shared = crises.join(look.filter(pl.col("account_id") == "*").drop("account_id"), how="cross")
    window = (pl.col("started_on") >= pl.col("started_on_right") - dt.timedelta(days=tol)) & (
        pl.col("started_on") <= pl.col("ended_on") + dt.timedelta(days=tol)
    )
    holiday = (pl.col("started_on") >= pl.col("started_on_right") - dt.timedelta(days=7)) & (
        pl.col("started_on") <= pl.col("ended_on") + dt.timedelta(days=14)
    )
    shared = shared.filter(holiday)
    data = _data_dir(truth_dir)
    if data is not None and shared.height:
        back = _recovered(data, shared)
        shared = shared.join(back, on=["account_id", "started_on_right", "ended_on"]).filter(
            pl.col("recovered")
        )
    cols = ["account_id", "kind", "started_on", "detected_on", "lookalike"]
    found = pl.concat(
        [
            own.filter(window).rename({"kind_right": "lookalike"}).select(cols),
            shared.rename({"kind_right": "lookalike"}).select(cols),
        ]
    )
    n_accounts = look.filter(pl.col("account_id") != "*")["account_id"].n_unique()
    meta = Path(truth_dir) / "profile.json"
    end = dt.date.fromisoformat(json.loads(meta.read_text())["end_date"]) if meta.exists() else None
    years = _lookalike_years(data, look, end) if data is not None else None
    return found.unique(subset=["account_id", "kind", "started_on"]), n_accounts, years


def _lookalike_years(data: Path, look: pl.DataFrame, end: dt.date | None) -> float:
    """Observed account-years of the accounts exposed to a look-alike (own or a shared holiday)."""
    acc = pl.read_csv(data / "accounts.csv", try_parse_dates=True).select(
        "account_id",
        first=pl.col("signup_date").cast(pl.Date),
        last=pl.col("churn_date").cast(pl.Date).fill_null(end or look["ended_on"].max()),
    )
    holidays = look.filter(pl.col("account_id") == "*")
    through = acc.join(holidays, how="cross").filter(
        (pl.col("first") <= pl.col("ended_on")) & (pl.col("last") >= pl.col("started_on"))
    )
    exposed = set(through["account_id"]) | set(look["account_id"])
    alive = acc.filter(pl.col("account_id").is_in(list(exposed)))
    return float((alive["last"] - alive["first"]).dt.total_days().sum() / 365.25)


def evaluate(
    detected: pl.DataFrame,
    truth_dir: Path,
    *,
    tolerance_days: int = 28,
    as_of: dt.date | None = None,
) -> Report:
    """Precision, recall and F1 per kind and per moment type, delay, and false crises."""
    detected = detected.with_columns(
        pl.col("started_on").cast(pl.Date),
        pl.col("detected_on").cast(pl.Date),
        moment=pl.col("kind").replace_strict(MOMENT_OF),
    )
    if as_of is not None:
        detected = detected.filter(pl.col("detected_on") <= as_of)
    detected = detected.with_row_index("_d")
    truth = read_truth(truth_dir, as_of).with_row_index("_t")
    by_kind_m = _match(detected, truth, "kind", tolerance_days)
    by_type_m = _match(detected, truth, "moment", tolerance_days)
    by_kind = _table(detected, truth, by_kind_m, "kind", KINDS)
    by_type = _table(detected, truth, by_type_m, "moment", TYPES)
    delays = by_type_m["delay"] if by_type_m.height else pl.Series([], dtype=pl.Int64)
    unmatched = detected.join(by_type_m.select("_d"), on="_d", how="anti")
    crises, n_look, years = _lookalike_crises(detected, truth_dir, tolerance_days, unmatched)
    return Report(
        by_kind=by_kind,
        by_type=by_type,
        macro_f1=float(by_type["f1"].mean()),
        median_delay_days=float(delays.median()) if len(delays) else None,
        lookalike_crises=crises,
        lookalike_accounts=n_look,
        lookalike_years=years,
    )
