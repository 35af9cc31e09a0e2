"""Load a data folder: find the files, validate every row, merge into DuckDB atomically."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from health import db
from health.contract import TABLES, Table
from health.files import (  # noqa: F401 - LoadError and save_uploads are part of this API
    LoadError,
    find_files,
    map_columns,
    read_error,
    read_header,
    reader,
    save_uploads,
)
from health.validate import ddl, typed_select

MAX_EXAMPLES = 5
# Beyond this share of bad rows a file is taken to be in the wrong format, not just dirty.
MAX_REJECT_SHARE = 0.5


@dataclass
class Reject:
    """One rejected row: where it is and what is wrong with it."""

    file: str
    where: str  # "line 12" for CSV, "row 11" for Parquet
    reason: str

    def __str__(self) -> str:
        return f"{self.file} {self.where}: {self.reason}"


@dataclass
class TableReport:
    """What happened to one table of the folder."""

    table: str
    file: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    examples: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    """What a load did, table by table."""

    folder: str
    tables: list[TableReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(t.rows_rejected for t in self.tables)


def _stage(con, path: Path, table: Table, report: TableReport) -> None:
    """Read the file into temp table raw_<t> (text), then typed_<t> with each row's problems."""
    header = read_header(con, path)
    positions, extra = map_columns(path, table, header)
    if extra and not table.keeps_extra:
        names = ", ".join(extra.values())
        report.warnings.append(f"{path.name}: columns not in the contract, ignored: {names}")
    cols = [
        f"#{positions[c]}::VARCHAR AS {c}" if c in positions else f"NULL::VARCHAR AS {c}"
        for c in table.names
    ]
    cols += [f"#{int(alias[1:]) + 1}::VARCHAR AS {alias}" for alias in extra]
    params = [str(path)]
    source = reader(path)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE raw AS SELECT row_number() OVER () AS _row, "
            f"{', '.join(cols)} FROM {source}",
            params,
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE typed_{table.name} AS {typed_select(table, extra)}"
        )
    except duckdb.Error as exc:
        raise LoadError(read_error(path, exc)) from None
    report.rows_read = con.execute("SELECT count(*) FROM raw").fetchone()[0]


def _flag_duplicates(con, table: Table, path: Path) -> None:
    """Among rows that are otherwise fine, keep the first of each key and reject the rest."""
    if not table.key:
        return
    key = ", ".join(table.key)
    shown = " and ".join(table.key)
    # Point people at the line they see in an editor (the header is line 1).
    where, offset = ("row", 0) if path.name.lower().endswith(".parquet") else ("line", 1)
    con.execute(
        f"""
        UPDATE typed_{table.name} AS t
        SET _problems = list_append(t._problems, 'duplicate {shown}: {where} '
                                    || (d.first_row + {offset}) || ' has the same and is kept')
        FROM (
            SELECT _row, min(_row) OVER (PARTITION BY {key}) AS first_row
            FROM typed_{table.name} WHERE len(_problems) = 0
        ) AS d
        WHERE t._row = d._row AND d._row > d.first_row
        """
    )


def _flag_orphans(con, table: Table) -> None:
    """Reject rows whose account_id is neither loaded before nor valid in this folder."""
    if not table.account_fk:
        return
    con.execute(
        f"""
        UPDATE typed_{table.name} AS t
        SET _problems = list_append(t._problems,
                                    'account_id ''' || t.account_id || ''' is not in accounts')
        WHERE t.account_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM known_accounts k WHERE k.account_id = t.account_id)
        """
    )


def _collect_rejects(con, table: Table, path: Path, report: TableReport) -> None:
    """Count the bad rows, keep them all in `rejects`, and show a few."""
    is_csv = not path.name.lower().endswith(".parquet")
    rows = con.execute(
        f"""
        SELECT t._row, array_to_string(t._problems, '; ')
        FROM typed_{table.name} AS t WHERE len(t._problems) > 0 ORDER BY t._row
        """
    ).fetchall()
    report.rows_rejected = len(rows)
    where = "line" if is_csv else "row"
    report.examples = [
        Reject(
            path.name,
            f"{where} {r + 1 if is_csv else r}",
            why,
        )
        for r, why in rows[:MAX_EXAMPLES]
    ]
    con.execute("DELETE FROM rejects WHERE table_name = ?", [table.name])
    con.execute(
        f"""
        INSERT INTO rejects
        SELECT ?, ?, t._row, CASE WHEN ? THEN t._row + 1 END,
               array_to_string(t._problems, '; '), to_json(raw), now()::TIMESTAMP
        FROM typed_{table.name} AS t JOIN raw USING (_row)
        WHERE len(t._problems) > 0
        """,
        [table.name, path.name, is_csv],
    )
    if report.rows_read >= 10 and report.rows_rejected / report.rows_read > MAX_REJECT_SHARE:
        share = report.rows_rejected / report.rows_read
        raise LoadError(
            f"{path.name}: {share:.0%} of its {report.rows_read} rows break the contract, "
            f"so the file is probably in another format. First problem, {report.examples[0]}. "
            "Fix the column named there and load again."
        )


