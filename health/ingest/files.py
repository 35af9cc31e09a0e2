"""Finding and reading the files of a data folder, and saying plainly why one can't be read."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import duckdb

from health import db
from health.ingest.contract import SUFFIXES, TABLE_BY_NAME, TABLES, Table

MAX_LINE_BYTES = 16 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


class LoadError(Exception):
    """A problem with a whole file or folder: the load stops and nothing is written."""


def find_files(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Map each contract table to its file in the folder; warn about files that are none."""
    if not folder.is_dir():
        raise LoadError(f"{folder}: no such folder. Pass the folder that holds accounts.csv.")
    found: dict[str, Path] = {}
    warnings = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        lower = path.name.lower()
        suffix = next(
            (s for s in sorted(SUFFIXES, key=len, reverse=True) if lower.endswith(s)),
            "",
        )
        table = lower[: -len(suffix)] if suffix else ""
        if table not in TABLE_BY_NAME:
            warnings.append(f"{path.name}: not a table of the contract, ignored")
            continue
        if table in found:
            raise LoadError(
                f"{folder}: both {found[table].name} and {path.name} hold table {table}. "
                "Keep one of them."
            )
        found[table] = path
    for table in TABLES:
        if table.required and table.name not in found:
            raise LoadError(
                f"{folder}: table {table.name} is missing. Add {table.name}.csv "
                f"(or .csv.gz / .parquet) with columns {', '.join(table.names)}."
            )
    return found, warnings


def reader(path: Path) -> str:
    """A table function reading the file as text; the path is its one bound parameter."""
    if path.name.lower().endswith(".parquet"):
        return "read_parquet(?)"
    # skip = 0: the sniffer must never drop a header line it finds odd (it would then take
    # the first data row for the header).
    return (
        "read_csv(?, header = true, all_varchar = true, delim = ',', quote = '\"', "
        f"escape = '\"', skip = 0, max_line_size = {MAX_LINE_BYTES})"
    )


def read_header(con, path: Path) -> tuple[list[str], list[str]]:
    """The file's column names and types, or a LoadError saying why the file can't be read."""
    if path.stat().st_size == 0:
        raise LoadError(f"{path.name}: the file is empty. It needs at least a header line.")
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {reader(path)}", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise LoadError(read_error(path, exc)) from None
    described, types = [r[0] for r in rows], [r[1] for r in rows]
    # DuckDB renames repeated names (Plan, plan -> Plan, plan_1), which would hide a duplicate
    # column from _map_columns; read the names as written in the file instead.
    written = _written_names(con, path)
    if len(written) != len(described):
        return described, types
    return [w if w.strip() else d for w, d in zip(written, described, strict=True)], types


def _written_names(con, path: Path) -> list[str]:
    """The column names exactly as the file has them (empty names as '')."""
    try:
        if path.name.lower().endswith(".parquet"):
            # The flattened schema: the root, then every column. Nested columns add entries,
            # so the caller's length check falls back to DuckDB's names for those files.
            rows = con.execute("SELECT name FROM parquet_schema(?)", [str(path)]).fetchall()
            return [r[0] for r in rows[1:]]
        headerless = reader(path).replace("header = true", "header = false")
        first = con.execute(f"SELECT * FROM {headerless} LIMIT 1", [str(path)]).fetchone()
    except duckdb.Error:
        return []
    return ["" if v is None else str(v) for v in (first or ())]


