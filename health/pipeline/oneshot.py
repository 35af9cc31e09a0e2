"""One shot from a data folder to results: load into a throwaway database, refresh, read."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from health import db
from health.ingest.loader import load
from health.pipeline.refresh import refresh
from health.present.export import neutralise


@contextlib.contextmanager
def warehouse(
    data: str | Path, as_of: dt.date | None, progress: Callable[[str], None] | None = None
) -> Iterator:
    """A read-only connection to a temporary database built from `data` as of a date."""
    with tempfile.TemporaryDirectory(prefix="health-") as tmp:
        path = Path(tmp) / "oneshot.duckdb"
        report = load(data, path, progress=progress)
        # A one-shot score may be asked for any day (today, after the last export): it
        # replaces nothing, so a date after the data is the caller's choice.
        refresh(path, as_of, progress=progress, force=True)
        con = db.connect(path, read_only=True)
        try:
            yield con, report
        finally:
            con.close()


def write_csv(frame: pl.DataFrame, out: str | Path) -> Path:
    """Write a result file atomically (a reader never sees half a file), its text cells safe to
    open in a spreadsheet: a cell that would run as a formula is prefixed with a quote."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    neutralise(frame).write_csv(tmp)
    tmp.replace(out)
    return out
