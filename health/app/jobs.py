"""Long work in the server, not in a page's run: the first-run build, a load, a recompute.

Streamlit stops a page's script when the user clicks elsewhere, and everything the script was
doing is lost. A job runs in a thread of the server process instead: leaving the page, closing
the tab or clicking another page does not stop it. One job runs at a time per server process;
its progress and outcome stay in the process, so every session and every visit sees them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

from health.app.connection import clear_caches
from health.app.text import md

log = logging.getLogger("health.app")


class JobFailed(Exception):
    """An expected failure with a message for people (bad input, a date outside the data)."""


@dataclass
class Job:
    """One job: what it is, what it has done so far, and how it ended."""

    title: str  # what it does, for people: "Recomputing as of 2026-10-01"
    database: str  # the database it writes: pages show only their database's job
    steps: int  # how many progress steps make the whole (for the progress bar)
    started: dt.datetime = field(default_factory=dt.datetime.now)
    lines: list[str] = field(default_factory=list)  # progress, as plain text
    done_steps: int = 0
    report: list[str] = field(default_factory=list)  # what it did, as Markdown
    warnings: list[str] = field(default_factory=list)
    state: str = "running"  # running, done or failed
    error: str = ""
    finished: dt.datetime | None = None
    ended: threading.Event = field(default_factory=threading.Event)

    def step(self, line: str) -> None:
        """One step of the whole done: a line of progress and a notch on the bar."""
        self.lines.append(line)
        self.done_steps += 1

    def fraction(self) -> float:
        """How far along it is, 0 to 1 (steps done of the expected ones)."""
        return min(self.done_steps / self.steps, 1.0) if self.steps else 0.0

    def when(self) -> str:
        end = f", finished {self.finished:%H:%M:%S}" if self.finished else ""
        return f"started {self.started:%Y-%m-%d %H:%M:%S}{end}"


class Jobs:
    """The server process's job (the latest one), guarded by a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current: Job | None = None
        self.thread: threading.Thread | None = None


@st.cache_resource(show_spinner=False)
def holder() -> Jobs:
    """The one job holder of this server process."""
    return Jobs()


def start(job: Job, work: Callable[[Job], None]) -> Job | None:
    """Run `work(job)` in a server thread, unless a job is running; the running job then."""
    jobs = holder()
    with jobs.lock:
        if jobs.current and jobs.current.state == "running":
            return jobs.current
        jobs.current = job
        jobs.thread = threading.Thread(target=_run, args=(job, work), daemon=True)
        jobs.thread.start()
    return job


def running() -> Job | None:
    """The job running now, if any (for any database)."""
    job = holder().current
    return job if job and job.state == "running" else None


def ended(job: Job) -> None:
    """Record a job that ended before it started (its input was refused), for the page to show."""
    job.finished = job.finished or dt.datetime.now()
    job.ended.set()
    with holder().lock:
        holder().current = job


def forget() -> None:
    """Forget the latest job (after a failed one, so that the next start is afresh)."""
    with holder().lock:
        holder().current = None


def latest(database: str) -> Job | None:
    """The latest job on this database, running or ended."""
    job = holder().current
    return job if job and job.database == database else None


def _run(job: Job, work: Callable[[Job], None]) -> None:
    """The job itself, in its own thread: no Streamlit call here but the cache clear."""
    try:
        work(job)
        job.state = "done"
    except JobFailed as exc:
        job.error, job.state = str(exc), "failed"
    except Exception:  # noqa: BLE001 - a job thread must end with a state, never silently
        log.exception("job failed: %s", job.title)
        job.error = "an unexpected problem; the details are in the server log"
        job.state = "failed"
    finally:
        job.finished = dt.datetime.now()
        clear_caches()
        job.ended.set()


@st.fragment(run_every=1)
def progress(job: Job, note: str) -> None:
    """The job's progress bar and latest steps, updated every second; when it ends, the whole
    page runs again (so it shows the new data, or the page the user came for)."""
    if job.state != "running":
        st.rerun()
    st.progress(job.fraction(), text=f"{job.title}… ({job.when()})")  # our words
    for line in job.lines[-6:]:
        st.caption(md(line))
    st.caption(note)
