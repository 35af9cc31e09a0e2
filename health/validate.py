"""Row rules of the contract as SQL expressions over a table of raw text columns.

Column names in these expressions come only from the contract (an allow-list); the values
they check are data in the table, never text formatted into SQL.
"""

from __future__ import annotations

from health.contract import TYPE_HINTS, Column, Table

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


def lit(text: str) -> str:
    """A SQL string literal for a constant written in this code base."""
    return "'" + text.replace("'", "''") + "'"


def _raw(col: Column) -> str:
    # Empty cells and cells of only spaces count as missing.
    return f"nullif(trim(raw.{col.name}), '')"


def typed(col: Column) -> str:
    """The expression that turns a raw text cell into the column's type (NULL if it can't)."""
    v = _raw(col)
    if col.type in ("id", "text"):
        return f"lower({v})" if col.allowed else v
    if col.type == "date":
        # A timestamp in a date column is read as the calendar day written in it.
        return f"coalesce(try_cast({v} AS DATE), try_cast(try_cast({v} AS TIMESTAMPTZ) AS DATE))"
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


def _shown(col: Column) -> str:
    # The offending value, shortened, as part of a message.
    return f"left(raw.{col.name}, 40)"


def problems(col: Column) -> list[str]:
    """SQL expressions that are a message when the cell breaks a rule, else NULL."""
    name, v, t = col.name, _raw(col), f"typed.{col.name}"
    out = []
    if col.required:
        out.append(f"CASE WHEN {v} IS NULL THEN {lit(name + ' is missing')} END")
    if col.type in TYPE_HINTS:
        before, after = lit(name + " '"), lit("' is not " + TYPE_HINTS[col.type])
        msg = f"{before} || {_shown(col)} || {after}"
        out.append(f"CASE WHEN {v} IS NOT NULL AND {t} IS NULL THEN {msg} END")
    if col.min is not None:
        out.append(
            f"CASE WHEN {t} < {col.min} THEN "
            f"{lit(name + ' ')} || {_shown(col)} || {lit(f' is below the minimum {col.min:g}')} END"
        )
    if col.max is not None:
        out.append(
            f"CASE WHEN {t} > {col.max} THEN "
            f"{lit(name + ' ')} || {_shown(col)} || {lit(f' is above the maximum {col.max:g}')} END"
        )
    if col.allowed:
        allowed = ", ".join(lit(a) for a in col.allowed)
        before, after = (
            lit(name + " '"),
            lit("' is not one of " + ", ".join(col.allowed)),
        )
        out.append(
            f"CASE WHEN {t} NOT IN ({allowed}) THEN {before} || {_shown(col)} || {after} END"
        )
    return out


def typed_select(table: Table, extra: dict[str, str]) -> str:
    """SELECT over `raw` giving typed columns, the extras as JSON, and the row's problems."""
    typed_cols = ", ".join(f"{typed(c)} AS {c.name}" for c in table.columns)
    checks = [p for c in table.columns for p in problems(c)]
    checks += [
        f"CASE WHEN NOT coalesce({_qualify(ch.condition, table)}, true) THEN {lit(ch.message)} END"
        for ch in table.checks
    ]
    extra_json = "NULL::JSON"
    if table.keeps_extra and extra:
        pairs = ", ".join(f"{lit(name)}, raw.{alias}" for alias, name in extra.items())
        extra_json = f"json_object({pairs})"
    return (
        f"SELECT raw._row, typed.*, {extra_json} AS extra, "
        f"list_filter([{', '.join(checks)}], lambda x: x IS NOT NULL) AS _problems "
        f"FROM raw, LATERAL (SELECT {typed_cols}) AS typed"
    )


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
