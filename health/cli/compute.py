"""Commands that compute: `refresh` (DuckDB or Spark), and the one-shot `score` and `moments`."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer

from health import db
from health.cli.common import (
    AsOfOption,
    DataOption,
    DbOption,
    MapOption,
    OutOption,
    Steps,
    StepTimer,
    app,
    fail,
    out,
    styled,
)

EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where the event layer runs: duckdb (the loaded events) or spark (--events).",
    ),
]
EventsOption = Annotated[
    str | None,
    typer.Option(
        "--events",
        help="With --engine spark: the events as a Parquet folder or glob, or a Spark table.",
    ),
]
RemoteOption = Annotated[
    str | None,
    typer.Option(
        "--spark-remote",
        help="Spark Connect URL, sc://host:port (default: $SPARK_REMOTE, else local[*]).",
    ),
]


@app.command()
def refresh(
    db_file: DbOption = None,
    as_of: AsOfOption = None,
    profile: Annotated[
        Path | None,
        typer.Option("--profile", help="Write each step's seconds to this JSON file."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Compute even when --as-of lies outside the data's dates."),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Compute every calendar week again, and score the past weeks again with the "
            "current model (by default only the weeks new data can change are).",
        ),
    ] = False,
    engine: EngineOption = "duckdb",
    events: EventsOption = None,
    spark_remote: RemoteOption = None,
) -> None:
    """Compute rollups, features, journey stages, scores, moments and actions as of a date."""
    from health.pipeline.refresh import RefreshError
    from health.pipeline.refresh import refresh as run_refresh

    start = time.perf_counter()
    layer = _event_engine(engine, events, spark_remote)
    timer = StepTimer(start)
    try:
        with Steps("refresh") as steps:
            used = run_refresh(
                db_file,
                as_of.date() if as_of else None,
                progress=lambda s: (timer(s), steps(s)),
                check_range=not force,
                engine=layer,
                full=full,
                beside=lambda run: (timer.beside(run), steps.beside(run)),
            )
    except RefreshError as exc:
        fail(str(exc))
    finally:
        if layer is not None:
            layer.close()
    if profile:
        timer.write(profile)
    if layer is not None:
        _print_spark_summary(layer)
    out.print(
        f"Refreshed {db.db_path(db_file)} as of {used} in {time.perf_counter() - start:.1f} s.",
        highlight=False,
    )


def _event_engine(engine: str, events: str | None, remote: str | None):
    """None for DuckDB (the default), else a SparkEvents on the events given."""
    if engine == "duckdb":
        if events or remote:
            fail("--events and --spark-remote go with --engine spark.")
        return None
    if engine != "spark":
        fail(f"--engine {engine}: choose duckdb or spark.")
    if not events:
        fail("--engine spark needs --events: a Parquet folder or glob, or a Spark table name.")
    try:
        from health.events.spark import SparkEvents
    except ImportError:
        fail("Spark is not installed: pip install -r requirements-spark.txt (and Java 17).")
    return SparkEvents(events, remote=remote)


def _print_spark_summary(layer) -> None:
    if layer.built is None:
        rolled = "rolled up every day"
    elif layer.as_of and layer.built > layer.as_of:
        rolled = "no day changed, none rolled up again"
    else:
        rolled = f"rolled up again from {layer.built}"
    out.print(
        f"Spark read {layer.rows_read:,} events from {layer.source}; {rolled}.", highlight=False
    )
    rejects = layer.rejects
    out.print(f"  {rejects['rows'].sum():,} events rejected", highlight=False)
    for reason, rows in rejects.head(5).iter_rows():
        out.print(f"  {rows:>9,}  {reason}", highlight=False, markup=False)


def _oneshot(
    data: Path, as_of: dt.datetime | None, out_file: Path, query: str, what: str, maps: list[str]
) -> None:
    from health.ingest.loader import LoadError
    from health.pipeline.oneshot import warehouse, write_csv
    from health.pipeline.refresh import RefreshError

    start = time.perf_counter()
    try:
        with (
            Steps(what) as steps,
            warehouse(data, as_of.date() if as_of else None, progress=steps, maps=maps) as (
                con,
                report,
            ),
        ):
            frame = db.query(con, query)
    except (LoadError, RefreshError) as exc:
        fail(str(exc))
    if report.rejected:
        styled(
            "warning:",
            "yellow",
            f"{report.rejected:,} input rows broke the contract and were left out "
            "(load the folder with `health load` to see them).",
        )
    if report.recipe:
        out.print(f"Mapped with {report.recipe}.", highlight=False)
    write_csv(frame, out_file)
    out.print(
        f"Wrote {frame.height:,} rows to {out_file} in {time.perf_counter() - start:.1f} s.",
        highlight=False,
    )


@app.command()
def score(
    data: DataOption, out_file: OutOption, as_of: AsOfOption = None, maps: MapOption = None
) -> None:
    """Score every account active at the as-of date, straight from a data folder.

    Trains on the folder's history before the as-of date. Columns: account_id, health_score
    (0-100, higher is healthier), churn_risk (probability of churn within 90 days), tier
    (healthy / watch / at_risk), stage (journey stage), drivers (the main reasons).
    """
    _oneshot(data, as_of, out_file, "q_scores", "score", maps or [])


@app.command()
def moments(
    data: DataOption, out_file: OutOption, as_of: AsOfOption = None, maps: MapOption = None
) -> None:
    """List every moment of truth detected up to the as-of date, straight from a data folder.

    Columns: account_id, moment (relationship_change / crisis / delight), kind, detected_on,
    started_on, severity (0-1), evidence.
    """
    _oneshot(data, as_of, out_file, "q_moments", "moments", maps or [])
