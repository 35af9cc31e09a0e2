"""The refresh pipeline: everything derived from the loaded data, as of one date."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from health import db, events
from health.db.store import StoreError
from health.pipeline import incremental

# Build order, dbt-style layers: staging (views) -> intermediate -> marts. A name is a SQL file
# in health/db/sql; "module:function" is a Python step called as function(con, as_of), for work
# SQL does badly (model training, change-point detection). Explicit order, no DAG parser.
STEPS: list[str] = [
    "stg_accounts",
    "stg_users",
    "stg_subscriptions",
    "stg_tickets",
    "stg_surveys",
    "stg_touchpoints",
    "pipeline.refresh:define_macros",
    # The event layer first: it finds the first changed day, from which the weekly tables
    # (int_weeks too) compute their weeks again.
    "events",
    "int_weeks",
    "int_feature_weeks",
    "int_adoption_accounts",
    "int_adoption_features",
    "int_account_weeks",
    "int_kpi_revenue_periods",
    "mart_account_overview",
    "int_account_rolling_users",
    "int_core_features",
    "int_account_feature_breadth",
    "int_account_event_breadth",
    "int_account_contract_weeks",
    "int_account_support_weeks",
    "int_account_people_weeks",
    "mart_account_features",
    "scoring.step:refresh_model",
    "scoring.step:refresh_scores",
    "analytics.journey:refresh_milestones",
    "analytics.journey:refresh_stage",
    "moments.detect:refresh_moments",
    "actions.suggest:refresh_actions",
]

# Steps that run beside the others, in a thread of their own on a cursor of their own: each
# starts as soon as the step named here is built and is waited for at its own place in STEPS,
# so what comes after it in STEPS may read what it writes and what comes before may not. The
# moments read only staging, params, meta, the daily tables of `events` and int_account_weeks
# (health/moments/detect.py READS and load_inputs, health/db/sql/int/int_moment_*.sql), write
# only their own tables (int_moment_*, moments, moment_memo, their meta keys), and only the
# actions read them; their detection is mostly one core of Python, so the weekly tables,
# features, model and scores use the other core meanwhile. In STEPS order, one after another,
# the result is the same.
BESIDE: dict[str, str] = {"moments.detect:refresh_moments": "int_account_weeks"}

# A step runs beside only while the account-weeks (int_account_weeks' rows, the size of the
# model's and the scores' frames, built before the moments start) are at most this many; past
# it, in order. Beside, the moments' frames come on top of the model's. Peak of a full refresh
# beside: 1.47 GB at 4,000 accounts (193,000 account-weeks; 1.34 in order), 2.37 GB at 10,000
# (482,000), 4.89 GB at 30,000 (1.45M; 3.65 in order), over issue 18's 4 GB: about 2.6 GB more
# per million account-weeks, so 4 GB near 1.1M; this limit keeps a margin. Beside saves ~17 %
# of the wall on 2 cores (4,000 accounts: full 36.5 -> 30.3 s, after one day 9.7 -> 8.0 s,
# paired medians); the tables are the same.
BESIDE_MAX_ACCOUNT_WEEKS = 800_000


# What each step does, for the progress shown to people (the CLI prints the step names).
STEP_LABELS = {
    "stg_accounts": "Reading accounts",
    "stg_users": "Reading users",
    "stg_subscriptions": "Reading subscriptions",
    "stg_tickets": "Reading support tickets",
    "stg_surveys": "Reading survey answers",
    "stg_touchpoints": "Reading CSM touchpoints",
    "define_macros": "Preparing shared calculations",
    "int_weeks": "Laying out the weeks",
    "events": "Adding up product events day by day",
    "int_feature_weeks": "Adding up weekly feature use",
    "int_adoption_accounts": "Counting each account's users in the last 28 days",
    "int_adoption_features": "Counting each feature's users in the last 28 days",
    "int_account_weeks": "Adding up weekly activity per account",
    "int_kpi_revenue_periods": "Computing revenue per month",
    "mart_account_overview": "Summarising each account",
    "int_account_rolling_users": "Counting active users over time",
    "int_core_features": "Finding the core features",
    "int_account_feature_breadth": "Measuring feature breadth",
    "int_account_event_breadth": "Measuring event breadth",
    "int_account_contract_weeks": "Following contracts week by week",
    "int_account_support_weeks": "Following support week by week",
    "int_account_people_weeks": "Following people and champions week by week",
    "mart_account_features": "Assembling health signals",
    "refresh_model": "Training the churn model (weekly)",
    "refresh_scores": "Scoring churn risk and health",
    "refresh_moments": "Detecting moments of truth",
    "refresh_milestones": "Mapping journey milestones",
    "refresh_stage": "Placing accounts on the journey",
    "refresh_actions": "Suggesting actions",
    "publish": "Publishing the new data",
}


def step_label(step: str) -> str:
    """A progress step (as passed to `progress`) in words, e.g. define_macros → Preparing…."""
    return STEP_LABELS.get(step) or step.replace("_", " ").capitalize()


def steps_through(last: str) -> list[str]:
    """The build order up to and including `last`, for partial pipelines (tests, backtests)."""
    return STEPS[: STEPS.index(last) + 1]


# The event layer (health/events) is one step, "events": the only reader of the events, it
# builds the daily tables with the engine given (DuckDB by default) from the first changed day.
DAILY = events.DAILY


def run_steps(
    con,
    as_of: dt.date,
    steps: list[str],
    progress: Callable[[str], None] | None = None,
    engine=None,
    manifest=None,
    full: bool = False,
    concurrent: bool = True,
    beside: Callable[[Beside], None] | None = None,
) -> None:
    """Set the as-of date and build the given steps on an open, writable connection.

    The weekly tables are computed again only from the first calendar week the new data can
    change (params.rebuild_from; see health/pipeline/incremental.py), unless `full`. The steps
    of BESIDE run in a thread of their own (unless not `concurrent`: then all in order, one
    after another, which builds the same tables); `progress` hears of each step in order, the
    main thread's, and `beside` of such a step when it starts and when it has been waited for.
    A step that fails fails the whole, once any step still running beside has stopped."""
    con.execute(
        "CREATE OR REPLACE TABLE params AS "
        "SELECT ?::DATE AS as_of, ?::DATE AS rebuild_from, ?::DATE AS changed_from",
        [as_of, incremental.FULL, incremental.FULL],
    )
    since = incremental.FULL
    incremental.forget(con)  # what a run that failed on this connection may have left
    # a step runs beside only when the step it waits for comes before it here
    later = {s: a for s, a in BESIDE.items() if s in steps and a in steps[: steps.index(s)]}
    waiting = later if concurrent else {}
    running: dict[str, Beside] = {}
    # Held by each statement of a step beside, and by the memory release (db.release_memory
    # lowers DuckDB's limit, shared by every cursor, for a moment).
    quiet = threading.RLock()
    try:
        for step in steps:
            _raise_failed(running)
            if progress:
                progress(step.split(":")[-1])
            if step in running:
                run = running.pop(step)
                run.join()
                if beside:
                    beside(run)
                continue
            if ":" in step:
                # A Python step's frames come on top of what DuckDB keeps cached: free that first
                # (at 10,000 accounts it held 1.1 GB when the model step started). While a step
                # runs beside, between two of its statements: the low limit would fail one.
                with quiet:
                    db.release_memory(con)
                _call(con, step, as_of)
            elif step == "events":
                changed = events.refresh_events(con, as_of, engine, manifest)
                if not full:
                    since, first = incremental.changes(con, as_of, changed)
                    con.execute(
                        "UPDATE params SET rebuild_from = ?, changed_from = ?", [since, first]
                    )
            elif step in incremental.WEEKLY:
                incremental.build_weekly(con, step, since)
            else:
                db.build(con, [step])
            for ready in [s for s, after in waiting.items() if after == step]:
                del waiting[ready]
                if not room_beside(con):
                    continue  # it runs in order, at its place
                with quiet:
                    db.release_memory(con)  # as before any Python step
                running[ready] = Beside(con, ready, as_of, step, quiet)
                if beside:
                    beside(running[ready])
    except BaseException:
        for run in running.values():
            run.stop()
        raise
    if set(incremental.WEEKLY) <= set(steps):
        incremental.remember(con, as_of)


def room_beside(con) -> bool:
    """Whether a step may run beside the others: the account-weeks are few enough that its
    frames and the model's fit together (BESIDE_MAX_ACCOUNT_WEEKS)."""
    rows = con.execute("SELECT count(*) FROM int_account_weeks").fetchone()[0]
    return rows <= BESIDE_MAX_ACCOUNT_WEEKS


