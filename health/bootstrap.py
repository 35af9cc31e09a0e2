"""First run: build a database from the embedded demo data so the app works out of the box."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from health import db

DEMO_FOLDER = db.ROOT / "data" / "demo-data"


def ensure_database(
    path: str | Path | None = None, progress: Callable[[str], None] | None = None
) -> bool:
    """Build the demo database at `path` if there is none; True when it built one."""
    from health.demo import generate
    from health.ingest import load
    from health.refresh import refresh

    if db.exists(path):
        return False
    say = progress or (lambda _step: None)
    if not (DEMO_FOLDER / "accounts.csv").exists():
        say("Generating the demo company's data")
        generate(DEMO_FOLDER, profile="demo")
    say("Loading the demo data")
    load(DEMO_FOLDER, path)
    say("Computing rollups, scores and moments")
    refresh(path, progress=lambda step: say(f"Computing {step}"))
    return True
