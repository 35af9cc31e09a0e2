"""Reading a mapping's source files: globs in the data folder, stacked into one DuckDB table."""

from __future__ import annotations

import shutil
from pathlib import Path

from health.ingest.contract import SUFFIXES

KINDS = {"parquet": (".parquet",), "json": (".json", ".ndjson", ".jsonl")}
# Nested values stay JSON (maximum_depth = 1): keys present in only some rows must not be lost
# to a schema guessed from the first rows, and paths into them then read one way everywhere.
READERS = {
    "csv": "read_csv(?, header = true, all_varchar = true, union_by_name = true)",
    "parquet": "read_parquet(?, union_by_name = true)",
    "json": "read_json(?, format = 'auto', maximum_depth = 1, union_by_name = true, "
    "sample_size = -1)",
}


def sources(folder: Path, patterns: str | list[str]) -> list[Path]:
    """The files matching the globs, in name order, each once."""
    found: dict[Path, None] = {}
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        for path in sorted(folder.glob(pattern)):
            if path.is_file() and not path.name.startswith("."):
                found.setdefault(path, None)
    return list(found)


def listing(folder: Path) -> str:
    """The folder's file names, for a message."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    return ", ".join(names[:12]) or "nothing"


def names(files: list[Path]) -> str:
    """'tracks_1.csv.gz (+2 more)', for a message."""
    more = f" (+{len(files) - 1} more)" if len(files) > 1 else ""
    return f"{files[0].name}{more}"


def by_kind(files: list[Path]) -> dict[str, list[str]]:
    """The files grouped by reader: parquet, json (NDJSON or an array) or csv."""
    groups: dict[str, list[str]] = {}
    for path in files:
        name = path.name.lower().removesuffix(".gz")
        kind = next((k for k, ends in KINDS.items() if name.endswith(ends)), "csv")
        groups.setdefault(kind, []).append(str(path))
    return groups


def stack(con, name: str, files: list[Path]) -> None:
    """Table `name`: the files' rows stacked by column name; JSON values become text."""
    parts = []
    for kind, paths in by_kind(files).items():
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name}_{kind} AS SELECT * FROM {READERS[kind]}", [paths]
        )
        parts.append(f"SELECT {as_text(con, f'{name}_{kind}')} FROM {name}_{kind}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {' UNION ALL BY NAME '.join(parts)}")


def columns(con, relation: str) -> dict[str, str]:
    """Column name -> DuckDB type."""
    return dict(r[:2] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall())


def as_text(con, relation: str) -> str:
    """Select list turning JSON values into text: scalars bare, objects as JSON text.

    One type everywhere lets CSV and JSON files stack, and paths read JSON text the same way.
    """
    cols = []
    for col, type_ in columns(con, relation).items():
        q = ident(col)
        cols.append(
            f"CASE WHEN json_type({q}) IN ('OBJECT', 'ARRAY') THEN CAST({q} AS VARCHAR) "
            f"ELSE json_extract_string({q}, '$') END AS {q}"
            if type_ == "JSON"
            else q
        )
    return ", ".join(cols)


def pass_through(folder: Path, out: Path, tables: set, made: set) -> list[str]:
    """Copy contract files already in the folder for tables no mapping made; say what's replaced."""
    notes = []
    if not folder.is_dir():
        return notes
    for path in sorted(folder.iterdir()):
        lower = path.name.lower()
        table = next((lower[: -len(s)] for s in SUFFIXES if lower.endswith(s)), None)
        if table not in tables or not path.is_file():
            continue
        if table in made:
            notes.append(f"{path.name}: replaced by the mapped {table} table")
        else:
            shutil.copy2(path, out / path.name)
    return notes


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
