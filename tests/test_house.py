"""The house's rules, checked: SQL files state their grain, marts keep their contracts (unique
grain, keys not null, accepted values, one arithmetic invariant), and imports only run down."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from health import db
from tests.conftest import APP_DIR

SQL_FILES = sorted(p for p in db.SQL_DIR.rglob("*.sql") if p.name != "macros.sql")
LAYERS = ("stg", "int", "mart", "q")


@pytest.mark.parametrize("path", SQL_FILES, ids=[p.stem for p in SQL_FILES])
def test_every_sql_file_states_its_grain_and_sits_in_its_layer(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("-- one row"), f"{path.name}: first line must state the grain"
    layer = path.parent.name
    assert layer in LAYERS and path.stem.startswith(layer + "_")


# Every mart: its grain (unique, never null), and columns whose values are a closed set.
MARTS = {
    "mart_account_overview": (("account_id",), {}),
    "mart_account_features": (("account_id", "week_end"), {}),
    "mart_account_stage": (("account_id",), {}),
    "mart_account_health": (
        ("account_id",),
        {"tier": {"healthy", "watch", "at_risk"}, "score_source": {"model", "scorecard"}},
    ),
    "mart_health_history": (("account_id", "week_end"), {"tier": {"healthy", "watch", "at_risk"}}),
    "mart_actions": (
        ("action_id",),
        {
            "state": {
                "listed",
                "snoozed",
                "queued",
                "done",
                "dismissed",
                "duplicate",
                "covered",
                "expired",
            }
        },
    ),
}


@pytest.fixture(scope="module")
def con(warehouse):
    con = db.connect(warehouse)
    yield con
    con.close()


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_has_a_unique_grain_with_keys_not_null(con, mart):
    keys, accepted = MARTS[mart]
    cols = ", ".join(keys)
    rows, distinct = con.execute(
        f"select count(*), count(distinct ({cols})) from {mart}"  # names from MARTS only
    ).fetchone()
    assert rows > 0 and rows == distinct, f"{mart}: {rows} rows, {distinct} distinct {keys}"
    nulls = " or ".join(f"{k} is null" for k in keys)
    assert con.execute(f"select count(*) from {mart} where {nulls}").fetchone()[0] == 0
    for column, values in accepted.items():
        seen = {r[0] for r in con.execute(f"select distinct {column} from {mart}").fetchall()}
        assert seen <= values, f"{mart}.{column}: unexpected {seen - values}"


def test_marts_agree_on_the_accounts_they_cover(con):
    # The arithmetic invariant: the scored accounts are exactly the active accounts with a
    # feature row at the as-of week, and the health history's latest week is the current score.
    latest = con.execute(
        "select count(*) from mart_account_health h join mart_health_history w "
        "using (account_id) where w.week_end = (select max(week_end) from mart_health_history) "
        "and abs(h.health_score - w.health_score) > 1e-9"
    ).fetchone()[0]
    assert latest == 0
    stages = con.execute(
        "select count(*) from mart_account_overview o anti join mart_account_stage s "
        "using (account_id)"
    ).fetchone()[0]
    assert stages == 0


# --- imports run down: pages -> app -> concept packages -> db ------------------------------

CONCEPTS = (
    "ingest",
    "events",
    "pipeline",
    "scoring",
    "moments",
    "actions",
    "analytics",
    "accounts",
    "auth",
)
# Which subpackages each may import (besides itself); `db`, `config`, `present` and `demo`
# are the ground floor every concept may stand on.
GROUND = {"db", "config", "present"}
MAY_IMPORT = {
    "db": {"ingest"},  # the catalog lists the contract's tables
    "config": set(),
    "present": set(),
    "demo": set(),
    "ingest": {"db"},
    "events": {"db", "ingest"},  # the Spark engine checks rows by the contract's rules
    "moments": GROUND,
    "scoring": GROUND,
    "analytics": GROUND | {"scoring", "moments"},
    "accounts": GROUND | {"actions", "scoring"},
    "actions": GROUND | {"moments", "auth"},
    "auth": GROUND,
    "pipeline": GROUND | {"ingest", "events", "scoring", "moments", "analytics", "actions", "demo"},
    "digest": GROUND | {"scoring", "analytics", "actions", "auth"},
    "app": GROUND | set(CONCEPTS) | {"app"},
    # The command line stands on everything but the app: nothing imports it back.
    "cli": GROUND | set(CONCEPTS) | {"demo", "digest"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "health" else None


PACKAGES = sorted(p for p in (APP_DIR / "health").iterdir() if (p / "__init__.py").is_file())


@pytest.mark.parametrize("package", PACKAGES, ids=[p.name for p in PACKAGES])
def test_subpackages_import_only_downward(package):
    allowed = MAY_IMPORT[package.name] | {package.name}
    wrong = {
        f"{path.relative_to(APP_DIR)} imports {module}"
        for path in package.rglob("*.py")
        for module in _imports(path)
        if _package_of(module) not in (None, *allowed)
        or (module == "health.cli" and package.name != "cli")
    }
    assert not wrong, sorted(wrong)


def test_only_the_app_subpackage_imports_streamlit():
    offenders = [
        str(path.relative_to(APP_DIR))
        for path in (APP_DIR / "health").rglob("*.py")
        if "app" not in path.relative_to(APP_DIR / "health").parts[:1]
        and any(m == "streamlit" or m.startswith("streamlit.") for m in _imports(path))
    ]
    assert not offenders


def test_pages_use_the_app_and_concepts_never_the_database_directly():
    for path in (APP_DIR / "pages").glob("*.py"):
        text = path.read_text()
        assert "duckdb" not in text and "db.run(" not in text and "db.query(" not in text, path


@pytest.mark.parametrize("wanted", ["requirements", "requirements-spark"])
def test_the_lock_file_pins_every_requirement_at_its_version(wanted):
    # The .lock files are what check.sh and the README install: they must not fall behind.
    locked = {
        line.split("==")[0].lower(): line.split("==")[1].split()[0]
        for line in (APP_DIR / f"{wanted}.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for line in (APP_DIR / f"{wanted}.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            name = name.split("[")[0].lower()
            assert locked.get(name) == version.strip(), f"{name}: re-run uv pip compile"
