"""The input data contract as data: tables, columns, types, keys and rules."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One contract column: its type, whether it is required, and its allowed range."""

    name: str
    type: str  # id | text | date | timestamp | number | boolean
    required: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other header names that mean this column


@dataclass(frozen=True)
class Check:
    """A rule across columns of one row, as a SQL condition over typed columns."""

    condition: str  # true when the row is fine; NULLs pass
    message: str


@dataclass(frozen=True)
class Table:
    """One contract table."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    required: bool = False
    account_fk: bool = True  # account_id must exist in accounts
    checks: tuple[Check, ...] = field(default=())
    keeps_extra: bool = False  # extra columns are kept in an `extra` JSON column
    clock: str = ""  # the column that dates a row, for date ranges
    # Line items: when set, a row with this column filled is keyed by `key` and it; a row
    # without it is a duplicate only of an identical row.
    line_id: str = ""

    @property
    def names(self) -> list[str]:
        """Column names in contract order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column called `name`."""
        return next(c for c in self.columns if c.name == name)

    def canonical(self, header_name: str) -> str:
        """The contract name a lower-cased header name stands for (itself if none)."""
        return next((c.name for c in self.columns if header_name in c.aliases), header_name)

    def key_terms(self, prefix: str = "") -> list[str]:
        """SQL expressions over the typed columns (prefixed) that two duplicate rows share."""
        if not self.line_id:
            return [prefix + k for k in self.key]
        line = prefix + self.line_id
        rest = [c for c in self.names if c not in (*self.key, self.line_id)]
        return [prefix + k for k in (*self.key, self.line_id)] + [
            f"CASE WHEN {line} IS NULL THEN {prefix}{c} END" for c in rest
        ]

    @property
    def key_label(self) -> str:
        """The key as a person reads it in a duplicate's message."""
        shown = " and ".join(self.key)
        if self.line_id:
            return f"line ({shown} and {self.line_id}; the whole row when {self.line_id} is empty)"
        return shown


def _c(name: str, type_: str = "text", required: bool = False, **kw) -> Column:
    return Column(name, type_, required, **kw)


TABLES: tuple[Table, ...] = (
    Table(
        "accounts",
        (
            _c("account_id", "id", True),
            _c("name"),
            _c("signup_date", "date", True),
            _c("churn_date", "date"),
            _c("plan"),
            _c("segment"),
            _c("industry"),
            _c("region"),
            _c("arr", "number", min=0),
            _c("csm_owner"),
            _c("renewal_date", "date"),
        ),
        key=("account_id",),
        required=True,
        account_fk=False,
        checks=(Check("churn_date >= signup_date", "churn_date is before signup_date"),),
        keeps_extra=True,
        clock="signup_date",
    ),
    Table(
        "events",
        (
            _c("account_id", "id", True),
            _c("event_time", "timestamp", True),
            _c("event", "text", True),
            _c("user_id", "id"),
            _c("feature"),
            _c("value", "number"),
        ),
        required=True,
        clock="event_time",
    ),
    Table(
        "users",
        (
            _c("user_id", "id", True),
            _c("account_id", "id", True),
            _c("name"),
            _c("email"),
            _c("title"),
            _c("role"),
            _c("is_champion", "boolean"),
            _c("created_at", "timestamp"),
            _c("deactivated_at", "timestamp"),
        ),
        key=("user_id",),
        checks=(Check("deactivated_at >= created_at", "deactivated_at is before created_at"),),
        keeps_extra=True,
        clock="created_at",
    ),
    Table(
        "subscriptions",
        (
            _c("account_id", "id", True),
            _c("start_date", "date", True),
            _c("end_date", "date"),
            _c("mrr", "number", min=0),
            _c("seats", "number", min=0),
            _c("plan"),
            _c("subscription_id", "id", aliases=("item_id", "subscription_item_id", "line_id")),
        ),
        key=("account_id", "start_date"),
        checks=(Check("end_date >= start_date", "end_date is before start_date"),),
        clock="start_date",
        line_id="subscription_id",
    ),
    Table(
        "tickets",
        (
            _c("ticket_id", "id", True),
            _c("account_id", "id", True),
            _c("opened_at", "timestamp", True),
            _c("closed_at", "timestamp"),
            _c("priority", allowed=("low", "normal", "high", "urgent")),
            _c("status"),
            _c("topic"),
            _c("csat", "number", min=1, max=5),
        ),
        key=("ticket_id",),
        checks=(Check("closed_at >= opened_at", "closed_at is before opened_at"),),
        clock="opened_at",
    ),
    Table(
        "surveys",
        (
            _c("account_id", "id", True),
            _c("user_id", "id"),
            _c("responded_at", "timestamp", True),
            _c("score", "number", True, min=0, max=10),
            _c("comment"),
        ),
        clock="responded_at",
    ),
    Table(
        "touchpoints",
        (
            _c("account_id", "id", True),
            _c("occurred_at", "timestamp", True),
            _c("kind"),
            _c("sentiment", allowed=("green", "yellow", "red")),
            _c("author"),
            _c("note"),
        ),
        clock="occurred_at",
    ),
)

TABLE_BY_NAME = {t.name: t for t in TABLES}
SUFFIXES = (".csv", ".csv.gz", ".parquet")

# What each type means to a person fixing the file.
TYPE_HINTS = {
    "date": "an ISO 8601 date such as 2024-03-01",
    "timestamp": "an ISO 8601 timestamp such as 2024-03-01T09:30:00 or 2024-03-01T09:30:00+02:00",
    "number": "a number such as 1200 or 1200.50 (no currency symbols or thousands separators)",
    "boolean": "true or false (also accepted: yes/no, 1/0, t/f)",
}
