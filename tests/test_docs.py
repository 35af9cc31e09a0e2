"""Docs that cannot fall behind: every page and every CLI command is described in the README."""

from __future__ import annotations

import pytest

from health.cli import app
from pages import PAGES
from tests.conftest import APP_DIR

README = (APP_DIR / "README.md").read_text()
COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)


@pytest.mark.parametrize("spec", PAGES, ids=[p.title for p in PAGES])
def test_every_page_is_in_the_readme(spec):
    assert f"| {spec.title} |" in README


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command):
    assert f"`python -m health {command}" in README


def test_readme_starts_with_the_two_commands():
    run, test = README.index("## Run it"), README.index("## Test it")
    assert "streamlit run app.py" in README[run:test]
    assert "bash scripts/check.sh" in README[test : test + 300]
    assert "scripts/check.sh" in (APP_DIR / ".ci" / "run").read_text()
