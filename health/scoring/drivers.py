"""Drivers: plain sentences with numbers a CSM can check, picked per account and week."""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from health import config


# When a signal becomes a driver: config/signals.toml, shared with the actions' risk signals
# (renewal, champion, touchpoint, detractor). Keyword-overridable so they can be backtested.
def _thresholds() -> dict[str, float]:
    """The drivers' thresholds: their own [drivers] and the shared [signals]."""
    cfg = config.load("signals")
    g = cfg["signals"]
    shared = {
        "renewal_days": g["renewal_days"],
        "champion_days": g["champion_days"],
        "touch_days": g["touch_days"],
        "nps_low": g["nps_max"],
    }
    return {**cfg["drivers"], **shared}


MAX_DRIVERS = 3
NONE_FOUND = "no warning signs in the last 4 weeks"
# The model can see risk in the combination of many small signals none of which is a driver.
NONE_FOUND_AT_RISK = "no single warning sign: the risk comes from the overall pattern"


def _n(x: pl.Expr) -> pl.Expr:
    return x.round(0).cast(pl.Int64, strict=False)


def _pct(x: pl.Expr) -> pl.Expr:
    return _n(x.abs() * 100)


def _plural(n: pl.Expr, one: str, many: str) -> pl.Expr:
    return pl.when(n == 1).then(pl.lit(one)).otherwise(pl.lit(many))


class Rule(NamedTuple):
    """A driver: its side (risk or good), severity (0-1; null where it does not apply) and
    sentence (a row-wise expression)."""

    side: str
    severity: pl.Expr
    text: pl.Expr


c = pl.col
# On equal severity the rule named first wins a place among an account's few drivers.
PRIORITY = (
    "users_drop",
    "events_drop",
    "inactive",
    "renewal",
    "tickets_open",
    "champion_left",
    "champion_inactive",
    "detractor",
    "nps_fall",
    "sentiment_red",
    "no_touchpoint",
    "seats_cut",
    "low_seat_share",
    "low_core",
    "ticket_burst",
    "low_csat",
    "low_usage",
    "anniversary",
    "new_customer",
    "users_up",
    "seats_up",
    "promoter",
    "high_seat_share",
)


def _usage(t: dict[str, float]) -> dict[str, Rule]:
    """Users and activity: falling, silent, low against the seats or the other accounts."""
    users_prev, share = c("active_users_prev_28d"), c("active_user_share")
    per_seat = c("events_per_seat_28d")
    usage_pct = per_seat.rank().over("week_end") / per_seat.count().over("week_end")
    change = c("active_users_change_28d")
    users = pl.format("(from {} to {})", _n(users_prev), _n(c("active_users_28d")))
    return {
        "users_drop": Rule(
            "risk",
            pl.when((change <= -t["users_drop"]) & (users_prev >= 3)).then(0.4 - change),
            pl.format("active users down {} % in 4 weeks {}", _pct(change), users),
        ),
        "events_drop": Rule(
            "risk",
            pl.when(c("events_change_28d") <= -t["events_drop"]).then(
                0.3 - 0.9 * c("events_change_28d")
            ),
            pl.format(
                "product activity down {} % in 4 weeks ({} events, {} the 4 weeks before)",
                _pct(c("events_change_28d")),
                _n(c("events_28d")),
                _n(c("events_prev_28d")),
            ),
        ),
        "inactive": Rule(
            "risk",
            pl.when(c("days_since_active") >= t["inactive_days"]).then(
                (c("days_since_active") / 30).clip(0.4, 1.2)
            ),
            pl.format("no product activity for {} days", _n(c("days_since_active"))),
        ),
        "low_seat_share": Rule(
            "risk",
            pl.when((share < t["low_share"]) & (c("seats") > 0)).then(0.45 - share),
            pl.format(
                "only {} of {} seats active in 28 days ({} %)",
                _n(c("active_users_28d")),
                _n(c("seats")),
                _pct(share),
            ),
        ),
        "low_core": Rule(
            "risk",
            pl.when(c("core_adoption_28d") < t["low_core"]).then(0.3),
            pl.format("uses {} % of the core features", _pct(c("core_adoption_28d"))),
        ),
        "low_usage": Rule(
            "risk",
            pl.when(usage_pct <= t["low_usage_pct"]).then(0.35),
            pl.format(
                "usage in the lowest {} % of accounts ({} events per seat in 28 days)",
                _pct(pl.lit(t["low_usage_pct"])),
                per_seat.round(1),
            ),
        ),
        "users_up": Rule(
            "good",
            pl.when(change >= t["growth"]).then(0.3 + change.clip(0, 1)),
            pl.format("active users up {} % in 4 weeks {}", _pct(change), users),
        ),
        "high_seat_share": Rule(
            "good",
            pl.when(share >= t["high_share"]).then(0.35),
            pl.format("{} % of seats active in 28 days", _pct(share)),
        ),
    }


