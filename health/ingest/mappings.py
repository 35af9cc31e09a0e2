"""Apply mapping files: read another tool's export and write the contract's tables as CSV.

The format of a mapping file is described in mapfile.py and the README. `apply(folder, maps,
out)` reads the source files each mapping names (CSV, Parquet, NDJSON, each optionally gzip'd;
globs; several files stacked by column name), builds each table with DuckDB and writes
`<table>.csv` into `out`, which the loader then validates like any data folder. Contract files
already in the folder, for tables no mapping makes, are copied through unchanged.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from health import db
from health.ingest.contract import TABLES
from health.ingest.mapfile import Mapping, MappingError, Spec, TableMap, beside, read_mapping
from health.ingest.mapfile import resolve as resolve_map
from health.ingest.mapread import columns, ident, listing, lit, names, pass_through, sources, stack

OUT_FORMAT = {"timestamp": "%Y-%m-%dT%H:%M:%S", "date": "%Y-%m-%d"}
CONTRACT = {t.name: {c.name: c.type for c in t.columns} for t in TABLES}
REQUIRED = {t.name: {c.name for c in t.columns if c.required} for t in TABLES}
# CONTRACT.md keys subscription lines by subscription_id; a mapping may write it before the
# loader stores it (until then the loader leaves it out with a warning).
CONTRACT["subscriptions"].setdefault("subscription_id", "id")


@dataclass
class TableResult:
    """What one mapping made of one table."""

    table: str
    mapping: str
    files: list[str]
    rows: int


@dataclass
class MapResult:
    """What applying the mapping files did."""

    out: Path
    mappings: list[Mapping]
    tables: list[TableResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def recipe(self) -> str:
        """The names of the mappings used, for the load record and the Data page."""
        return " + ".join(m.name for m in self.mappings)


def apply(folder: Path, maps: list[Path], out: Path) -> MapResult:
    """Map the folder's exports into contract tables in `out`."""
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise MappingError(f"{folder}: no such folder. Pass the folder that holds the exports.")
    mappings = [read_mapping(Path(p), CONTRACT) for p in maps]
    out.mkdir(parents=True, exist_ok=True)
    result = MapResult(out, mappings)
    con = db.connect(":memory:", read_only=False)
    con.execute("SET TimeZone = 'UTC'")
    try:
        for mapping in mappings:
            for tmap in mapping.tables:
                _one_table(con, folder, mapping, tmap, result)
    finally:
        con.close()
    if not result.tables:
        raise MappingError(
            f"{folder}: no file matches the sources of {result.recipe}. "
            f"Put the exports in the folder or fix the source globs; found: {listing(folder)}."
        )
    result.warnings += pass_through(folder, out, set(CONTRACT), {t.table for t in result.tables})
    return result


def _one_table(con, folder: Path, mapping: Mapping, tmap: TableMap, result: MapResult) -> None:
    """Build one table if its sources are there; a table made twice is an error."""
    files = sources(folder, tmap.sources)
    if not files:
        result.warnings.append(
            f"{mapping.where(tmap.line)}: no file matches {', '.join(tmap.sources)}; "
            f"{tmap.table} not made from this mapping"
        )
        return
    made = next((t for t in result.tables if t.table == tmap.table), None)
    if made:
        raise MappingError(
            f"{mapping.where(tmap.line)}: table {tmap.table} is already made by {made.mapping} "
            f"(from {', '.join(made.files)}). Keep it in one mapping, or the files of one."
        )
    builder = Builder(con, folder, mapping, tmap)
    rows = builder.write(files, result.out)
    result.warnings += builder.warnings
    result.tables.append(TableResult(tmap.table, mapping.name, [f.name for f in files], rows))


