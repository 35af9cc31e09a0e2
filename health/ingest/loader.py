"""Load a data folder: find the files, validate every row, merge into DuckDB atomically."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from health import db
from health.db import store
from health.ingest import days, seen
from health.ingest.contract import TABLES, Table
from health.ingest.files import (  # noqa: F401 - LoadError and save_uploads are part of this API
    LoadError,
    find_files,
    map_columns,
    read_error,
    read_header,
    reader,
    save_uploads,
)
from health.ingest.mappings import MapResult, prepared
from health.ingest.validate import SQL_TYPES, checked_select, ddl, record

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
    rows_skipped: int = 0  # rows of days (events) or a file stored as they are: not checked again
    examples: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # the file's column types


@dataclass
class LoadReport:
    """What a load did, table by table."""

    folder: str
    tables: list[TableReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recipe: str = ""  # the mapping files that turned the folder's exports into tables
    mapped: list[str] = field(default_factory=list)  # what each mapping made, in words

    @property
    def rejected(self) -> int:
        return sum(t.rows_rejected for t in self.tables)


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(".parquet")


def _is_empty(con, name: str) -> bool:
    return con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {name})").fetchone()[0]


def _stage(con, path: Path, table: Table, report: TableReport) -> str:
    """Make raw_<t> (the file's columns and row numbers) and typed_<t> (each row checked).

    Returns the SQL expression for a row of raw_<t> as written, as JSON, for the rejects.
    """
    name = table.name
    header, types = read_header(con, path)
    positions, extra = map_columns(path, table, header)
    if extra and not table.keeps_extra:
        names = ", ".join(extra.values())
        report.warnings.append(f"{path.name}: columns not in the contract, ignored: {names}")
    cols = [
        f"#{positions[c]} AS {c}" if c in positions else f"NULL::VARCHAR AS {c}"
        for c in table.names
    ]
    cols += [f"#{int(alias[1:]) + 1}::VARCHAR AS {alias}" for alias in extra]
    file_types = {c: types[i - 1] for c, i in positions.items()}
    parquet = _is_parquet(path)
    # Point people at the line they see in an editor (the header is line 1).
    where, offset = ("row", 0) if parquet else ("line", 1)
    try:
        if parquet and "file_row_number" not in {h.strip().lower() for h in header}:
            # Parquet numbers its rows itself, so raw_<t> is a view: the file is read where it
            # is used, in its own types, with no numbering pass and no copy in memory.
            con.execute(f"SET VARIABLE source_{name} = ?", [str(path)])
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW raw_{name} AS "
                f"SELECT file_row_number + 1 AS _row, {', '.join(cols)} "
                f"FROM read_parquet(getvariable('source_{name}'), file_row_number = true)"
            )
        else:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE raw_{name} AS SELECT row_number() OVER () AS _row, "
                f"{', '.join(cols)} FROM {reader(path)}",
                [str(path)],
            )
        source = f"raw_{name}"
        if name == "events":  # only the days that differ from what is stored are checked
            source = days.to_check(con, _is_empty(con, name), file_types)
            report.types, report.rows_skipped = file_types, days.skipped_rows(con)
        checked = checked_select(table, source, file_types, extra, where_word=where, offset=offset)
        # Rows going into an empty table are read where they are (_insert_first), not copied:
        # for 16M events the copy costs more than a second read. Keyed tables and merges into
        # rows already loaded use the checked rows several times: keep them.
        kind = "TABLE" if table.key or not _is_empty(con, name) else "VIEW"
        con.execute(f"CREATE OR REPLACE TEMP {kind} typed_{name} AS {checked}")
        report.rows_read = con.execute(f"SELECT count(*) FROM raw_{name}").fetchone()[0]
    except duckdb.Error as exc:
        raise LoadError(read_error(path, exc)) from None
    return record(table, file_types, extra)


def _collect_rejects(con, table: Table, path: Path, report: TableReport, as_written: str) -> None:
    """Count the bad rows, keep them all in `rejects` with the record `as_written`, show a few."""
    name, is_csv = table.name, not _is_parquet(path)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE rejected_{name} AS "
            f"SELECT _row, _problems FROM typed_{name} WHERE _problems IS NOT NULL"
        )
    except duckdb.Error as exc:  # typed_<t> may be a view reading the file for the first time
        raise LoadError(read_error(path, exc)) from None
    report.rows_rejected = con.execute(f"SELECT count(*) FROM rejected_{name}").fetchone()[0]
    first = con.execute(
        f"SELECT _row, _problems FROM rejected_{name} ORDER BY _row LIMIT {MAX_EXAMPLES}"
    ).fetchall()
    where = "line" if is_csv else "row"
    report.examples = [
        Reject(path.name, f"{where} {r + 1 if is_csv else r}", why) for r, why in first
    ]
    con.execute("DELETE FROM rejects WHERE table_name = ?", [name])
    if report.rows_rejected:  # the record is read back from the file for these rows only
        con.execute(
            f"""
            INSERT INTO rejects
            SELECT ?, ?, _row, CASE WHEN ? THEN _row + 1 END, r._problems, {as_written},
                   now()::TIMESTAMP
            FROM rejected_{name} AS r JOIN raw_{name} AS raw USING (_row)
            """,
            [name, path.name, is_csv],
        )
    if report.rows_read >= 10 and report.rows_rejected / report.rows_read > MAX_REJECT_SHARE:
        share = report.rows_rejected / report.rows_read
        raise LoadError(
            f"{path.name}: {share:.0%} of its {report.rows_read} rows break the contract, "
            f"so the file is probably in another format. First problem, {report.examples[0]}. "
            "Fix the column named there and load again."
        )


def _merge(con, table: Table, report: TableReport) -> None:
    """Insert the valid rows: keyed tables replace rows with the same key, others add new rows
    (into an empty unkeyed table: `_insert_first`).

    Rows an unkeyed table gets when it already has some are left in temp table new_<t>.
    """
    name = table.name
    cols = ", ".join(table.names + (["extra"] if table.keeps_extra else []))
    valid = f"SELECT {cols} FROM typed_{name} WHERE _problems IS NULL"
    report.rows_loaded = report.rows_read - report.rows_rejected
    if table.key:
        if _is_empty(con, name):  # a first load: nothing stored to compare with or replace
            # (valid rows are unique by key, so the EXCEPT below would drop none of them)
            con.execute(f"INSERT INTO {name} ({cols}) {valid} ORDER BY {', '.join(table.key)}")
            return
        # Only rows that are new or differ from the stored row with their key are rewritten:
        # a daily export repeats most of them, and rewriting them all grows the file.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE changed_{name} AS "
            f"{valid} EXCEPT SELECT {cols} FROM {name}"
        )
        match = " AND ".join(
            f"({s}) IS NOT DISTINCT FROM ({v})"
            for s, v in zip(table.key_terms("s."), table.key_terms("v."), strict=True)
        )
        con.execute(f"DELETE FROM {name} AS s USING changed_{name} AS v WHERE {match}")
        if table.line_id:
            _close_open_lines(con, table)
        con.execute(
            f"INSERT INTO {name} ({cols}) SELECT * FROM changed_{name} "
            f"ORDER BY {', '.join(table.key)}"
        )
        return
    into = f"INSERT INTO {name} ({cols}) SELECT * FROM"
    if name == "events":  # the events store, each row marked with this load's number
        into = store.INSERT
    # Multiset difference: a second load of the same rows adds nothing, but genuine repeats
    # within one file (two identical clicks) are kept. Only rows of the same accounts, in the
    # file's time span, can be equal to the file's: the rest are not compared.
    # (Both columns are required, so no valid row has a NULL there that the filter would miss.)
    near, params = ["true"], []
    if table.column("account_id").required:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE incoming_accounts AS "
            f"SELECT DISTINCT account_id FROM typed_{name} WHERE _problems IS NULL"
        )
        near.append("account_id IN (SELECT account_id FROM incoming_accounts)")
    clock = table.clock
    if clock and table.column(clock).required:
        near.append(f"{clock} BETWEEN ? AND ?")
        params += con.execute(
            f"SELECT min({clock}), max({clock}) FROM typed_{name} WHERE _problems IS NULL"
        ).fetchone()
        # Only the file's days: a late row for an old day must not compare the days between.
        near.append(
            f"{clock}::DATE IN (SELECT DISTINCT {clock}::DATE FROM typed_{name} "
            "WHERE _problems IS NULL)"
        )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE new_{name} AS {valid} "
        f"EXCEPT ALL SELECT {cols} FROM {name} WHERE {' AND '.join(near)}",
        params,
    )
    # Appended rows in account order, so scans for one account touch few row groups.
    order = ", ".join(["account_id", clock] if clock else ["account_id"])
    con.execute(f"{into} (SELECT * FROM new_{name} ORDER BY {order})")


def _close_open_lines(con, table: Table) -> None:
    """An open line without a line id that comes back with an end date is the same line, ended:
    the stored open row goes, or the line would count twice."""
    same = " AND ".join(
        f"s.{c} IS NOT DISTINCT FROM v.{c}"
        for c in table.names
        if c not in ("end_date", table.line_id)
    )
    con.execute(
        f"DELETE FROM {table.name} AS s USING changed_{table.name} AS v "
        f"WHERE s.{table.line_id} IS NULL AND v.{table.line_id} IS NULL "
        f"AND s.end_date IS NULL AND v.end_date IS NOT NULL AND {same}"
    )


def _ensure_schema(con) -> None:
    for table in TABLES:
        if table.name == "events":  # in their own store (db/store.py), made by `writing`
            continue
        con.execute(ddl(table))
        for col in table.columns:  # a database made before a column joined the contract
            kind = SQL_TYPES[col.type]
            con.execute(f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {col.name} {kind}")
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
    # Databases made before mapping files have no recipe column yet.
    con.execute("ALTER TABLE loads ADD COLUMN IF NOT EXISTS recipe VARCHAR")
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    days.ensure(con)
    seen.ensure(con)


def load(
    folder: str | Path,
    path: str | Path | None = None,
    *,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
    maps: list[str] | tuple = (),
) -> LoadReport:
    """Validate a data folder and merge it into the database, all or nothing.

    `maps` (mapping files or recipe names), or a mapping.toml in the folder, first turn the
    folder's exports into the contract's tables.
    """
    folder = Path(folder).expanduser().resolve()
    with prepared(folder, maps) as (source, mapped):
        files, warnings = _find(folder, source, mapped)
        report = LoadReport(str(folder), warnings=warnings)
        if mapped:
            report.recipe, report.warnings = mapped.recipe, mapped.warnings + warnings
            report.mapped = [
                f"{t.table}: {t.rows:,} rows made by {t.mapping} from {', '.join(t.files)}"
                for t in mapped.tables
            ]
        try:
            with db.writing(path, adds_events=True) as con:
                _load_into(con, files, report, replace, progress)
        except store.StoreError as exc:
            raise LoadError(str(exc)) from None
    return report


def _find(folder: Path, source: Path, mapped: MapResult | None):
    """The contract files to load; a missing table is named in the folder the person gave."""
    try:
        return find_files(source)
    except LoadError as exc:
        if mapped is None:
            raise
        where = f"{folder} (after mapping with {mapped.recipe})"
        raise LoadError(str(exc).replace(str(source), where)) from None


def _load_table(con, table: Table, path: Path, tr: TableReport) -> None:
    """Stage, check and merge one table's file."""
    as_written = _stage(con, path, table, tr)
    if table.name == "accounts":
        con.execute(
            "INSERT INTO known_accounts SELECT account_id FROM typed_accounts "
            "WHERE _problems IS NULL"
        )
    if not table.key and _is_empty(con, table.name):
        _insert_first(con, table, path, tr, as_written)
        return
    _collect_rejects(con, table, path, tr, as_written)
    _merge(con, table, tr)


def _insert_first(con, table: Table, path: Path, tr: TableReport, as_written: str) -> None:
    """Into an empty unkeyed table: insert the valid rows, then look for rejects only if fewer
    went in than were checked, so a clean file is checked once, not twice (the events step of
    a first load of 16M events: 9.8 -> 9.0 CPU seconds). Too many rejects still fail the load:
    rows it inserted are never published (db/store.py), and the next load deletes them."""
    name = table.name
    cols = ", ".join(table.names + (["extra"] if table.keeps_extra else []))
    valid = f"SELECT {cols} FROM typed_{name} WHERE _problems IS NULL"
    into = store.INSERT if name == "events" else f"INSERT INTO {name} ({cols}) SELECT * FROM"
    # In the file's order, near enough: sorting 16M rows would take longer than the rest of
    # the load. Each thread keeps its share of the file in order, and they write at once.
    con.execute("SET preserve_insertion_order = false")
    try:
        inserted = con.execute(f"{into} ({valid})").fetchall()[0][0]
    except duckdb.Error as exc:  # the view reads the file here for the first time
        raise LoadError(read_error(path, exc)) from None
    finally:
        con.execute("RESET preserve_insertion_order")
    if inserted < tr.rows_read - tr.rows_skipped:
        _collect_rejects(con, table, path, tr, as_written)
    else:  # none rejected: what _collect_rejects leaves behind for a clean file
        empty = "(_row BIGINT, _problems VARCHAR)"
        con.execute(f"CREATE OR REPLACE TEMP TABLE rejected_{name} {empty}")
        con.execute("DELETE FROM rejects WHERE table_name = ?", [name])
        tr.rows_rejected, tr.examples = 0, []
    tr.rows_loaded = tr.rows_read - tr.rows_rejected


def _load_into(con, files: dict, report: LoadReport, replace: bool, progress) -> None:
    """Stage, check and merge every table found, recording the load."""
    _ensure_schema(con)
    if replace:
        for table in TABLES:
            if table.name != "events":
                con.execute(f"DELETE FROM {table.name}")
        store.clear(con)
        days.forget(con)
        seen.forget(con)
        con.execute("DELETE FROM rejects")
    events_were_empty = _is_empty(con, "events")
    con.execute("CREATE OR REPLACE TEMP TABLE known_accounts AS SELECT account_id FROM accounts")
    for table in TABLES:  # accounts first: the others point at it
        if table.name not in files:
            continue
        path_t = files[table.name]
        if progress:
            progress(f"{table.name} ({path_t.name})")
        tr = TableReport(table.name, path_t.name)
        if table.name == "events":
            _load_table(con, table, path_t, tr)
            days.record(con, tr.rows_rejected, all_new=events_were_empty)
        else:
            file_digest = seen.digest(path_t, table)
            tr.rows_skipped = seen.rows_if_unchanged(con, table.name, file_digest) or 0
            if tr.rows_skipped:  # the file its last load merged: nothing would change
                tr.rows_read = tr.rows_loaded = tr.rows_skipped
            else:
                _load_table(con, table, path_t, tr)
                seen.remember(con, table.name, file_digest, tr.rows_read, tr.rows_rejected)
        con.execute(
            "INSERT INTO loads (loaded_at, folder, table_name, file, rows_read, rows_loaded, "
            "rows_rejected, recipe) VALUES (now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?)",
            [report.folder, table.name, path_t.name, tr.rows_read, tr.rows_loaded]
            + [tr.rows_rejected, report.recipe or None],
        )
        report.tables.append(tr)
    events = next((t for t in report.tables if t.table == "events"), None)
    if events and "users" in files:
        n = days.unknown_users(
            con, events.types, only_these=events_were_empty, rejected=events.rows_rejected
        )
        if n:
            events.warnings.append(f"{events.file}: {n} rows name a user_id that is not in users")
    if events and not (replace or events_were_empty):
        days.note_added(con)
    elif events and (replace or not _is_empty(con, "events")):
        con.execute("INSERT OR REPLACE INTO meta VALUES ('events_changed_from', 'all')")
    con.execute(
        "INSERT OR REPLACE INTO meta VALUES ('loaded_at', strftime(now(), '%Y-%m-%d %H:%M:%S'))"
    )
    con.execute("INSERT OR REPLACE INTO meta VALUES ('recipe', ?)", [report.recipe or "none"])
