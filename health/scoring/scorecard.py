"""The transparent scorecard: five named 0-100 components from the features, weights in TOML."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from health.config import ConfigError
from health.config import load as load_settings
from health.config import path as settings_path

CONFIG = settings_path("scorecard")
COMPONENTS = ("engagement", "adoption", "relationship", "support", "contract")
TIERS = ("healthy", "watch", "at_risk")


class ScorecardError(ConfigError):
    """scorecard.toml is not usable; the message says what to fix."""


@dataclass(frozen=True)
class Signal:
    """One feature turned into 0-100: linearly between worst and best, or by percentile rank."""

    feature: str
    worst: float | None = None
    best: float | None = None
    rank: str | None = None  # "higher" or "lower" is better


@dataclass(frozen=True)
class Scorecard:
    """Component weights and signals, tier thresholds and the cold-start base rate."""

    components: dict[str, tuple[float, tuple[Signal, ...]]]
    healthy_from: float
    at_risk_below: float
    base_rate: float

    @property
    def features(self) -> list[str]:
        """Every feature some signal reads."""
        return sorted({s.feature for _, sigs in self.components.values() for s in sigs})


def _signal(component: str, raw: dict) -> Signal:
    where = f"{CONFIG.name}: components.{component}"
    if "feature" not in raw:
        raise ScorecardError(f"{where}: every signal needs a `feature`.")
    if "range" in raw:
        worst, best = raw["range"]
        if worst == best:
            raise ScorecardError(f"{where}: {raw['feature']} has an empty range.")
        return Signal(raw["feature"], float(worst), float(best))
    if raw.get("rank") in ("higher", "lower"):
        return Signal(raw["feature"], rank=raw["rank"])
    raise ScorecardError(
        f'{where}: {raw["feature"]} needs `range = [worst, best]` or `rank = "higher"|"lower"`.'
    )


@cache
def config(path: Path = CONFIG) -> Scorecard:
    """The scorecard as configured in scorecard.toml."""
    raw = load_settings(Path(path))
    comps = raw.get("components", {})
    unknown = set(comps) - set(COMPONENTS)
    if unknown:
        raise ScorecardError(
            f"{Path(path).name}: unknown components {sorted(unknown)}; use {', '.join(COMPONENTS)}."
        )
    components = {
        name: (float(c.get("weight", 0)), tuple(_signal(name, s) for s in c.get("signals", [])))
        for name, c in comps.items()
    }
    if sum(w for w, _ in components.values()) <= 0:
        raise ScorecardError(
            f"{Path(path).name}: the component weights must add up to more than 0."
        )
    tiers = raw.get("tiers", {})
    return Scorecard(
        components,
        healthy_from=float(tiers.get("healthy_from", 60)),
        at_risk_below=float(tiers.get("at_risk_below", 35)),
        base_rate=float(raw.get("cold_start", {}).get("base_rate", 0.05)),
    )


def _signal_expr(s: Signal, columns: set[str]) -> pl.Expr:
    if s.feature not in columns:
        return pl.lit(None, dtype=pl.Float64)
    x = pl.col(s.feature).cast(pl.Float64)
    if s.rank:
        # Percentile among the accounts active the same week, centred so ties share the middle.
        pct = (x.rank("average").over("week_end") - 0.5) / x.count().over("week_end")
        return 100 * (pct if s.rank == "higher" else 1 - pct)
    return 100 * ((x - s.worst) / (s.best - s.worst)).clip(0, 1)


def score(features: pl.DataFrame, card: Scorecard | None = None) -> pl.DataFrame:
    """Component scores and the overall scorecard score per account and week."""
    card = card or config()
    cols = set(features.columns)
    comps = {
        name: pl.mean_horizontal([_signal_expr(s, cols) for s in sigs]).alias(name)
        for name, (_, sigs) in card.components.items()
    }
    frame = features.select("account_id", "week_end", *comps.values())
    weights = {name: w for name, (w, _) in card.components.items()}
    num = pl.sum_horizontal([pl.col(c).fill_null(0) * w for c, w in weights.items()])
    den = pl.sum_horizontal(
        [pl.col(c).is_not_null().cast(pl.Float64) * w for c, w in weights.items()]
    )
    missing = [c for c in COMPONENTS if c not in comps]
    return frame.with_columns(
        *(pl.lit(None, dtype=pl.Float64).alias(c) for c in missing),
        # Weights of unknown components are spread over the known ones; nothing known -> 50.
        pl.when(den > 0).then(num / den).otherwise(50.0).alias("scorecard_score"),
    )


def tier(health: pl.Expr, card: Scorecard | None = None) -> pl.Expr:
    """healthy / watch / at_risk from a 0-100 health score."""
    card = card or config()
    # Judge the score as people see it (one decimal): 34.96 reads 35.0, so it is not at_risk.
    shown = health.round(1)
    return (
        pl.when(shown >= card.healthy_from)
        .then(pl.lit("healthy"))
        .when(shown < card.at_risk_below)
        .then(pl.lit("at_risk"))
        .otherwise(pl.lit("watch"))
    )


def health_from_risk(risk: pl.Expr, base_rate: float | pl.Expr) -> pl.Expr:
    """0-100 health from churn risk: 50 at the base rate, 100 at no risk, falling as risk rises."""
    return 100.0 / (1.0 + risk / base_rate)


def risk_from_health(health: pl.Expr, base_rate: float) -> pl.Expr:
    """The inverse of health_from_risk, capped to stay a probability (cold start only)."""
    return (base_rate * (100.0 / health.clip(1.0, 100.0) - 1.0)).clip(0.0, 0.95)