class Builder:
    """SQL for one mapped table: the source relation, then one expression per column."""

    def __init__(self, con, folder: Path, mapping: Mapping, tmap: TableMap):
        self.con, self.folder, self.mapping, self.tmap = con, folder, mapping, tmap
        self.types, self.required = CONTRACT[tmap.table], REQUIRED[tmap.table]
        self.warnings: list[str] = []
        self.lookups = 0

    def fail(self, line: int, message: str) -> MappingError:
        return MappingError(f"{self.mapping.where(line)}: {message}")

    def relation(self, files: list[Path], line: int, explode: str | None = None) -> str:
        """A temp view over the files (exploded if asked); returns its name."""
        name = f"src_{self.tmap.table}_{self.lookups}"
        self.lookups += 1
        try:
            stack(self.con, name, files)
        except duckdb.Error as exc:
            raise self.fail(
                line,
                f"cannot read {', '.join(f.name for f in files)}: "
                f"{str(exc).splitlines()[0]}. Check the file's format.",
            ) from None
        if explode:
            items = self.path(name, explode, line, files, raw=True)
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name}_x AS SELECT *, "
                f"unnest(CAST(json_extract({items}, '$') AS JSON[])) AS item FROM {name}"
            )
            name += "_x"
        return name

    def columns(self, relation: str) -> dict[str, str]:
        return columns(self.con, relation)

    def path(self, relation: str, path: str, line: int, files, raw: bool = False) -> str:
        """SQL text for a source column, or for a dotted path into a JSON column."""
        cols = self.columns(relation)
        lower = {c.lower(): c for c in cols}
        if path in cols or path.lower() in lower:
            col = path if path in cols else lower[path.lower()]
            return self._leaf(col, cols[col], [], raw)
        head, *rest = path.split(".")
        col = head if head in cols else lower.get(head.lower())
        if col is None or not rest:
            shown = ", ".join(list(cols)[:25])
            raise self.fail(
                line,
                f"source column '{head}' (in '{path}') is not in {names(files)} "
                f"(columns: {shown}). Name one of those, or a path into a JSON column "
                "such as 'properties.plan'.",
            )
        return self._leaf(col, cols[col], rest, raw)

    @staticmethod
    def _leaf(col: str, type_: str, rest: list[str], raw: bool) -> str:
        jpath = "$" + "".join(f"[{p}]" if p.isdigit() else f'."{p}"' for p in rest)
        q = ident(col)
        if type_ == "JSON":
            fn = "json_extract" if raw else "json_extract_string"
            return f"{fn}({q}, {lit(jpath)})"
        if not rest:
            return q if raw else f"CAST({q} AS VARCHAR)"
        fn = "json_extract" if raw else "json_extract_string"
        if type_ == "VARCHAR":  # JSON text in a CSV column; anything else is not JSON
            return f"CASE WHEN json_valid({q}) THEN {fn}({q}, {lit(jpath)}) END"
        return f"{fn}(to_json({q}), {lit(jpath)})"

    def write(self, files: list[Path], out: Path) -> int:
        """Build the table, check its times, write <table>.csv; returns the row count."""
        rel = self.relation(files, self.tmap.line, self.tmap.explode)
        exprs = [f"{self.expr(rel, s, files)} AS {ident(s.target)}" for s in self.tmap.columns]
        sql = f"SELECT {', '.join(exprs)} FROM {rel}{self.latest(rel, files)}"
        table = f"out_{self.tmap.table}"
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
        except duckdb.Error as exc:
            raise self.fail(
                self.tmap.line,
                f"building {self.tmap.table} from {names(files)} failed: "
                f"{str(exc).splitlines()[0]}",
            ) from None
        for spec in self.tmap.columns:
            self.check_times(table, spec, files)
        self.check_empty(rel, table, files)
        path = out / f"{self.tmap.table}.csv"
        self.con.execute(f"COPY {table} TO {lit(str(path))} (HEADER, DELIMITER ',')")
        return self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def latest(self, rel: str, files) -> str:
        """QUALIFY clause keeping one row per `per`, the latest by `by`."""
        keep = self.tmap.keep_latest
        if not keep:
            return ""
        line = self.tmap.line
        if not isinstance(keep, dict) or set(keep) != {"per", "by"}:
            raise self.fail(line, 'keep_latest needs { per = "<column>", by = "<column>" }.')
        per, by = (self.path(rel, keep[k], line, files) for k in ("per", "by"))
        # Epoch numbers sort as numbers, ISO text as text.
        order = f"try_cast({by} AS DOUBLE) DESC NULLS LAST, {by} DESC NULLS LAST"
        return f" QUALIFY row_number() OVER (PARTITION BY {per} ORDER BY {order}) = 1"

    def expr(self, rel: str, spec: Spec, files) -> str:
        """The SQL for one column: source or constant, then lookup, map, time, arithmetic."""
        expr = lit(spec.value) if spec.value is not None else self.source(rel, spec, files)
        if spec.lookup:
            expr = self.lookup(spec, expr)
        if spec.map:
            cases = " ".join(
                f"WHEN {lit(k)} THEN {'NULL' if v == '' else lit(v)}" for k, v in spec.map.items()
            )
            # '4.0' matches a key '4': spreadsheets write whole numbers with decimals.
            key = f"regexp_replace(lower(trim({expr})), '\\.0+$', '')"
            expr = f"(CASE {key} {cases} ELSE {expr} END)"
        if spec.times is not None or spec.scale is not None:
            other = self.path(rel, spec.times, spec.line, files) if spec.times else "1"
            expr = (
                f"CAST(try_cast({expr} AS DOUBLE) * try_cast({other} AS DOUBLE) * "
                f"{float(spec.scale if spec.scale is not None else 1)} AS VARCHAR)"
            )
        kind = self.types.get(spec.target)
        if kind in OUT_FORMAT or spec.time:
            expr = _time(expr, spec.time or "iso", OUT_FORMAT.get(kind, OUT_FORMAT["timestamp"]))
        if spec.when:
            conds = [
                f"{self.path(rel, c, spec.line, files)} IN ({', '.join(map(lit, v))})"
                for c, v in spec.when.items()
            ]
            expr = f"(CASE WHEN {' AND '.join(conds)} THEN {expr} END)"
        if spec.default is not None:
            expr = f"COALESCE(NULLIF({expr}, ''), {lit(spec.default)})"
        return expr

    def source(self, rel: str, spec: Spec, files) -> str:
        """The source column, or the first non-empty of a list of them."""
        names = spec.column if isinstance(spec.column, list) else [spec.column]
        paths = [f"NULLIF({self.path(rel, n, spec.line, files)}, '')" for n in names]
        return paths[0] if len(paths) == 1 else f"COALESCE({', '.join(paths)})"

    def lookup(self, spec: Spec, expr: str) -> str:
        """A scalar subquery finding the value for `expr` in another export."""
        look = spec.lookup
        files = sources(
            self.folder, [look["source"]] if isinstance(look["source"], str) else look["source"]
        )
        if not files:
            raise self.fail(
                spec.line,
                f"lookup source '{look['source']}' matches no file in "
                f"{self.folder} (found: {listing(self.folder)}). Add that export.",
            )
        rel = self.relation(files, spec.line)
        key, value = (self.path(rel, look[k], spec.line, files) for k in ("key", "value"))
        name = f"{rel}_lk"
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {key} AS k, any_value({value}) AS v "
            f"FROM {rel} WHERE {key} IS NOT NULL GROUP BY k"
        )
        return f"(SELECT v FROM {name} WHERE k = CAST({expr} AS VARCHAR))"

    def check_empty(self, rel: str, table: str, files) -> None:
        """A column empty in every row is a misspelt path: an error if the contract needs it."""
        specs = [s for s in self.tmap.columns if s.column is not None]
        counts = self.con.execute(
            f"SELECT count(*), {', '.join(f'count({ident(s.target)})' for s in specs)} FROM {table}"
        ).fetchone()
        for spec, filled in zip(specs, counts[1:], strict=True):
            if filled or not counts[0]:
                continue
            message = (
                f"{self.tmap.table}.{spec.target} from '{_shown(spec.column)}' is empty in all "
                f"{counts[0]} rows of {names(files)}{self.keys_hint(rel, spec.column)}"
            )
            if spec.target in self.required:
                raise self.fail(spec.line, message + ". Fix the path to the column that holds it.")
            self.warnings.append(f"{self.mapping.where(spec.line)}: {message}")

    def keys_hint(self, rel: str, column: str | list[str]) -> str:
        """'; properties has keys: a, b, …' for a path into a JSON column, else ''."""
        head = (column if isinstance(column, str) else column[0]).split(".")[0]
        if head not in self.columns(rel) or "." not in str(column):
            return ""
        keys = self.con.execute(
            f"SELECT DISTINCT unnest(json_keys({ident(head)})) AS k FROM {rel} "
            f"WHERE json_valid({ident(head)}) ORDER BY k LIMIT 30"
        ).fetchall()
        return f"; {head} has keys: {', '.join(k[0] for k in keys)}" if keys else ""

    def check_times(self, table: str, spec: Spec, files) -> None:
        """Fail when a time column is mostly unreadable or implausible: a wrong `time` kind."""
        if self.types.get(spec.target) not in OUT_FORMAT and not spec.time:
            return
        col = ident(spec.target)
        bad, odd, total, sample = self.con.execute(
            f"SELECT count(*) FILTER (WHERE NOT regexp_matches({col}, '^\\d{{4}}-\\d\\d-\\d\\d')),"
            f" count(*) FILTER (WHERE try_cast(left({col}, 4) AS INT) NOT BETWEEN 1990 AND 2100),"
            f" count({col}), any_value({col}) FROM {table}"
        ).fetchone()
        if total and (bad + odd) * 2 > total:
            hint = {
                "iso": 'If they are numbers, add time = "epoch_s" (or "epoch_ms").',
                "epoch_s": 'If they are milliseconds, use time = "epoch_ms".',
                "epoch_ms": 'If they are seconds, use time = "epoch_s".',
            }[spec.time or "iso"]
            raise self.fail(
                spec.line,
                f"{self.tmap.table}.{spec.target} from '{_shown(spec.column)}' in {names(files)}: "
                f"{bad + odd} of {total} values are not plausible dates (e.g. {sample!r}). {hint}",
            )


