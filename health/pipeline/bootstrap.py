"""First run: build a database from the embedded demo data so the app works out of the box."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from health import db
from health.db import store

DEMO_FOLDER = db.ROOT / "data" / "demo-data"


def ensure_database(
    path: str | Path | None = None, progress: Callable[[str], None] | None = None
) -> bool:
    """Build the demo database at `path` if there is none; True when it built one.

    The load and the refresh go to a first-run file beside it, renamed into place only once
    both are done: a build stopped half-way (a click that reruns the page, a killed server)
    leaves no database without scores behind, and the next start builds again."""
    from health.demo import generate
    from health.ingest.loader import load
    from health.pipeline.refresh import refresh, step_label

    target = db.db_path(path)
    if target.is_file():
        return False
    say = progress or (lambda _step: None)
    if not (DEMO_FOLDER / "accounts.csv").exists():
        say("Generating the demo company's data")
        generate(DEMO_FOLDER, profile="demo")
    staging = target.with_name(f"{target.stem}.first-run-{os.getpid()}{target.suffix}")
    try:
        say("Loading the demo data")
        load(DEMO_FOLDER, staging)
        say("Computing rollups, scores and moments")
        refresh(staging, progress=lambda step: say(step_label(step)))
        # The events store first: the database's arrival is what says the build is done.
        os.replace(store.path_for(staging), store.path_for(target))
        os.replace(staging, target)
    finally:
        events = store.path_for(staging)
        for leftover in (staging, staging.with_name(staging.name + ".lock"), events):
            leftover.unlink(missing_ok=True)
        events.with_name(events.name + ".wal").unlink(missing_ok=True)
    return True