def _call(con, step: str, as_of: dt.date) -> None:
    """A Python step, "module:function" under health, called as function(con, as_of)."""
    module, function = step.split(":")
    getattr(importlib.import_module(f"health.{module}"), function)(con, as_of)


def _raise_failed(running: dict[str, Beside]) -> None:
    """A step beside that has failed fails the refresh now, not when its turn comes."""
    for step, run in list(running.items()):
        if run.failed():
            del running[step]
            run.join()


class Beside:
    """A Python step running in a thread of its own, on a cursor of its own (see BESIDE).

    `wall` and `cpu` are its own seconds once done: its thread's CPU, the part DuckDB's worker
    threads did for its queries not included (they work for both threads' queries)."""

    def __init__(self, con, step: str, as_of: dt.date, after: str, quiet: threading.RLock):
        self.step, self.name, self.after = step, step.split(":")[-1], after
        self.done = False
        self.wall = self.cpu = 0.0
        self._error: BaseException | None = None
        self._cursor = db.cursor(con)
        self._locked = _Locked(self._cursor, quiet)
        self._thread = threading.Thread(
            target=self._run, args=(as_of,), name=f"refresh-{self.name}", daemon=True
        )
        self._thread.start()

    def _run(self, as_of: dt.date) -> None:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            _call(self._locked, self.step, as_of)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, raised there
            self._error = exc
        finally:
            self.wall, self.cpu = time.perf_counter() - start, time.thread_time() - cpu

    def failed(self) -> bool:
        """Whether it has ended with an error."""
        return not self._thread.is_alive() and self._error is not None

    def join(self) -> None:
        """Wait for it to end; raise its error, if any."""
        self._thread.join()
        self._cursor.close()
        self.done = True
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """When the refresh fails elsewhere: cut its running query short and wait for it to end
        (nothing is published then, and the connection is closed only once it is no longer
        used)."""
        with contextlib.suppress(Exception):
            self._cursor.interrupt()
        self._thread.join()
        with contextlib.suppress(Exception):
            self._cursor.close()