def _time(expr: str, kind: str, fmt: str) -> str:
    """Text in `fmt` (UTC) from ISO text or epoch numbers; unreadable text is kept as it is."""
    if kind == "iso":
        parsed = f"try_cast({expr} AS TIMESTAMPTZ)"
    else:
        scale = 1000.0 if kind == "epoch_ms" else 1.0
        parsed = f"try(to_timestamp(try_cast({expr} AS DOUBLE) / {scale}))"
    # The loader reports what stays unreadable, row by row, with examples.
    return f"COALESCE(strftime(CAST({parsed} AS TIMESTAMP), {lit(fmt)}), {expr})"


def _shown(column: str | list[str]) -> str:
    return column if isinstance(column, str) else "' or '".join(column)


@contextlib.contextmanager
def prepared(folder: Path, maps: list[str] | tuple = ()) -> Iterator[tuple[Path, MapResult | None]]:
    """The folder to load: itself, or a temporary folder of mapped tables.

    `maps` are mapping files or shipped recipe names; without them a `mapping.toml` kept in the
    folder is used. The mapped tables live only as long as the load.
    """
    folder = Path(folder)
    paths = [resolve_map(m) for m in maps] or [p for p in [beside(folder)] if p]
    if not paths:
        yield folder, None
        return
    with tempfile.TemporaryDirectory(prefix="health-mapped-") as tmp:
        yield Path(tmp), apply(folder, paths, Path(tmp))
