"""Commands that bring data in: `demo`, `load`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from health import db
from health.cli.common import (
    DbOption,
    MapOption,
    Steps,
    app,
    fail,
    out,
    styled,
)


@app.command()
def demo(
    folder: Annotated[Path, typer.Argument(help="Where to write the demo data folder.")] = Path(
        "demo-data"
    ),
    profile: Annotated[
        str,
        typer.Option(help="Which company to simulate: demo, holdout or field (other dynamics)."),
    ] = "demo",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    accounts: Annotated[
        int | None, typer.Option(help="Number of accounts (default: the profile's).")
    ] = None,
) -> None:
    """Write a realistic demo data folder in the contract's shape, with its truth beside it."""
    from health.demo import PROFILES, generate

    if profile not in PROFILES:
        fail(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}.")
    start = time.perf_counter()
    with Steps("demo") as steps:
        truth = generate(folder, profile=profile, seed=seed, n_accounts=accounts, progress=steps)
    out.print(
        f"Wrote {folder} (truth in {truth}) in {time.perf_counter() - start:.1f} s.",
        highlight=False,
    )


@app.command()
def load(
    folder: Annotated[Path, typer.Argument(help="The data folder: accounts.csv, events.parquet…")],
    db_file: DbOption = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Drop everything loaded before instead of merging."),
    ] = False,
    maps: MapOption = None,
) -> None:
    """Validate a data folder and load it into the database (all or nothing).

    Rows that break the contract are not loaded: they are counted, a few are shown, and all are
    kept in the `rejects` table (the app's Data page shows them). Loading the same folder twice
    changes nothing. Exit code 2 when a file cannot be loaded at all.
    """
    from health.ingest.loader import LoadError
    from health.ingest.loader import load as load_folder

    start = time.perf_counter()
    try:
        with Steps("load") as steps:
            report = load_folder(folder, db_file, replace=replace, progress=steps, maps=maps or ())
    except LoadError as exc:
        fail(f"{exc}\nNothing was loaded; the database is unchanged.")
    if report.recipe:
        out.print(f"Mapped with {report.recipe}:", highlight=False)
        for line in report.mapped:
            out.print(f"  {line}", highlight=False)
    for warning in report.warnings:
        styled("warning:", "yellow", warning)
    for t in report.tables:
        out.print(
            f"{t.file:>22}: {t.rows_read:>10,} rows read, {t.rows_loaded:>10,} loaded, "
            f"{t.rows_rejected:>7,} rejected",
            highlight=False,
        )
        if t.rows_skipped:
            where = "in days" if t.table == "events" else "in the file the last load merged,"
            out.print(
                f"  {t.rows_skipped:,} of them {where} already loaded as they are: not checked "
                "again",
                highlight=False,
            )
        for warning in t.warnings:
            styled("warning:", "yellow", warning, indent="  ")
        for example in t.examples:
            styled("rejected", "red", str(example), indent="  ")
        if t.rows_rejected > len(t.examples):
            out.print(f"  … and {t.rows_rejected - len(t.examples):,} more", highlight=False)
    out.print(
        f"Loaded into {db.db_path(db_file)} in {time.perf_counter() - start:.1f} s"
        + (
            f"; {report.rejected:,} rows rejected (see the rejects table)."
            if report.rejected
            else "."
        )
        + " Next: python -m health refresh",
        highlight=False,
    )
