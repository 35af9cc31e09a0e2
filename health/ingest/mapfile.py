"""Mapping files as data: parse the TOML, check it against the contract, find each key's line.

A mapping file turns another tool's export into the contract's tables at load time. It reads:

    name = "stripe"                        # shown on the Data page; default: the file name
    description = "Stripe subscriptions"

    [tables.subscriptions]                 # one section per contract table it makes
    source = ["subscriptions*.json.gz"]    # globs in the data folder; several files are stacked
    explode = "items.data"                 # optional: one row per element, called `item`
    # keep_latest = { per = "id", by = "updated" }: optional, one row per `per`, the latest

    [tables.subscriptions.columns]         # contract column = where its value comes from
    subscription_id = "item.id"            # a source column, or a path into a JSON column
    plan = { column = ["item.price.nickname", "item.price.product"] }   # the first one set
    start_date = { column = "item.created", time = "epoch_s" }     # iso | epoch_s | epoch_ms
    mrr = { column = "item.price.unit_amount", times = "item.quantity", scale = 0.01 }
    account_id = { column = "customer", lookup = { source = "customers*.json", key = "id",
                   value = "metadata.account_id" } }    # (one line in a real file)

Other tables' columns show the rest:

    segment = { value = "SMB" }                                        # a constant
    sentiment = { column = "health", map = { good = "green", "1" = "red" } }
    closed_at = { column = "updated_at", when = { status = ["solved", "closed"] } }
    priority = { column = "prio", default = "normal" }                 # when still empty

A column spec is a string (a source column or path) or a table with `column` (a name or a list,
first one set) or `value`, then optionally, applied in this order: `lookup`, `map`, `times` and
`scale`, `time` (dates and timestamps are read as ISO unless it says epoch), `when`, `default`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from health.ingest.files import LoadError

RECIPES = Path(__file__).parent / "recipes"
BESIDE = "mapping.toml"  # a mapping file with this name in the data folder is used by itself
TIME_KINDS = ("iso", "epoch_s", "epoch_ms")
SPEC_KEYS = {"column", "value", "lookup", "map", "time", "times", "scale", "when", "default"}
TABLE_KEYS = {"source", "explode", "keep_latest", "columns"}
TOP_KEYS = {"name", "description", "tables"}


class MappingError(LoadError):
    """A mapping file that can't be applied: names the file, its line, the source and a fix."""


@dataclass
class Spec:
    """Where one contract column's value comes from."""

    target: str
    line: int
    column: str | list[str] | None = None
    value: str | None = None
    lookup: dict | None = None
    map: dict[str, str] | None = None
    time: str | None = None
    times: str | None = None
    scale: float | None = None
    when: dict[str, list[str]] | None = None
    default: str | None = None


@dataclass
class TableMap:
    """How one contract table is made from source files."""

    table: str
    line: int
    sources: list[str]
    columns: list[Spec]
    explode: str | None = None
    keep_latest: dict | None = None


@dataclass
class Mapping:
    """A parsed mapping file."""

    path: Path
    name: str
    description: str
    tables: list[TableMap] = field(default_factory=list)

    def where(self, line: int) -> str:
        """'mapping.toml line 12', the way every error starts."""
        return f"{self.path.name} line {line}"


def _split_key(key: str) -> list[str]:
    """A TOML dotted key into its parts, quotes removed ('a."b.c"' -> ['a', 'b.c'])."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s]+)', key)
    return [next(p for p in group if p) if any(group) else "" for group in parts]


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Each full key path of the TOML text -> its line number (tomllib gives none)."""
    lines: dict[tuple[str, ...], int] = {}
    section: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = re.match(r"^\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$", line)
        if header:
            section = _split_key(header.group(1))
            lines.setdefault(tuple(section), number)
            continue
        assign = re.match(r'^((?:"[^"]*"|\'[^\']*\'|[^=])+?)\s*=', line)
        if assign:
            path = tuple(section + _split_key(assign.group(1)))
            lines.setdefault(path, number)
    return lines


