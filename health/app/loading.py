"""Load and recompute from the app, with progress; the old data serves until the new is out.

A load and the refresh after it run as one job in a thread of the server, not of the page's
script run: leaving the page, closing the tab or clicking elsewhere does not stop it. The job's
progress and outcome stay in the server process (one job at a time), and the Data page shows
them on every visit. The database swap is atomic as ever (health/db/door.py), so pages serve
the old results until the new ones are published.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from health import db
from health.app.connection import clear_caches
from health.app.text import md

log = logging.getLogger("health.app")


@dataclass
class Job:
    """One load-and-refresh: what it has done so far, and how it ended."""

    started: dt.datetime
    database: str  # the database it loads into: the page shows only that database's job
    lines: list[str] = field(default_factory=list)  # progress, as plain text
    report: list[str] = field(default_factory=list)  # what was loaded, as Markdown
    warnings: list[str] = field(default_factory=list)
    state: str = "running"  # running, done or failed
    error: str = ""
    finished: dt.datetime | None = None

    def when(self) -> str:
        end = f", finished {self.finished:%H:%M:%S}" if self.finished else ""
        return f"started {self.started:%Y-%m-%d %H:%M:%S}{end}"


class Jobs:
    """The server process's load job (the latest one), guarded by a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current: Job | None = None
        self.thread: threading.Thread | None = None


@st.cache_resource(show_spinner=False)
def jobs() -> Jobs:
    """The one job holder of this server process."""
    return Jobs()


def load_and_refresh(folder: str, uploads: list, replace: bool) -> None:
    """Start loading a folder (or uploaded files) through the same validation as the CLI, then
    refreshing, as a job that finishes whether or not the user stays on the page."""
    from health.ingest.loader import LoadError, save_uploads

    if not folder.strip() and not uploads:
        st.warning("Give a folder path or upload files first.", icon=":material/warning:")
        return
    holder = jobs()
    with holder.lock:
        if holder.current and holder.current.state == "running":
            st.warning(
                f"A load is still running ({holder.current.when()}); wait for it to finish.",
                icon=":material/hourglass_top:",
            )
            return
        job = Job(started=dt.datetime.now(), database=str(db.db_path()))
        holder.current = job
        try:
            saved = save_uploads([(f.name, f.getvalue()) for f in uploads]) if uploads else None
        except LoadError as exc:
            job.error, job.state, job.finished = str(exc), "failed", dt.datetime.now()
            return
        holder.thread = threading.Thread(
            target=_run, args=(job, saved or Path(folder.strip()), saved, replace), daemon=True
        )
        holder.thread.start()


def _run(job: Job, source: Path, saved: Path | None, replace: bool) -> None:
    """The job itself, in its own thread: no Streamlit call here but the cache clear."""
    from health.ingest.loader import LoadError, load
    from health.pipeline.refresh import RefreshError, refresh, step_label

    try:
        report = load(source, replace=replace, progress=job.lines.append)
        job.lines.append("Refreshing…")
        refresh(progress=lambda step: job.lines.append(step_label(step)))
        job.report = _report_lines(report)
        job.warnings = report.warnings + [w for t in report.tables for w in t.warnings]
        job.state = "done"
    except (LoadError, RefreshError) as exc:
        # The uploads' folder is a server path the user never chose: name what they gave.
        message = str(exc).replace(str(saved), "the uploaded files") if saved else str(exc)
        job.error, job.state = message, "failed"
    except Exception:  # noqa: BLE001 - a job thread must end with a state, never silently
        log.exception("load job failed")
        job.error = "an unexpected problem; the details are in the server log"
        job.state = "failed"
    finally:
        if saved:  # the uploaded copies served their purpose; rejected rows stay in `rejects`
            shutil.rmtree(saved, ignore_errors=True)
        job.finished = dt.datetime.now()
        clear_caches()


def _report_lines(report) -> list[str]:
    lines = []
    if report.recipe:  # a mapping.toml in the folder turned other tools' exports into tables
        lines.append(
            f"Mapped with **{md(report.recipe)}**: " + "; ".join(md(m) for m in report.mapped)
        )
    for t in report.tables:
        line = f"**{md(t.file)}**: {t.rows_read:,} rows read, {t.rows_loaded:,} loaded"
        if t.rows_rejected:
            examples = "; ".join(md(e) for e in t.examples[:3])
            line += f", {t.rows_rejected:,} rejected, e.g. {examples}"
        lines.append(line)
    return lines


def job_status() -> None:
    """The latest load's progress while it runs (updated every two seconds), then its outcome."""
    job = jobs().current
    if job is None or job.database != str(db.db_path()):
        return
    if job.state == "running":
        _running(job)
        return
    if job.state == "failed":
        st.error(
            f"The last load ({job.when()}) failed: {md(job.error, 2000)}\n\n"
            "Nothing was loaded; the data you had is unchanged.",
            icon=":material/error:",
        )
        return
    with st.status(f"Loaded and refreshed ({job.when()})", state="complete", expanded=False):
        for line in job.report:
            st.markdown(line)
    for warning in job.warnings:
        st.warning(md(warning, 2000), icon=":material/warning:")


@st.fragment(run_every=2)
def _running(job: Job) -> None:
    if job.state != "running":
        st.rerun()  # the whole page, so its tables show the new data
    with st.status(f"Loading… ({job.when()})", expanded=True):
        for line in job.lines[-12:]:
            st.write(md(line))
        st.caption("You may leave this page: the load continues and this page shows how it ended.")


def recompute(as_of) -> None:
    """Refresh everything as of a date, with progress; the old data serves until it is done."""
    from health.pipeline.refresh import RefreshError, refresh, step_label

    try:
        with st.status(f"Recomputing as of {as_of}…", expanded=True) as status:
            refresh(
                as_of=as_of,
                progress=lambda step: st.write(step_label(step)),
                check_range=True,
            )
            status.update(label=f"Recomputed as of {as_of}", state="complete", expanded=False)
    except RefreshError as exc:
        st.error(md(exc, 2000), icon=":material/error:")
        return
    clear_caches()
    st.rerun()