def _contract(t: dict[str, float]) -> dict[str, Rule]:
    """The contract: the renewal ahead, seats cut or added, the customer's age."""
    seats = pl.format("{} to {}", _n(c("seats_90d_ago")), _n(c("seats")))
    to_anniversary = 365 - c("tenure_days") % 365
    return {
        "renewal": Rule(
            "risk",
            pl.when(c("days_to_renewal") <= t["renewal_days"]).then(
                0.35 + 0.45 * (1 - c("days_to_renewal") / t["renewal_days"])
            ),
            pl.format(
                "renewal in {} {}",
                _n(c("days_to_renewal")),
                _plural(c("days_to_renewal"), "day", "days"),
            ),
        ),
        "seats_cut": Rule(
            "risk",
            pl.when(c("seats_change_90d") <= -t["contraction"]).then(0.5 - c("seats_change_90d")),
            pl.format("seats cut {} % in 90 days (from {})", _pct(c("seats_change_90d")), seats),
        ),
        # Without contract data, the signup anniversary is the likeliest renewal point.
        "anniversary": Rule(
            "risk",
            pl.when(
                c("annual_term").is_null()
                & (c("tenure_days") >= 300)
                & (to_anniversary <= t["anniversary_days"])
            ).then(0.3),
            pl.format(
                "{}-year anniversary of signup in {} days (a usual renewal point)",
                _n(c("tenure_days") // 365 + 1),
                _n(to_anniversary),
            ),
        ),
        "new_customer": Rule(
            "risk",
            pl.when(c("tenure_days") < t["new_days"]).then(0.2),
            pl.format("new customer ({} days)", _n(c("tenure_days"))),
        ),
        "seats_up": Rule(
            "good",
            pl.when(c("seats_change_90d") >= t["expansion"]).then(0.8),
            pl.format("expanded from {} seats in 90 days", seats),
        ),
    }


def _support(t: dict[str, float]) -> dict[str, Rule]:
    """Support: tickets open, bursts of them, low CSAT."""
    high, urgent = c("high_open"), c("urgent_open")
    return {
        "tickets_open": Rule(
            "risk",
            pl.when(high >= 1).then(0.5 + 0.15 * high.clip(0, 3)),
            pl.when(urgent >= 1)
            .then(pl.format("{} urgent {} open", urgent, _plural(urgent, "ticket", "tickets")))
            .otherwise(
                pl.format("{} high-priority {} open", high, _plural(high, "ticket", "tickets"))
            ),
        ),
        "ticket_burst": Rule(
            "risk",
            pl.when(c("tickets_28d") >= t["ticket_burst"]).then(0.35),
            pl.format("{} support tickets in 4 weeks", _n(c("tickets_28d"))),
        ),
        "low_csat": Rule(
            "risk",
            pl.when(c("csat_84d") < t["low_csat"]).then(0.4),
            pl.format("CSAT {} on recent tickets", c("csat_84d").round(1)),
        ),
    }


def _people(t: dict[str, float]) -> dict[str, Rule]:
    """The champion: gone, or silent in the product."""
    return {
        "champion_left": Rule(
            "risk",
            pl.when((c("champions") > 0) & (c("champions_left") >= c("champions"))).then(0.95),
            pl.lit("the champion has left (account deactivated)"),
        ),
        "champion_inactive": Rule(
            "risk",
            pl.when(
                (c("champion_days_inactive") >= t["champion_days"])
                & (c("champions_left") < c("champions"))
            ).then((c("champion_days_inactive") / 45).clip(0.45, 1.1)),
            pl.format("champion inactive for {} days", _n(c("champion_days_inactive"))),
        ),
    }


def _voice(t: dict[str, float]) -> dict[str, Rule]:
    """What the customer and the CSM said: NPS, the CSM's sentiment, touchpoints."""
    return {
        "detractor": Rule(
            "risk",
            pl.when(c("nps_latest") <= t["nps_low"]).then(0.45 + (6 - c("nps_latest")) * 0.06),
            pl.format("NPS answers average {} (detractor)", c("nps_latest").round(1)),
        ),
        "nps_fall": Rule(
            "risk",
            pl.when(c("nps_change") <= -t["nps_fall"]).then(0.35 - c("nps_change") * 0.08),
            pl.format("NPS down {} points since the survey before", (-c("nps_change")).round(1)),
        ),
        "sentiment_red": Rule(
            "risk",
            pl.when(c("sentiment_latest") == -1).then(0.7),
            pl.lit("CSM sentiment red at the last touchpoint"),
        ),
        "no_touchpoint": Rule(
            "risk",
            pl.when(c("days_since_touch") >= t["touch_days"]).then(0.3),
            pl.format("no CSM touchpoint for {} days", _n(c("days_since_touch"))),
        ),
        "promoter": Rule(
            "good",
            pl.when(c("nps_latest") >= t["promoter"]).then(0.5),
            pl.format("NPS answers average {} (promoter)", c("nps_latest").round(1)),
        ),
    }


def _rules(t: dict[str, float]) -> list[Rule]:
    """Every driver the data can support, in PRIORITY order."""
    named = {**_usage(t), **_contract(t), **_support(t), **_people(t), **_voice(t)}
    return [named[name] for name in PRIORITY]


def explain(frame: pl.DataFrame, tier: str = "tier", **thresholds: float) -> pl.Series:
    """The top drivers per row as one '; '-separated string: risks first unless healthy."""
    t = {**_thresholds(), **thresholds}
    healthy = pl.col(tier) == "healthy"
    risk_w = pl.when(healthy).then(0.5).otherwise(1.0)
    # Good news explains a healthy score; for an account at risk it would only muddy the why.
    good_w = pl.when(healthy).then(1.0).when(pl.col(tier) == "watch").then(0.25)
    cols = set(frame.columns)
    rules = [
        (sev * (risk_w if side == "risk" else good_w), text)
        for side, sev, text in _rules(t)
        if _uses_known(sev, cols) and _uses_known(text, cols)
    ]
    # Long form: every rule's severity on all rows (some compare a row with its week's), then
    # its sentence only for the rows where it applies, then the strongest few per row (the
    # earlier rule first on a tie). Sentences must be row-wise expressions.
    scored = (
        frame.with_row_index("_row")
        .with_columns(*(sev.cast(pl.Float64).alias(f"_s{i}") for i, (sev, _) in enumerate(rules)))
        .lazy()
    )
    hits = pl.concat(
        [
            scored.filter(pl.col(f"_s{i}").is_not_null()).select(
                "_row",
                pl.col(f"_s{i}").alias("s"),
                pl.lit(i, pl.Int32).alias("rule"),
                text.cast(pl.String).alias("t"),
            )
            for i, (_, text) in enumerate(rules)
        ]
    )
    picked = (
        hits.sort(["_row", "s", "rule"], descending=[False, True, False])
        .group_by("_row", maintain_order=True)
        .agg(pl.col("t").head(MAX_DRIVERS).str.join("; ").alias("drivers"))
        .collect()
    )
    calm = (
        pl.when(pl.col(tier) == "healthy")
        .then(pl.lit(NONE_FOUND))
        .otherwise(pl.lit(NONE_FOUND_AT_RISK))
    )
    return (
        frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), calm.alias("calm"))
        .join(picked, on="_row", how="left", maintain_order="left")
        .select(pl.col("drivers").replace("", None).fill_null(pl.col("calm")))
        .to_series()
        .alias("drivers")
    )


def _uses_known(expr: pl.Expr, columns: set[str]) -> bool:
    return set(expr.meta.root_names()) <= columns