def read_error(path: Path, exc: Exception) -> str:
    text = str(exc)
    line = re.search(r"[Ll]ine:? (\d+)", text)
    where = f" (line {line.group(1)})" if line else ""
    head = _head(path)
    if path.name.lower().endswith(".gz") and not _raw_head(path).startswith(GZIP_MAGIC):
        return (
            f"{path.name}: is not a gzip-compressed CSV file (it does not start as gzip does). "
            "Upload the CSV itself, or compress it with gzip."
        )
    # Only DuckDB's decoding error, or NUL bytes (UTF-16), mean the encoding: every sniffer
    # error mentions "utf-8" and "encoding" among its generic hints.
    if "invalid unicode" in text.lower() or b"\x00" in head:
        return (
            f"{path.name}: the file is not UTF-8 text{where}. Save it as UTF-8 "
            "(in Excel: File > Save As > CSV UTF-8) and load again."
        )
    if path.name.lower().endswith(".parquet"):
        return f"{path.name}: cannot be read as Parquet ({text.splitlines()[0]}). Export it again."
    if re.search(r"maximum line size of \d+ bytes exceeded", text, re.IGNORECASE):
        # DuckDB's line number counts from its buffer, not the file: find the line ourselves.
        long = _first_long_line(path)
        where = f" (line {long})" if long else ""
        return f"{path.name}: a line{where} is longer than 16 MB. Shorten that field."
    first_line = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if "," not in first_line and (hint := _delimiter_hint(path, first_line)):
        return hint
    lines = text.splitlines() or [type(exc).__name__]
    detail = next((x for x in lines if x.startswith("Expected Number of Columns")), lines[0])
    return (
        f"{path.name}: cannot be read as comma-separated CSV{where}: {detail.rstrip('.')}. "
        "Check the quoting and that every line has the same number of fields."
    )


def _head(path: Path, size: int = 65536) -> bytes:
    """The first bytes of the file, uncompressed; the raw bytes when it is no gzip stream."""
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as handle:
            return handle.read(size)
    except (OSError, EOFError):
        return _raw_head(path, size)


def _raw_head(path: Path, size: int = 2) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def _first_long_line(path: Path, chunk: int = 1 << 20) -> int | None:
    """The number (from 1, the header's) of the first line longer than MAX_LINE_BYTES."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    line, length = 1, 0
    try:
        with opener(path, "rb") as handle:
            while block := handle.read(chunk):
                start = 0
                while (end := block.find(b"\n", start)) >= 0:
                    if length + end - start > MAX_LINE_BYTES:
                        return line
                    line, length, start = line + 1, 0, end + 1
                length += len(block) - start
                if length > MAX_LINE_BYTES:
                    return line
    except (OSError, EOFError):
        return None
    return None


def _delimiter_hint(path: Path, header: str) -> str | None:
    """A message when the header line is split by something other than commas."""
    delim = next((d for d in (";", "\t", "|") if d in header), None)
    if not delim:
        return None
    shown = {"\t": "tabs"}.get(delim, f"'{delim}'")
    return (
        f"{path.name}: the file seems to be separated by {shown}, not commas "
        f"(header: {header[:60]!r}). Save it as comma-separated CSV."
    )


def map_columns(path: Path, table: Table, header: list[str]) -> tuple[dict[str, int], dict]:
    """Match header names case-insensitively; return contract name -> position, and extras."""
    positions: dict[str, int] = {}
    extra: dict[str, str] = {}
    seen: dict[str, str] = {}
    for i, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff").lower()
        if name in seen:
            raise LoadError(
                f"{path.name}: columns '{seen[name]}' and '{raw}' have the same name. "
                "Rename or remove one of them."
            )
        seen[name] = raw
        if table.canonical(name) not in positions and table.canonical(name) != name:
            name = table.canonical(name)  # e.g. item_id for subscription_id
        if name in table.names:
            positions[name] = i + 1
        else:
            extra[f"x{i}"] = raw.strip()
    missing = [c.name for c in table.columns if c.required and c.name not in positions]
    if missing:
        if hint := _delimiter_hint(path, ",".join(header)):
            raise LoadError(hint)
        raise LoadError(
            f"{path.name}: required column {', '.join(missing)} is missing "
            f"(found: {', '.join(header)}). Add it, or rename the column that holds it."
        )
    return positions, extra


def save_uploads(files: list[tuple[str, bytes]], root: Path | None = None) -> Path:
    """Write uploaded files into a new folder beside the database; names must be contract tables."""
    import datetime as dt

    names = [Path(name).name for name, _ in files]  # never a path from the browser
    for base in names:
        if not any(base.lower() == t + s for t in TABLE_BY_NAME for s in SUFFIXES):
            raise LoadError(
                f"{base}: not a table of the contract. Name files after their table, "
                "e.g. accounts.csv, events.parquet, tickets.csv.gz."
            )
    root = root or db.db_path().parent / "uploads"
    folder = root / dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder.mkdir(parents=True)
    for base, (_, content) in zip(names, files, strict=True):
        (folder / base).write_bytes(content)
    return folder