def define_macros(con, as_of: dt.date) -> None:
    """Refresh step: the SQL macros later steps and the app's queries use (after staging)."""
    con.execute(db.sql("macros"))


class RefreshError(Exception):
    """The database can't be refreshed as asked; the message says why and what to do."""


def default_as_of(con, manifest=None) -> dt.date:
    """The latest day with an event (from the events' manifest): the default as-of date."""
    day = events.latest_day(events.DuckDBEvents().manifest(con) if manifest is None else manifest)
    if day is None:
        raise RefreshError("No events are loaded. Run `python -m health load DIR` first.")
    return day


def data_range(con, manifest=None) -> tuple[dt.date | None, dt.date | None]:
    """The first day of the data (the earliest signup or event) and the latest event's day."""
    manifest = events.DuckDBEvents().manifest(con) if manifest is None else manifest
    first_event = manifest["day"].min() if manifest.height else None
    last_event = events.latest_day(manifest)
    signups = con.execute("SELECT min(signup_date) FROM accounts").fetchall()[0][0]
    first = min((d for d in (first_event, signups) if d is not None), default=None)
    return first, last_event


def check_as_of(con, as_of: dt.date, manifest=None) -> None:
    """Refuse an as-of date outside the data: before it, nothing is active; after the latest
    event, every account looks silent. Either would replace good results with empty ones."""
    first, last = data_range(con, manifest)
    if first is None or last is None:
        return
    if not first <= as_of <= last:
        raise RefreshError(
            f"As-of date {as_of} is outside the data, which runs from {first} (the earliest "
            f"signup or event) to {last} (the latest event). Choose a date in that range (on the "
            "command line, --force computes as of it anyway). Nothing was changed."
        )


