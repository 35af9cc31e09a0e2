"""Row rules of the contract as SQL expressions over a relation `raw` of the file's columns.

Column names in these expressions come only from the contract (an allow-list); the values
they check are data in the table, never text formatted into SQL.

A column arrives as text (every CSV column, a Parquet string column) or with a type of its own
(a Parquet timestamp, number, ...). Text is trimmed and parsed; a typed column whose type is the
contract's is used as it is, since reading it as text and parsing it back gives the same value,
and it is checked against the same rules with the same messages (the value shown is its text).
"""

from __future__ import annotations

from health.ingest.contract import TYPE_HINTS, Column, Table

SQL_TYPES = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
}
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
# A date or time outside these bounds is a typo or a broken clock (9999-12-31, 1900-01-01):
# loaded, it would stretch every weekly series to its date. Dates that schedule the future
# (a renewal, a contract's end) may lie years ahead; dates of things that happened may not
# lie after the load day plus one (a time zone ahead of UTC).
EARLIEST = "1990-01-01"
SCHEDULED = {"renewal_date": 30 * 366, "end_date": 30 * 366}  # days ahead allowed
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")
# File column types used without the text round trip, per contract type. FLOAT and DECIMAL are
# left out: their text is shorter than their binary value, so the round trip changes the number.
NATIVE = {
    "timestamp": ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"),
    "date": ("DATE",),
    "number": ("DOUBLE", *_INTEGERS, *(f"U{t}" for t in _INTEGERS)),
    "boolean": ("BOOLEAN",),
}


def lit(text: str) -> str:
    """A SQL string literal for a constant written in this code base."""
    return "'" + text.replace("'", "''") + "'"


class _Cell:
    """How to read one contract column of `raw`, given the type the file gives it."""

    def __init__(self, col: Column, file_type: str = "VARCHAR"):
        self.col, self.file_type = col, file_type
        self.native = file_type in NATIVE.get(col.type, ())
        src = f"raw.{col.name}"
        # The cell as text: what a message shows and what the rejects table keeps.
        self.text = src if file_type == "VARCHAR" else f"{src}::VARCHAR"
        # The cell, with empty cells and cells of only spaces counting as missing.
        self.value = src if self.native else f"nullif(trim({self.text}), '')"

    def typed(self) -> str:
        """The expression that turns the cell into the column's type (NULL if it can't)."""
        col, v = self.col, self.value
        if self.native:
            if col.type == "number":
                return f"(CASE WHEN isfinite({v}::DOUBLE) THEN {v}::DOUBLE END)"
            if col.type in ("timestamp", "date"):
                value = v
                if self.file_type == "TIMESTAMP WITH TIME ZONE":
                    # The instant's UTC wall time, by arithmetic: a cast goes through the time
                    # zone library row by row (7x slower on 16M events).
                    value = f"make_timestamp(epoch_us({v}))"
                # Infinities take the text way, so they end up exactly as a CSV's would.
                return f"(CASE WHEN NOT isfinite({v}) THEN {self._from_text()} ELSE {value} END)"
            return v
        return self._from_text()

    def _from_text(self) -> str:
        col, v = self.col, f"nullif(trim({self.text}), '')"
        if col.type in ("id", "text"):
            return f"lower({v})" if col.allowed else v
        if col.type == "date":
            # A timestamp in a date column is read as the calendar day written in it.
            return (
                f"coalesce(try_cast({v} AS DATE), try_cast(try_cast({v} AS TIMESTAMPTZ) AS DATE))"
            )
        if col.type == "timestamp":
            # The session is in UTC: values with an offset are converted, values without are UTC.
            return f"try_cast(try_cast({v} AS TIMESTAMPTZ) AS TIMESTAMP)"
        if col.type == "number":
            return f"(CASE WHEN isfinite(try_cast({v} AS DOUBLE)) THEN try_cast({v} AS DOUBLE) END)"
        if col.type == "boolean":
            trues = ", ".join(lit(w) for w in TRUE_WORDS)
            falses = ", ".join(lit(w) for w in FALSE_WORDS)
            return (
                f"(CASE WHEN lower({v}) IN ({trues}) THEN true "
                f"WHEN lower({v}) IN ({falses}) THEN false END)"
            )
        raise ValueError(f"unknown column type {col.type!r}")

    def problems(self) -> list[str]:
        """SQL expressions that are a message when the cell breaks a rule, else NULL."""
        col, v, t = self.col, self.value, f"typed.{self.col.name}"
        name, shown = col.name, f"left({self.text}, 40)"  # the offending value, shortened
        out = []
        if col.required:
            out.append(f"CASE WHEN {v} IS NULL THEN {lit(name + ' is missing')} END")
        if col.type in TYPE_HINTS:
            before, after = lit(name + " '"), lit("' is not " + TYPE_HINTS[col.type])
            msg = f"{before} || {shown} || {after}"
            out.append(f"CASE WHEN {v} IS NOT NULL AND {t} IS NULL THEN {msg} END")
        if col.min is not None:
            out.append(
                f"CASE WHEN {t} < {col.min} THEN {lit(name + ' ')} || {shown} || "
                f"{lit(f' is below the minimum {col.min:g}')} END"
            )
        if col.max is not None:
            out.append(
                f"CASE WHEN {t} > {col.max} THEN {lit(name + ' ')} || {shown} || "
                f"{lit(f' is above the maximum {col.max:g}')} END"
            )
        if col.type in ("date", "timestamp"):
            out.append(self._plausible(t, shown))
        if col.allowed:
            allowed = ", ".join(lit(a) for a in col.allowed)
            before = lit(name + " '")
            after = lit("' is not one of " + ", ".join(col.allowed))
            out.append(f"CASE WHEN {t} NOT IN ({allowed}) THEN {before} || {shown} || {after} END")
        return out

    def _plausible(self, t: str, shown: str) -> str:
        """A message when a date or time lies before EARLIEST or too far after the load day."""
        name, ahead = self.col.name, SCHEDULED.get(self.col.name, 1)
        latest = f"(current_date + {ahead})"
        head, early = lit(name + " '"), lit(f"' is before {EARLIEST}: check the date")
        late = lit(", too far after the day it was loaded: check the date")
        return (
            f"CASE WHEN {t}::DATE < DATE {lit(EARLIEST)} THEN {head} || {shown} || {early} "
            f"WHEN {t}::DATE > {latest} THEN {head} || {shown} || ''' is after ' || "
            f"strftime({latest}, '%Y-%m-%d') || {late} END"
        )


