"""The command line: `python -m health demo | load | refresh | score | digest | users …`."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from health import db

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

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


class StepTimer:
    """Seconds per progress step: each step lasts until the next one starts."""

    def __init__(self, start: float):
        self.start, self.marks = start, [("open and copy", start)]

    def __call__(self, step: str) -> None:
        self.marks.append((step, time.perf_counter()))

    def write(self, path: Path) -> None:
        import json

        ends = [t for _, t in self.marks[1:]] + [time.perf_counter()]
        steps = {name: round(end - t, 3) for (name, t), end in zip(self.marks, ends, strict=True)}
        total = round(ends[-1] - self.start, 3)
        path.write_text(json.dumps({"total": total, "steps": steps}, indent=1))


def fail(message: str, code: int = 2) -> None:
    """Print an error the way a person can act on it, and exit non-zero."""
    styled("error:", "bold red", message)
    raise typer.Exit(code)


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
            out.print(
                f"  {t.rows_skipped:,} of them in days already loaded as they are: not checked "
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


DataOption = Annotated[
    Path, typer.Option("--data", help="The data folder to score (the input contract's shape).")
]
OutOption = Annotated[Path, typer.Option("--out", help="The CSV file to write.")]


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


@app.command()
def actions(
    out_file: OutOption,
    db_file: DbOption = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only this CSM's list (accounts.csm_owner).")
    ] = None,
) -> None:
    """Write today's suggested actions (as of the last refresh), highest priority first.

    Open actions within each CSM's daily budget, with statuses from the action log. Columns:
    action_id, account_id, account, owner, rank_for_owner, dollars_at_stake, due_on, title,
    reason, evidence, questions_or_recognition, email_subject.
    """
    from health.actions import log as action_log
    from health.actions import suggest as acts
    from health.pipeline.oneshot import write_csv

    if not db.exists(db_file):
        fail(f"{db.db_path(db_file)}: no database yet. Run `python -m health load DIR` first.")
    con = db.connect(db_file, read_only=True)
    try:
        if not db.table_exists(con, "mart_actions"):
            fail("no actions yet: run `python -m health refresh` first.")
        known = acts.owners(con)
        if owner is not None and owner not in known:
            fail(f"no account is owned by {owner!r} (--owner); owners: {', '.join(known)}.")
        today = acts.todays_actions(con, action_log.log_path(db_file), owner)
        as_of = con.execute("select as_of from params").fetchall()[0][0]
    finally:
        con.close()
    write_csv(today.select(acts.LIST_COLUMNS), out_file)
    who = f" for {owner}" if owner else ""
    out.print(
        f"Wrote {today.height:,} open actions{who} as of {as_of} to {out_file}.", highlight=False
    )


@app.command()
def digest(
    db_file: DbOption = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only this CSM's digest (accounts.csm_owner).")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the .eml files (default: digests/ beside the db)."),
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Also send them over SMTP (STARTTLS; [smtp] settings).")
    ] = False,
) -> None:
    """Write each CSM's daily digest and the leaders' weekly one as .eml files; --send mails them.

    A CSM's digest: actions due, renewals within 30 days, accounts that changed tier and new
    moments since their last digest, each linking to the account's page, within a budget. The
    leaders' digest (weekly): ARR at risk and its change, renewals, the largest disagreements.
    """
    from rich.markup import escape

    from health.digest.run import make
    from health.digest.settings import DigestError

    if not db.exists(db_file):
        fail(f"{db.db_path(db_file)}: no database yet. Run `python -m health load DIR` first.")
    database = db.db_path(db_file)
    folder = out_dir or database.parent / "digests"
    try:
        made, notes = make(database, folder, owner, send)
    except DigestError as exc:
        fail(escape(str(exc)))  # messages name TOML sections like [smtp]: not rich markup
    for note in notes:
        out.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    for m in made:
        sent = f", sent to {m.to}" if m.sent else ""
        out.print(escape(f"  wrote {m.path}{sent}"), highlight=False)
    out.print(f"Made {len(made)} digest(s) in {folder}.", highlight=False)


users_app = typer.Typer(
    help="Who may sign in to the app, and with which role (data/users.toml or $HEALTH_USERS).",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="The name to sign in with.")],
    role: Annotated[str, typer.Option(help="csm, pm, leader or admin.")],
    name: Annotated[str, typer.Option(help="The person's full name.")] = "",
    csm_name: Annotated[
        str, typer.Option(help="For a CSM: their name in accounts.csm_owner (default: --name).")
    ] = "",
    email: Annotated[str, typer.Option(help="Email; single sign-on matches people by it.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Single sign-on only (needs --email).")
    ] = False,
) -> None:
    """Add a user (or replace the one with that username); asks for the password twice."""
    from health import auth

    password_hash = ""
    if not no_password:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        if len(password) < 8:
            fail("the password is shorter than 8 characters; choose a longer one.")
        password_hash = auth.hash_password(password)
    user = auth.User(username.strip(), name, role, csm_name, email, password_hash)
    try:
        saved = auth.add_user(user)
    except auth.UsersError as exc:
        fail(str(exc))
    book = f", book {saved.csm_name!r}" if saved.role == "csm" else ""
    out.print(f"Saved {saved.username} ({saved.role}{book}) in {auth.users_path()}.")


@users_app.command("list")
def users_list() -> None:
    """List the users: username, name, role, CSM book, email, how they sign in."""
    from rich.table import Table

    from health import auth

    try:
        users = auth.load_users()
    except auth.UsersError as exc:
        fail(str(exc))
    if not users:
        out.print(f"No users in {auth.users_path()}: the app runs in single-user mode.")
        return
    table = Table("username", "name", "role", "CSM book", "email", "sign-in")
    for u in users:
        signs_in = "password" if u.password_hash else "single sign-on"
        table.add_row(u.username, u.name, u.role, u.csm_name, u.email, signs_in)
    Console(soft_wrap=True, markup=False, highlight=False).print(table)


@users_app.command("remove")
def users_remove(username: Annotated[str, typer.Argument(help="The user to remove.")]) -> None:
    """Remove a user; their open sessions end at their next click."""
    from health import auth

    try:
        auth.remove_user(username)
    except auth.UsersError as exc:
        fail(str(exc))
    out.print(f"Removed {username} from {auth.users_path()}.")


def main() -> None:
    """Run the CLI; unexpected errors are reported in one line, not a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        out.print("interrupted; nothing was changed.")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a person sees a sentence
        where = _log_traceback(exc)
        told = f" (full report in {where}; please attach it when you report this)" if where else ""
        styled("error:", "bold red", f"{type(exc).__name__}: {exc}{told}")
        sys.exit(1)


def _log_traceback(exc: BaseException) -> Path | None:
    """Append the traceback to logs/health-errors.log beside the database; its path, or None."""
    import traceback

    try:
        path = db.db_path(_db_argument()).parent / "logs" / "health-errors.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {stamp}: health {' '.join(sys.argv[1:])}\n")
            log.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:  # nowhere to write: the one-line error still stands
        return None


def _db_argument() -> Path | None:
    """The --db the command was given, if any."""
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == "--db" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--db="):
            return Path(arg.split("=", 1)[1])
    return None
