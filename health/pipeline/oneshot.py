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
from health.moments.detect import INPUTS, READS, detect_moments, load_inputs
from health.pipeline.refresh import default_as_of, refresh, run_steps, steps_through
from health.present.export import neutralise


@contextlib.contextmanager
def warehouse(
    data: str | Path,
    as_of: dt.date | None,
    progress: Callable[[str], None] | None = None,
    maps: list[str] | tuple = (),
) -> Iterator:
    """A read-only connection to a temporary database built from `data` as of a date.

    `maps`: mapping files or recipe names that turn the folder's exports into the contract.
    """
    with tempfile.TemporaryDirectory(prefix="health-") as tmp:
        path = Path(tmp) / "oneshot.duckdb"
        report = load(data, path, progress=progress, maps=maps)
        # A one-shot score may be asked for any day (today, after the last export): it
        # replaces nothing, so the date is the caller's choice (no range check).
        refresh(path, as_of, progress=progress)
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


def detect_folder(
    data: str | Path, as_of: dt.date | None = None, params: dict[str, dict] | None = None
) -> pl.DataFrame:
    """Load a data folder into a throwaway database and detect its moments (backtests, tests).

    Runs only the refresh steps the moments read, so a backtest does not train the model.
    """
    with tempfile.TemporaryDirectory(prefix="health-moments-") as tmp:
        path = Path(tmp) / "moments.duckdb"
        load(data, path)
        con = db.connect(path, read_only=False)
        try:
            as_of = as_of or default_as_of(con)
            run_steps(con, as_of, steps_through(READS) + INPUTS)
            return detect_moments(load_inputs(con), as_of, params)
        finally:
            con.close()
