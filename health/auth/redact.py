"""Hide people at customers from roles that may not see them: one function for every output.

Every role-filtered output (tables, CSV downloads, hover texts, cards, action history) goes
through `redact`: columns that name or reach a person are blanked, and in every other text
column, and in free text, the names of the people given (full or first, in any case) and any
email address are replaced. No Streamlit here: the CLI and the tests use the same function.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

from health.auth.permissions import CONTACT_COLUMNS, can_see_contacts

CHAMPION, CONTACT, EMAIL = "the champion", "a contact", "(email hidden)"
# An email address anywhere in free text; the same pattern for Python's re and polars (Rust).
EMAIL_PATTERN = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
MIN_FIRST_NAME = 2  # an initial ("J Doe" -> "J") would hide every word "j"


class Redactor:
    """Replaces people's names (full or first, any case) and email addresses in text."""

    def __init__(self, names: Iterable[str | None] = (), champion: str | None = None):
        full = {n.strip() for n in names if n and n.strip()}
        champions = {champion.strip()} if champion and champion.strip() else set()
        full |= champions
        firsts = {n.split()[0] for n in full if len(n.split()) > 1}
        firsts = {f for f in firsts if len(f) >= MIN_FIRST_NAME}
        # The champion's names first: "the champion" wins over "a contact" for the same person.
        champ_words = champions | {c.split()[0] for c in champions if len(c.split()) > 1}
        champ_words = {w for w in champ_words if len(w) >= MIN_FIRST_NAME}
        self.rules = [  # emails first: a name inside one (adam.rossi@) would break it up
            (EMAIL_PATTERN, EMAIL),
            (_alternation(champ_words), CHAMPION),
            (_alternation((full | firsts) - champ_words), CONTACT),
        ]
        self.rules = [(p, r) for p, r in self.rules if p]
        self._compiled = [(re.compile(p), r) for p, r in self.rules]

    def text(self, value: str | None) -> str | None:
        """The text with every name and email address replaced."""
        if value is None:
            return None
        for pattern, hidden in self._compiled:
            value = pattern.sub(hidden, str(value))
        return value

    def expr(self, column: str) -> pl.Expr:
        """The same replacement as a polars expression over a text column."""
        out = pl.col(column)
        for pattern, hidden in self.rules:
            out = out.str.replace_all(pattern, hidden)
        return out


def _alternation(words: Iterable[str]) -> str:
    # Longest first, so "Adam Rossi" is replaced whole before "Adam"; (?i) for any case.
    words = sorted(set(words), key=len, reverse=True)
    if not words:
        return ""
    return r"(?i)\b(?:" + "|".join(re.escape(w) for w in words) + r")\b"


def redact(
    frame: pl.DataFrame,
    role: str,
    names: Iterable[str | None] = (),
    champion: str | None = None,
    columns: Iterable[str] = CONTACT_COLUMNS,
) -> pl.DataFrame:
    """The frame as a role may see it: contact columns blanked, names and emails in text hidden.

    Blanked: the `columns` given, any column ending in `email`, and `name` in a frame that has
    an email column (a frame of people; elsewhere `name` is the account's). In the other text
    columns the `names` (and `champion`) and any email address are replaced.
    """
    if can_see_contacts(role):
        return frame
    wanted = set(columns)
    emails = [c for c in frame.columns if c.lower().endswith("email")]
    if emails:
        wanted.add("name")
    hidden = [c for c in frame.columns if c in wanted or c in emails]
    redactor = Redactor(names, champion)
    texts = [c for c, t in frame.schema.items() if t == pl.String and c not in hidden]
    return frame.with_columns(
        *(pl.lit(None, dtype=frame.schema[c]).alias(c) for c in hidden),
        *(redactor.expr(c).alias(c) for c in texts),
    )


def redact_text(
    text: str | None, role: str, names: Iterable[str | None] = (), champion: str | None = None
) -> str | None:
    """One piece of free text as a role may see it (see `redact`)."""
    if can_see_contacts(role):
        return text
    return Redactor(names, champion).text(text)
