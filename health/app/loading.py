"""Load, recompute and the first-run build from the app, with progress; each runs as a job.

A load and the refresh after it, a recompute as of another date, and the first run's build of
the demo database each run as a job in a thread of the server (health/app/jobs.py), not in the
page's script run: clicking elsewhere does not stop them, and one runs at a time. The database
swap is atomic as ever (health/db/door.py), so pages serve the old results until the new ones
are published; only the first run, with nothing to serve yet, holds every page until it is done.
"""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import streamlit as st

from health import db
from health.app import jobs
from health.app.jobs import Job, JobFailed
from health.app.text import md

FIRST_RUN = "First run: building the demo database"


def _refresh_steps() -> int:
    from health.pipeline.refresh import STEPS

    return len(STEPS) + 1  # and the publish


def _busy(job: Job) -> None:
    st.warning(
        f"{job.title} is still running ({job.when()}); wait for it to finish.",
        icon=":material/hourglass_top:",
    )


def _started(job: Job) -> None:
    # The form the user clicked is low on the page; the progress shows at its top.
    st.toast(f"{job.title}: its progress is at the top of the page.", icon=":material/sync:")


def load_and_refresh(folder: str, uploads: list, replace: bool) -> None:
    """Start loading a folder (or uploaded files) through the same validation as the CLI, then
    refreshing, as a job that finishes whether or not the user stays on the page."""
    from health.ingest.loader import LoadError, save_uploads

    if not folder.strip() and not uploads:
        st.warning("Give a folder path or upload files first.", icon=":material/warning:")
        return
    if busy := jobs.running():
        _busy(busy)
        return
    job = Job("Loading and refreshing", str(db.db_path()), steps=_refresh_steps())
    try:
        saved = save_uploads([(f.name, f.getvalue()) for f in uploads]) if uploads else None
    except LoadError as exc:
        job.error, job.state = str(exc), "failed"
        jobs.ended(job)
        return
    source = saved or Path(folder.strip())
    if (started := jobs.start(job, lambda j: _load(j, source, saved, replace))) is not job:
        _busy(started)
    else:
        _started(job)


def _load(job: Job, source: Path, saved: Path | None, replace: bool) -> None:
    from health.ingest.loader import LoadError, load
    from health.pipeline.refresh import RefreshError, refresh, step_label

    try:
        report = load(source, replace=replace, progress=job.lines.append)
        job.lines.append("Refreshing…")
        refresh(progress=lambda step: job.step(step_label(step)))
    except (LoadError, RefreshError) as exc:
        # The uploads' folder is a server path the user never chose: name what they gave.
        message = str(exc).replace(str(saved), "the uploaded files") if saved else str(exc)
        raise JobFailed(message) from exc
    finally:
        if saved:  # the uploaded copies served their purpose; rejected rows stay in `rejects`
            shutil.rmtree(saved, ignore_errors=True)
    job.report = _report_lines(report)
    job.warnings = report.warnings + [w for t in report.tables for w in t.warnings]


def recompute(as_of) -> None:
    """Start refreshing everything as of a date, as a job; the old data serves until it is done."""
    if busy := jobs.running():
        _busy(busy)
        return
    job = Job(f"Recomputing as of {as_of}", str(db.db_path()), steps=_refresh_steps())
    if (started := jobs.start(job, lambda j: _recompute(j, as_of))) is not job:
        _busy(started)
    else:
        _started(job)


def _recompute(job: Job, as_of) -> None:
    from health.pipeline.refresh import RefreshError, refresh, step_label

    try:
        refresh(as_of=as_of, progress=lambda step: job.step(step_label(step)), check_range=True)
    except RefreshError as exc:
        raise JobFailed(str(exc)) from exc


def first_run() -> bool:
    """True when there is a database to show; else the first run's build of the demo database
    is started (once, whatever the user clicks meanwhile) and its progress shown instead."""
    path = db.db_path()
    if path.is_file():
        return True
    job = jobs.running() or jobs.latest(str(path))
    if job is None or job.title != FIRST_RUN or job.state == "done":  # done: and deleted since
        job = jobs.start(Job(FIRST_RUN, str(path), 3 + _refresh_steps()), _build)
    if job.state == "failed":
        st.error(
            f"The demo database could not be built: {md(job.error, 2000)}",
            icon=":material/error:",
        )
        if st.button("Try again", icon=":material/refresh:"):
            jobs.forget()
            st.rerun()
        return False
    jobs.progress(
        job,
        "Every page opens when it is done (a minute or two). You may click around meanwhile: "
        "the build goes on.",
    )
    return False


def _build(job: Job) -> None:
    from health.pipeline import bootstrap

    target = Path(job.database)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Another server process on the same folder builds the same file: wait for it, not twice.
    with open(target.with_name(target.name + ".first-run.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if target.is_file():
            job.step("Built by another server process")
            return
        bootstrap.ensure_database(target, progress=job.step)


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
    """The latest job's progress while it runs (a load, a recompute), then its outcome."""
    job = jobs.latest(str(db.db_path()))
    if job is None:
        return
    if job.state == "running":
        jobs.progress(
            job, "You may leave this page: the job goes on and this page shows how it ended."
        )
        return
    if job.state == "failed":
        st.error(
            f"{job.title} ({job.when()}) failed: {md(job.error, 2000)}\n\n"
            "Nothing was changed; the data you had is unchanged.",
            icon=":material/error:",
        )
        return
    done = job.title.replace("Loading and refreshing", "Loaded and refreshed")
    done = done.replace("Recomputing", "Recomputed")
    with st.status(f"{done} ({job.when()})", state="complete", expanded=False):
        for line in job.report:
            st.markdown(line)
    for warning in job.warnings:
        st.warning(md(warning, 2000), icon=":material/warning:")