def line_of(lines: dict[tuple[str, ...], int], *path: str) -> int:
    """The line of a key, or of its nearest enclosing key that has one (1 if none)."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def read_mapping(path: Path, contract: dict[str, dict[str, str]]) -> Mapping:
    """Parse and check a mapping file; `contract` is table -> column -> type."""
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))
        where = f"{path.name} line {at.group(1)}" if at else path.name
        raise MappingError(f"{where}: not valid TOML ({exc}). Fix the syntax there.") from None
    lines = key_lines(text)
    mapping = Mapping(path, str(doc.get("name") or path.stem), str(doc.get("description", "")))
    _unknown(mapping, lines, (), doc, TOP_KEYS)
    tables = doc.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise MappingError(
            f"{path.name}: no [tables.<name>] section. Add one per contract table it makes, "
            f"e.g. [tables.events] (tables: {', '.join(contract)})."
        )
    for name, body in tables.items():
        mapping.tables.append(_table(mapping, lines, contract, name, body))
    return mapping


def _unknown(mapping: Mapping, lines, path: tuple[str, ...], body: dict, known: set) -> None:
    for key in body:
        if key not in known:
            raise MappingError(
                f"{mapping.where(line_of(lines, *path, key))}: unknown key '{key}'. "
                f"Allowed here: {', '.join(sorted(known))}."
            )


def _table(mapping: Mapping, lines, contract, name: str, body) -> TableMap:
    """One [tables.<name>] section, checked."""
    line = line_of(lines, "tables", name)
    if name not in contract:
        raise MappingError(
            f"{mapping.where(line)}: '{name}' is not a table of the contract. "
            f"Use one of: {', '.join(contract)}."
        )
    if not isinstance(body, dict):
        raise MappingError(f"{mapping.where(line)}: [tables.{name}] must be a table of keys.")
    _unknown(mapping, lines, ("tables", name), body, TABLE_KEYS)
    sources = body.get("source")
    sources = [sources] if isinstance(sources, str) else sources
    if not sources or not all(isinstance(s, str) for s in sources):
        raise MappingError(
            f'{mapping.where(line)}: [tables.{name}] needs source = "<file or glob>" '
            "(or a list of them), relative to the data folder."
        )
    columns = body.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise MappingError(
            f"{mapping.where(line)}: [tables.{name}.columns] is missing. Map at least "
            f"{', '.join(contract[name])[:120]}."
        )
    specs = [_spec(mapping, lines, contract, name, k, v) for k, v in columns.items()]
    return TableMap(name, line, list(sources), specs, body.get("explode"), body.get("keep_latest"))


def _spec(mapping: Mapping, lines, contract, table: str, target: str, raw) -> Spec:
    """One column spec, checked: a string is a source column, a table says more."""
    path = ("tables", table, "columns", target)
    line = line_of(lines, *path)
    here = mapping.where(line)
    if target not in contract[table]:
        raise MappingError(
            f"{here}: {table} has no column '{target}'. "
            f"Its columns are: {', '.join(contract[table])}."
        )
    if isinstance(raw, str):
        return Spec(target, line, column=raw)
    if not isinstance(raw, dict):
        raise MappingError(
            f"{here}: {target} must be a source column name in quotes, or a table such as "
            '{ column = "...", time = "iso" } or { value = "constant" }.'
        )
    _unknown(mapping, lines, path, raw, SPEC_KEYS)
    if ("column" in raw) == ("value" in raw):
        raise MappingError(f"{here}: {target} needs exactly one of column = ... or value = ....")
    column = raw.get("column", "")
    if not (isinstance(column, str) or all(isinstance(c, str) for c in column)):
        raise MappingError(f"{here}: column must be a name in quotes, or a list of names.")
    if raw.get("time") not in (None, *TIME_KINDS):
        raise MappingError(
            f"{here}: time = '{raw['time']}' is not known. Use one of: {', '.join(TIME_KINDS)}."
        )
    spec = Spec(target, line, **{k: raw[k] for k in raw if k not in ("map", "value", "default")})
    spec.value = None if raw.get("value") is None else str(raw["value"])
    spec.default = None if raw.get("default") is None else str(raw["default"])
    if "map" in raw:
        spec.map = {str(k).strip().lower(): str(v) for k, v in raw["map"].items()}
    if spec.when is not None:
        spec.when = {
            k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in spec.when.items()
        }
    if spec.lookup is not None and not {"source", "key", "value"} <= set(spec.lookup):
        raise MappingError(
            f"{here}: lookup needs source, key and value, e.g. lookup = {{ source = "
            '"organizations*.json", key = "id", value = "external_id" }.'
        )
    return spec


def resolve(name: str | Path, folder: Path | None = None) -> Path:
    """A mapping file from a path, or from the name of a shipped recipe ('stripe')."""
    path = Path(name)
    if path.is_file():
        return path
    recipe = RECIPES / f"{path.name.removesuffix('.toml')}.toml"
    if recipe.is_file() and len(path.parts) == 1:
        return recipe
    shipped = ", ".join(sorted(p.stem for p in RECIPES.glob("*.toml")))
    raise MappingError(f"{name}: no such mapping file, and no recipe by that name ({shipped}).")


def beside(folder: Path) -> Path | None:
    """The mapping file kept in the data folder, if there is one."""
    path = Path(folder) / BESIDE
    return path if path.is_file() else None