def _merge(con, table: Table, report: TableReport) -> None:
    """Insert the valid rows: keyed tables replace rows with the same key, others add new rows."""
    cols = ", ".join(table.names + (["extra"] if table.keeps_extra else []))
    valid = f"SELECT {cols} FROM typed_{table.name} WHERE len(_problems) = 0"
    report.rows_loaded = report.rows_read - report.rows_rejected
    if table.key:
        match = " AND ".join(f"s.{k} = v.{k}" for k in table.key)
        con.execute(f"DELETE FROM {table.name} AS s USING ({valid}) AS v WHERE {match}")
        con.execute(f"INSERT INTO {table.name} ({cols}) {valid} ORDER BY {', '.join(table.key)}")
    else:
        # Multiset difference: a second load of the same rows adds nothing, but genuine
        # repeats within one file (two identical clicks) are kept.
        con.execute(
            f"INSERT INTO {table.name} ({cols}) {valid} EXCEPT ALL SELECT {cols} FROM {table.name}"
        )


def _ensure_schema(con) -> None:
    for table in TABLES:
        con.execute(ddl(table))
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS rejects (
            table_name VARCHAR, file VARCHAR, row_number BIGINT, line BIGINT,
            reason VARCHAR, record JSON, rejected_at TIMESTAMP)
        """
    )
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS loads (
            loaded_at TIMESTAMP, folder VARCHAR, table_name VARCHAR, file VARCHAR,
            rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT)
        """
    )
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")


def _warn_unknown_users(con, report: TableReport) -> None:
    n = con.execute(
        """
        SELECT count(*) FROM typed_events AS e
        WHERE len(e._problems) = 0 AND e.user_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM users AS u WHERE u.user_id = e.user_id)
        """
    ).fetchone()[0]
    if n and con.execute("SELECT count(*) FROM users").fetchone()[0]:
        report.warnings.append(f"{report.file}: {n} rows name a user_id that is not in users")


def load(
    folder: str | Path,
    path: str | Path | None = None,
    *,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
) -> LoadReport:
    """Validate a data folder and merge it into the database, all or nothing."""
    folder = Path(folder).expanduser().resolve()
    files, warnings = find_files(folder)
    report = LoadReport(str(folder), warnings=warnings)
    with db.writing(path) as con:
        _ensure_schema(con)
        if replace:
            for table in TABLES:
                con.execute(f"DELETE FROM {table.name}")
            con.execute("DELETE FROM rejects")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE known_accounts AS SELECT account_id FROM accounts"
        )
        for table in TABLES:  # accounts first: the others point at it
            if table.name not in files:
                continue
            path_t = files[table.name]
            if progress:
                progress(f"{table.name} ({path_t.name})")
            tr = TableReport(table.name, path_t.name)
            _stage(con, path_t, table, tr)
            _flag_duplicates(con, table, path_t)
            if table.name == "accounts":
                con.execute(
                    "INSERT INTO known_accounts SELECT account_id FROM typed_accounts "
                    "WHERE len(_problems) = 0"
                )
            _flag_orphans(con, table)
            _collect_rejects(con, table, path_t, tr)
            _merge(con, table, tr)
            con.execute(
                "INSERT INTO loads VALUES (now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)",
                [
                    str(folder),
                    table.name,
                    path_t.name,
                    tr.rows_read,
                    tr.rows_loaded,
                    tr.rows_rejected,
                ],
            )
            report.tables.append(tr)
        events = next((t for t in report.tables if t.table == "events"), None)
        if events and "users" in files:
            _warn_unknown_users(con, events)
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('loaded_at', strftime(now(), '%Y-%m-%d %H:%M:%S'))"
        )
    return report
