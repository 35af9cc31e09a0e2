"""Shared fixtures: one small demo warehouse per session, built through the real commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from health.demo import generate
from health.ingest.loader import load
from health.pipeline.refresh import refresh

APP_DIR = Path(__file__).resolve().parent.parent
SMALL_DEMO = 150  # accounts: enough for every planted kind, small enough to build in seconds


@pytest.fixture(scope="session", autouse=True)
def no_local_users(tmp_path_factory):
    """Tests run in single-user mode unless they set up users: a developer's own
    data/users.toml must not change what they see."""
    import os

    os.environ["HEALTH_USERS"] = str(tmp_path_factory.mktemp("users") / "users.toml")


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> Path:
    """A small demo data folder (its truth beside it)."""
    folder = tmp_path_factory.mktemp("demo") / "demo-data"
    generate(folder, profile="demo", n_accounts=SMALL_DEMO)
    return folder


@pytest.fixture(scope="session")
def warehouse(demo_folder, tmp_path_factory) -> Path:
    """The small demo loaded and refreshed into a database file."""
    path = tmp_path_factory.mktemp("db") / "health.duckdb"
    load(demo_folder, path)
    refresh(path)
    return path


@pytest.fixture
def app_db(warehouse, monkeypatch) -> Path:
    """Point the app at the session's warehouse."""
    monkeypatch.setenv("HEALTH_DB", str(warehouse))
    return warehouse


def as_displayed(markdown: str) -> str:
    """Markdown source as a person reads it: customer text in it is escaped (app/text.py)."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.fixture(scope="session")
def hostile(tmp_path_factory) -> tuple[Path, str]:
    """A small demo with one hostile account planted (tests/hostile.py), loaded and refreshed;
    returns the database and that account's id. 40 accounts: 14 s to build, not 35."""
    from tests.hostile import build

    tmp = tmp_path_factory.mktemp("hostile")
    generate(tmp / "demo", profile="demo", n_accounts=40)
    folder, account_id = build(tmp / "demo", tmp)
    path = tmp / "health.duckdb"
    load(folder, path)
    refresh(path)
    return path, account_id
