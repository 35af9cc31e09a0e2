"""What a CSM reads about each moment: evidence in plain words with numbers, severity, guidance."""

from __future__ import annotations

import datetime as dt
import math
from functools import cache

import polars as pl

from health import config
from health.moments.taxonomy import MOMENT_OF


@cache
def guidance() -> dict[str, str]:
    """The playbook text per kind: questions for a change or a crisis, recognition for delight."""
    book = config.load("playbooks")["playbooks"]
    return {kind: book[kind]["guidance"] for kind in MOMENT_OF if "guidance" in book.get(kind, {})}


def day(d: dt.date | None) -> str:
    """A date as people write it: 3 Mar 2026."""
    return "unknown" if d is None else f"{d.day} {d:%b %Y}"


def num(x: float | None) -> str:
    """A count for reading: 412, 1,250, 3.4, 0.25."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.0f}"
    return f"{x:.1f}" if abs(x) >= 1 else f"{x:.2f}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _clip(x: float) -> float:
    return 0.0 if x is None or math.isnan(x) else min(max(float(x), 0.0), 1.0)


def sureness(llr: float) -> str:
    """How sure the test is, in words: the likelihood ratio of a new level against noise."""
    odds = math.exp(min(float(llr), 40.0))
    said = "over a million" if odds >= 1e6 else f"about {odds:,.0f}"
    return (
        f"the counts are {said} times likelier after a real change than as noise around the old "
        f"level (quasi-Poisson log-likelihood ratio {llr:.1f})"
    )


def level_shift(r: dict, baseline_weeks: int = 8) -> tuple[str, float]:
    """A drop or a jump in weekly events (against the baseline length the detector used)."""
    ratio = r["ratio"]
    baseline_weeks = r.get("baseline_weeks") or baseline_weeks
    text = (
        f"weekly events {num(r['metric_before'])} → {num(r['metric_after'])} since "
        f"{day(r['started_on'])} ({ratio:.0%} of the {baseline_weeks}-week baseline after "
        f"shared seasonal dips are divided out; {r['weeks']} weeks running); {sureness(r['score'])}"
    )
    if r["kind"] == "engagement_drop":
        return text, _clip(1 - ratio)
    return text, _clip(math.log(max(ratio, 1.0)) / math.log(4))


def chance(llr: float) -> str:
    """How rare a fall this strong is on a steady account, from the CUSUM's statistic.

    A CUSUM of log-likelihood ratios crosses `llr` by chance no more often than once in
    e^llr days on average (Lorden's bound), under the quasi-Poisson model it was scaled by.
    """
    years = math.exp(min(float(llr), 40.0)) / 365.25
    said = "a million" if years >= 1e6 else f"{years:,.0f}" if years >= 10 else f"{years:.1f}"
    return (
        f"a fall this large happens by chance about once in {said} account-years at a steady "
        f"level (daily CUSUM log-likelihood ratio {llr:.1f})"
    )


def daily_drop(r: dict) -> tuple[str, float]:
    """An engagement drop confirmed on daily counts."""
    ratio = r["ratio"]
    days = (r["detected_on"] - r["started_on"]).days + 1
    text = (
        f"weekly events {num(r['metric_before'])} → {num(r['metric_after'])} since "
        f"{day(r['started_on'])} ({ratio:.0%} of the {r['baseline_weeks']}-week level after the "
        f"week's rhythm and shared holidays are divided out; {days} days running); "
        f"{chance(r['score'])}"
    )
    return text, _clip(1 - ratio)


def adoption(r: dict) -> tuple[str, float]:
    """A newly adopted feature."""
    area = f" ({r['feature']})" if r["feature"] and r["feature"] != r["event"] else ""
    text = (
        f"first use of {r['event']}{area} on {day(r['started_on'])}, then "
        f"{r['events']} times in {r['weeks_used']} weeks; used by {r['adopted_by']:.0%} of accounts"
    )
    return text, _clip(0.4 + 0.6 * (1 - r["adopted_by"]))


def onboarding(r: dict, unit: str | None, segment: str) -> tuple[str, float]:
    """A stalled onboarding or an early WOW."""
    per = f"per {unit}" if unit else "per account"
    ratio = r["ratio"]
    share = f"{ratio:.0%}" if ratio < 1 else f"{ratio:.1f}×"
    text = (
        f"first {r['age_weeks']} weeks after signup on {day(r['started_on'])}: "
        f"{num(r['metric_after'])} events {per} a week vs {num(r['metric_before'])} for "
        f"{segment} peers at the same age ({share}); {r['users']} active users"
        + (f" of {num(r['size'])} {unit}s" if unit == "seat" else "")
        + f", {r['features']} features used (peers {num(r['peer_features'])})"
    )
    if r["kind"] == "stalled_onboarding":
        return text, _clip(1 - ratio)
    return text, _clip(math.log(max(ratio, 1.0)) / math.log(8))


def champion(r: dict) -> tuple[str, float]:
    """The champion stopped."""
    how = f", deactivated {day(r['deactivated_on'])}" if r["deactivated_on"] is not None else ""
    text = f"champion {r['champion']}'s last activity {day(r['last_active_on'])}{how}"
    before, after = r["metric_before"], r["metric_after"]
    fall = 0.0
    if before and after is not None and before > 0:
        fall = 1 - after / before
        text += f"; account weekly events {num(before)} → {num(after)} since"
    years = r.get("once_in_years")
    if years is not None:
        said = "a million" if years >= 1e6 else f"{years:,.0f}" if years >= 10 else f"{years:.1f}"
        text += (
            f"; a silence this long for a champion this regular comes by chance about once in "
            f"{said} years"
        )
    return text, _clip(0.6 + 0.4 * _clip(fall))


def contract(r: dict) -> tuple[str, float]:
    """More seats or MRR."""
    parts = []
    growth = 0.0
    if r["seats_after"] is not None and r["seats_before"] is not None:
        if r["seats_after"] != r["seats_before"]:
            parts.append(f"seats {num(r['seats_before'])} → {num(r['seats_after'])}")
        if r["seats_before"]:
            growth = max(growth, r["seats_after"] / r["seats_before"] - 1)
    if r["mrr_after"] is not None and r["mrr_before"] is not None:
        parts.append(f"MRR {num(r['mrr_before'])} → {num(r['mrr_after'])}")
        if r["mrr_before"]:
            growth = max(growth, r["mrr_after"] / r["mrr_before"] - 1)
    if r["plan_after"] and r["plan_before"] and r["plan_after"] != r["plan_before"]:
        parts.append(f"plan {r['plan_before']} → {r['plan_after']}")
    return ", ".join(parts) + f" from {day(r['started_on'])}", _clip(growth)


def wave(r: dict) -> tuple[str, float]:
    """A wave of new users."""
    text = (
        f"{r['new_users']} new users from {day(r['started_on'])} (usually "
        f"{num(r['expected'])} in that time; {num(r['active_users'])} active a week before)"
    )
    active = r["active_users"] or 1.0
    return text, _clip(r["new_users"] / active)


def promoter(r: dict) -> tuple[str, float]:
    """A flip to promoter."""
    text = (
        f"NPS {num(r['score_before'])} (the wave before: {_plural(r['answers_before'], 'answer')}"
        f") → {num(r['score_after'])} on {day(r['started_on'])} from {r['respondent']}"
    )
    return text, _clip((r["score_after"] - r["score_before"]) / 6)


def with_text(frame: pl.DataFrame, describe, source: str) -> pl.DataFrame:
    """A detector's frame reduced to the moments columns, with evidence, severity and source."""
    out = []
    for r in frame.iter_rows(named=True):
        text, severity = describe(r)
        out.append(
            {
                "account_id": r["account_id"],
                "kind": r["kind"],
                "started_on": r["started_on"],
                "detected_on": r["detected_on"],
                "severity": severity,
                "evidence": text,
                "metric_before": r.get("metric_before"),
                "metric_after": r.get("metric_after"),
                "source": source,
            }
        )
    return pl.DataFrame(out, schema=MOMENT_COLUMNS)


MOMENT_COLUMNS = {
    "account_id": pl.String,
    "kind": pl.String,
    "started_on": pl.Date,
    "detected_on": pl.Date,
    "severity": pl.Float64,
    "evidence": pl.String,
    "metric_before": pl.Float64,
    "metric_after": pl.Float64,
    "source": pl.String,  # the detector: tells apart two ways of reaching one kind
}