def _messages(parts: list[str]) -> str:
    # The messages that apply, joined with '; ' in rule order; NULL when none does.
    return f"nullif(concat_ws('; ', {', '.join(parts)}), '')"


def checked_select(
    table: Table,
    source: str,
    types: dict[str, str],
    extra: dict[str, str],
    *,
    where_word: str = "line",
    offset: int = 1,
) -> str:
    """SELECT over the file's relation `source` (columns _row, the contract's, the extras):
    typed columns, the extras as JSON, and the row's problems (NULL when it has none).

    `types` gives the file's type of each contract column (text when absent). Rules in order:
    each column's, the table's checks, duplicate keys (among rows otherwise fine, the first is
    kept), then an account_id missing from temp table known_accounts.
    """
    cells = [_Cell(c, types.get(c.name, "VARCHAR")) for c in table.columns]
    typed_cols = ", ".join(f"{cell.typed()} AS {cell.col.name}" for cell in cells)
    checks = [p for cell in cells for p in cell.problems()]
    checks += [
        f"CASE WHEN NOT coalesce({_qualify(ch.condition, table)}, true) THEN {lit(ch.message)} END"
        for ch in table.checks
    ]
    extra_json = "NULL::JSON"
    if table.keeps_extra and extra:
        pairs = ", ".join(f"{lit(name)}, raw.{alias}" for alias, name in extra.items())
        extra_json = f"json_object({pairs})"
    later = []
    first = "NULL"
    if table.key:
        key, shown = ", ".join(table.key_terms()), table.key_label
        first = f"min(_row) FILTER (WHERE _rule_problems IS NULL) OVER (PARTITION BY {key})"
        later.append(
            f"CASE WHEN _rule_problems IS NULL AND _row > _first_row THEN "
            f"{lit(f'duplicate {shown}: {where_word} ')} || (_first_row + {offset}) "
            f"|| ' has the same and is kept' END"
        )
    known = "true"
    if table.account_fk:
        # Looked up once, a layer below the messages: nullif repeats its argument, and a
        # subquery inside it was planned as two lookups of every row (two joins of 16M events).
        known = (
            "account_id IS NULL OR EXISTS "
            "(SELECT 1 FROM known_accounts AS k WHERE k.account_id = typed_rows.account_id)"
        )
        later.append(
            "CASE WHEN NOT _account_known "
            "THEN 'account_id ''' || account_id || ''' is not in accounts' END"
        )
    cols = ", ".join(table.names)
    return f"""
        SELECT _row, {cols}, extra, {_messages(["_rule_problems", *later])} AS _problems
        FROM (
            SELECT *, {first} AS _first_row, {known} AS _account_known
            FROM (
                SELECT raw._row, typed.*, {extra_json} AS extra,
                       {_messages(checks)} AS _rule_problems
                FROM {source} AS raw, LATERAL (SELECT {typed_cols}) AS typed
            ) AS typed_rows
        ) AS checked
        """


def record(table: Table, types: dict[str, str], extra: dict[str, str]) -> str:
    """The row of `raw` as written, as JSON: its number, then every column as text."""
    cells = [_Cell(c, types.get(c.name, "VARCHAR")) for c in table.columns]
    pairs = ", ".join(
        ["'_row': raw._row"]
        + [f"{lit(c.col.name)}: {c.text}" for c in cells]
        + [f"{lit(alias)}: raw.{alias}" for alias in extra]
    )
    return f"to_json({{{pairs}}})"


def _qualify(condition: str, table: Table) -> str:
    # Check conditions name typed columns; prefix them so they don't bind to raw ones.
    words = condition.split()
    return " ".join(f"typed.{w}" if w in table.names else w for w in words)


def ddl(table: Table) -> str:
    """CREATE TABLE for the stored, typed version of a contract table."""
    cols = ", ".join(f"{c.name} {SQL_TYPES[c.type]}" for c in table.columns)
    if table.keeps_extra:
        cols += ", extra JSON"
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({cols})"
