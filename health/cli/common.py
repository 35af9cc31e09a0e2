"""What every command shares: the Typer app, the console, the options, progress, errors."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

app = typer.Typer(
    help="Customer-success health: load product and CS data, score accounts, find moments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
# Markup off: file names, headers and cells are data, and `[/x]` in one must print as written
# (read as markup it raised MarkupError after a load had been committed). Styled words go
# through `styled`, which never parses its text.
out = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


def styled(label: str, style: str, text: str, indent: str = "") -> None:
    """Print `label` in `style`, then `text` exactly as written."""
    out.print(Text.assemble(indent, (label, style), " ", text))


DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="DuckDB file (default: $HEALTH_DB, else data/health.duckdb).",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Compute as of this date (YYYY-MM-DD); later data is ignored. Default: latest event.",
        show_default=False,
    ),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="A mapping file, or a shipped recipe's name (segment, mixpanel, amplitude, stripe, "
        "hubspot, zendesk, salesforce), turning the folder's exports into the contract's tables. "
        "Repeat it to combine recipes. Default: mapping.toml in the folder, if there is one.",
        show_default=False,
    ),
]

DataOption = Annotated[
    Path, typer.Option("--data", help="The data folder to score (the input contract's shape).")
]
OutOption = Annotated[Path, typer.Option("--out", help="The CSV file to write.")]


class Steps:
    """A progress display: one spinner line per step, with elapsed time."""

    def __init__(self, title: str):
        self.title = title
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=out,
        )
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task(self.title, total=None)
        return self

    def __call__(self, step: str) -> None:
        self.progress.update(self.task, description=f"{self.title}: {step}")
        self.progress.console.print(f"  {self.title}: {step}", highlight=False)

    def beside(self, run) -> None:
        """A step running beside the others (health/pipeline/refresh.py BESIDE): a line when it
        starts; when it has been waited for (its own line came in order), its own seconds."""
        if run.done:
            line = f"  {self.title}: {run.name} done ({run.wall:.1f} s beside the steps above)"
        else:
            line = f"  {self.title}: {run.name} started (runs beside the next steps)"
        self.progress.console.print(line, highlight=False)

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


class StepTimer:
    """Seconds per progress step: each step lasts until the next one starts. Wall clock in
    `steps`, and the process's CPU seconds (every thread) in `cpu`: a step whose CPU is near
    twice its wall used both cores, one near its wall used one. A step that runs beside the
    others has its own wall and CPU (its thread's) in `beside`, and the step it started after;
    its entry in `steps` is then the wait for it, and the steps it overlapped count its CPU."""

    def __init__(self, start: float):
        self.start = start
        self.marks = [("open and copy", start, time.process_time())]
        self.overlapped: dict[str, dict] = {}

    def __call__(self, step: str) -> None:
        self.marks.append((step, time.perf_counter(), time.process_time()))

    def beside(self, run) -> None:
        """A step beside the others, when it has been waited for (see Steps.beside)."""
        if run.done:
            self.overlapped[run.name] = {
                "after": run.after.split(":")[-1],
                "wall": round(run.wall, 3),
                "cpu": round(run.cpu, 3),
            }

    def write(self, path: Path) -> None:
        import json

        now = (time.perf_counter(), time.process_time())
        ends = [(t, c) for _, t, c in self.marks[1:]] + [now]
        pairs = list(zip(self.marks, ends, strict=True))
        steps = {name: round(end[0] - t, 3) for (name, t, _), end in pairs}
        cpu = {name: round(end[1] - c, 3) for (name, _, c), end in pairs}
        total = round(now[0] - self.start, 3)
        report = {"total": total, "steps": steps, "cpu": cpu, "beside": self.overlapped}
        path.write_text(json.dumps(report, indent=1))


def fail(message: str, code: int = 2) -> None:
    """Print an error the way a person can act on it, and exit non-zero."""
    styled("error:", "bold red", message)
    raise typer.Exit(code)