def refresh(
    path: str | Path | None = None,
    as_of: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
    check_range: bool = False,
    engine=None,
    full: bool = False,
    concurrent: bool = True,
    beside: Callable[[Beside], None] | None = None,
) -> dt.date:
    """Rebuild every derived table as of a date (default: the latest event) and publish it.

    `check_range`: refuse (RefreshError) an as-of date outside the data, as the CLI and the
    app do unless told otherwise; tests and backtests pick any date on purpose. `engine` runs
    the event layer (health/events): DuckDB on the loaded events by default, or a SparkEvents
    reading the events where they are. `full`: compute every week again (by default only the
    weeks new data can change are, and the earlier ones are kept). `concurrent`, `beside`: the
    steps of BESIDE in a thread of their own, and what to tell of them (see run_steps).
    """
    if not db.exists(path):
        raise RefreshError(
            f"{db.db_path(path)}: no database yet. Run `python -m health load DIR` first."
        )
    with _writing(path) as con:
        if not db.table_exists(con, "accounts"):
            raise RefreshError("No data is loaded. Run `python -m health load DIR` first.")
        engine = engine or events.DuckDBEvents()
        try:
            manifest = engine.manifest(con)
        except events.EventsError as exc:
            raise RefreshError(str(exc)) from None
        if as_of is not None and check_range:
            check_as_of(con, as_of, manifest)
        as_of = as_of or default_as_of(con, manifest)
        _import_ahead(STEPS)
        run_steps(con, as_of, STEPS, progress, engine, manifest, full, concurrent, beside)
        if progress:
            progress("publish")  # the checkpoint and the atomic swap
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES "
            "('as_of', ?), ('refreshed_at', strftime(now(), '%Y-%m-%d %H:%M:%S'))",
            [as_of.isoformat()],
        )
    return as_of


def _import_ahead(steps: list[str]) -> None:
    """Import the Python steps' modules in a background thread while the SQL steps run.

    The model's step imports scikit-learn (with SciPy and pandas): about a second of Python
    that a refresh after one day, a few seconds in all, would otherwise wait for. The SQL steps
    leave the GIL and part of the cores free meanwhile. A module that fails to import here
    fails again, with its error, when its step imports it."""
    modules = [f"health.{step.split(':')[0]}" for step in steps if ":" in step]
    missing = [name for name in dict.fromkeys(modules) if name not in sys.modules]
    if not missing:
        return

    def run() -> None:
        for name in missing:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    threading.Thread(target=run, name="refresh-imports", daemon=True).start()


@contextlib.contextmanager
def _writing(path):
    """db.writing, with a missing events store said as a RefreshError."""
    try:
        with db.writing(path) as con:
            yield con
    except StoreError as exc:
        raise RefreshError(str(exc)) from None


class _Locked:
    """A cursor (or a relation of one) each of whose calls holds `lock`: a step beside runs
    its statements on it, so the main thread's memory release comes between two of them.
    A call that returns the cursor (execute) or a relation (sql) returns it locked in turn,
    so what is fetched from it is too."""

    def __init__(self, target, lock: threading.RLock):
        self._target, self._lock = target, lock

    def __getattr__(self, name: str):
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def locked(*args, **kwargs):
            with self._lock:
                result = attr(*args, **kwargs)
            if result is self._target:
                return self
            if isinstance(result, duckdb.DuckDBPyRelation):
                return _Locked(result, self._lock)
            return result

        return locked
