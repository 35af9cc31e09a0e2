"""The playbooks (config/playbooks.toml): checking them, and filling their texts."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from health import config
from health.moments.taxonomy import KINDS_OF as MOMENT_KINDS
from health.moments.taxonomy import MOMENT_OF

CONFIG = config.path("playbooks")
RISK_SIGNALS = (
    "renewal_at_risk",
    "usage_decline",
    "urgent_tickets",
    "champion_inactive",
    "detractor",
    "no_touchpoint",
)
PLACEHOLDERS = (
    "account",
    "champion",
    "champion_first",
    "csm",
    "evidence",
    "arr",
    "renewal",
    "days_to_renewal",
    "churn_risk",
    "started",
)
TEXTS = ("title", "detail", "email_subject", "email_body")


class PlaybookError(config.ConfigError):
    """playbooks.toml is incomplete; the message names the entry and the fix."""


def playbooks(path: Path = CONFIG) -> dict:
    """The settings and playbooks, checked for completeness."""
    book = config.load(Path(path))
    for section in ("settings", "playbooks"):
        if section not in book:
            raise PlaybookError(f"{path}: missing the [{section}] section.")
    wanted = [k for kinds in MOMENT_KINDS.values() for k in kinds] + list(RISK_SIGNALS)
    wanted += [f"any_{moment}" for moment in MOMENT_KINDS]
    for reason in wanted:
        if reason not in book["playbooks"]:
            raise PlaybookError(f"{path}: no [playbooks.{reason}]; every reason needs one.")
    for reason, entry in book["playbooks"].items():
        missing = {"kind", "title", "do", "due_in_days", "weight", "email_subject", "email_body"}
        missing |= {"guidance"} if reason in MOMENT_OF else set()
        missing -= set(entry)
        lists = "recognition" if entry.get("kind") == "delight" else "questions"
        if missing or not entry.get(lists):
            needs = ", ".join(sorted(missing | ({lists} if not entry.get(lists) else set())))
            raise PlaybookError(f"{path}: [playbooks.{reason}] lacks {needs}.")
    return book


def playbook_frame(book: dict) -> pl.DataFrame:
    facts = book["settings"].get("facts", "")
    rows = [
        {
            "reason": reason,
            "title": e["title"],
            "detail": f"{e['do']}\n{facts}".strip(),
            "questions_or_recognition": " ".join(e.get("recognition") or e["questions"]),
            "email_subject": e["email_subject"],
            "email_body": e["email_body"],
            "due_in_days": int(e["due_in_days"]),
            "weight": float(e["weight"]),
            "unless_open": list(e.get("unless_open", [])),
        }
        for reason, e in book["playbooks"].items()
    ]
    return pl.DataFrame(rows, schema_overrides={"unless_open": pl.List(pl.String)})


def params(book: dict) -> dict:
    s, g = book["settings"], config.load("signals")["signals"]
    return {
        "moment_max_age_days": int(s["moment_max_age_days"]),
        "arr_floor": float(s["arr_floor"]),
        "renewal_horizon_days": float(s["renewal_horizon_days"]),
        "renewal_days": int(g["renewal_days"]),
        "decline_share": float(g["decline_share"]),
        "decline_min_events": float(g["decline_min_events"]),
        "decline_market_accounts": int(g["decline_market_accounts"]),
        "ticket_priorities": list(g["ticket_priorities"]),
        "ticket_open_days": int(g["ticket_open_days"]),
        "champion_days": int(g["champion_days"]),
        "nps_max": float(g["nps_max"]),
        "nps_gap_days": int(g["nps_gap_days"]),
        "touch_days": int(g["touch_days"]),
        "touch_tiers": list(g["touch_tiers"]),
    }


def render(candidates: pl.DataFrame) -> pl.DataFrame:
    """Fill each playbook text's {placeholders} with the account's facts (the f_* columns)."""
    filled = []
    for text in TEXTS:
        expr = pl.col(text)
        for name in PLACEHOLDERS:
            expr = expr.str.replace_all(f"{{{name}}}", pl.col(f"f_{name}"), literal=True)
        filled.append(expr.alias(text))
    return candidates.with_columns(filled).drop(f"f_{name}" for name in PLACEHOLDERS)
