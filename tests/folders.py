"""Build small data folders for loader tests, so each test states only what it breaks.

    folder = make_folder(tmp_path, accounts=[{"account_id": "007", "signup_date": "2024-01-01"}])

Every table argument may be:
- a list of dicts (rows; columns are the keys in first-seen order, a missing key is an
  empty cell), written as CSV unless `formats` says `csv.gz` or `parquet`;
- a polars DataFrame (keeps its column types when written as Parquet);
- `str` or `bytes`, written verbatim to `<table>.csv` (for encodings, delimiters, line ends);
- `None`, to leave the table out.
`accounts` and `events` default to a small valid pair (ACCOUNTS, EVENTS); other tables are
absent unless given. `files={"name": text_or_bytes}` adds any other file verbatim.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import duckdb
import polars as pl

from health import db as health_db
from health.ingest.contract import TABLES

# Three accounts with a few days of use: valid, and small enough to read in a failure message.
ACCOUNTS = [
    {
        "account_id": "A1",
        "name": "Acme",
        "signup_date": "2024-01-01",
        "plan": "pro",
        "arr": "12000",
    },
    {"account_id": "A2", "name": "Globex", "signup_date": "2024-01-15", "plan": "basic"},
    {"account_id": "A3", "name": "Initech", "signup_date": "2024-02-01", "arr": "0"},
]
EVENTS = [
    {"account_id": "A1", "event_time": "2024-03-01T09:00:00", "event": "login", "user_id": "u1"},
    {"account_id": "A1", "event_time": "2024-03-01T09:05:00", "event": "report_created"},
    {"account_id": "A2", "event_time": "2024-03-02T10:00:00", "event": "login", "value": "3"},
    {"account_id": "A3", "event_time": "2024-03-03T11:00:00", "event": "login"},
]
_DEFAULTS = {"accounts": ACCOUNTS, "events": EVENTS}
_UNSET = object()


def make_folder(
    tmp_path: Path,
    name: str = "data",
    *,
    formats: dict[str, str] | None = None,
    files: dict[str, str | bytes] | None = None,
    **tables,
) -> Path:
    """Write a data folder under tmp_path and return its path."""
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    formats = formats or {}
    unknown = set(tables) - {t.name for t in TABLES}
    if unknown:
        raise TypeError(f"not contract tables: {sorted(unknown)}; use files= for other files")
    for table in TABLES:
        content = tables.get(table.name, _DEFAULTS.get(table.name))
        if content is None:
            continue
        write_table(folder, table.name, content, formats.get(table.name, "csv"))
    for file_name, content in (files or {}).items():
        _write_raw(folder / file_name, content)
    return folder


def write_table(folder: Path, table: str, content, fmt: str = "csv") -> Path:
    """Write one table's file in the given format (csv, csv.gz or parquet)."""
    if isinstance(content, str | bytes):
        return _write_raw(folder / f"{table}.csv", content)
    path = folder / f"{table}.{fmt}"
    if fmt == "parquet":
        frame = content if isinstance(content, pl.DataFrame) else _frame(content)
        frame.write_parquet(path)
        return path
    text = _csv_text(content if isinstance(content, list) else content.to_dicts())
    if fmt == "csv.gz":
        path.write_bytes(gzip.compress(text.encode()))
    elif fmt == "csv":
        path.write_text(text, encoding="utf-8", newline="")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return path


def _write_raw(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def _columns(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for row in rows for k in row))


def _csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = _columns(rows)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return buffer.getvalue()


def _frame(rows: list[dict]) -> pl.DataFrame:
    # All text, like a CSV; pass a DataFrame to write typed Parquet columns.
    columns = _columns(rows)
    data = {c: [None if r.get(c) in (None, "") else str(r[c]) for r in rows] for c in columns}
    return pl.DataFrame(data, schema={c: pl.String for c in columns})


def with_rows(rows: list[dict], *extra: dict, **changes) -> list[dict]:
    """A copy of `rows` with `changes` applied to every row, and `extra` rows appended."""
    return [{**row, **changes} for row in rows] + [dict(e) for e in extra]


# Reading the database back ---------------------------------------------------------------


def rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """The result of a query against the loaded database (opened read-only)."""
    con = health_db.connect(db, events=True)  # the events are in their own store beside it
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def table(db: Path, name: str) -> list[tuple]:
    """Every row of a contract table or `rejects` (minus its timestamp), sorted."""
    if name == "rejects":
        sql = (
            "SELECT table_name, file, row_number, line, reason, record::VARCHAR "
            "FROM rejects ORDER BY ALL"
        )
    else:
        assert name in {t.name for t in TABLES}, name
        sql = f"SELECT * FROM {name} ORDER BY ALL"
    return rows(db, sql)


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """The contents of every contract table and of `rejects`: equal when nothing changed."""
    return {name: table(db, name) for name in [t.name for t in TABLES] + ["rejects"]}


def rejects(db: Path, table_name: str) -> list[tuple]:
    """(line or row, reason) of each rejected row of a table, in file order."""
    return rows(
        db,
        "SELECT coalesce(line, row_number), reason FROM rejects "
        "WHERE table_name = ? ORDER BY row_number",
        [table_name],
    )


def write_big_events(folder: Path, n_rows: int, accounts: list[dict] = ACCOUNTS) -> Path:
    """Write an events.csv of n_rows generated rows (fast: DuckDB's COPY), valid accounts."""
    ids = [a["account_id"] for a in accounts]
    path = folder / "events.csv"
    con = duckdb.connect()
    try:
        con.execute(
            f"""
            COPY (
                SELECT ($ids)[1 + i % {len(ids)}] AS account_id,
                       strftime(TIMESTAMP '2024-03-01' + to_seconds(i), '%Y-%m-%dT%H:%M:%S')
                           AS event_time,
                       'event_' || (i % 17) AS event,
                       'u' || (i % 101) AS user_id,
                       'feature_' || (i % 7) AS feature,
                       (i % 13)::VARCHAR AS value
                FROM range({int(n_rows)}) AS t(i)
            ) TO '{path}' (HEADER, DELIMITER ',')
            """,
            {"ids": ids},
        )
    finally:
        con.close()
    return path
