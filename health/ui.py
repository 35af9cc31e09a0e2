"""The only module that imports Streamlit: cached connection and loaders, small widgets."""

from __future__ import annotations

import logging

import polars as pl
import streamlit as st

from health import db
from health.export import to_csv

log = logging.getLogger("health.app")


@st.cache_resource(max_entries=2, show_spinner=False)
def _connection(path: str, version: tuple[int, int]):
    # One read-only connection per published database file; a refresh swaps in a new file,
    # which changes `version` and so opens a fresh connection to it.
    return db.connect(path, read_only=True)


def cursor():
    """A cursor on the current database; DuckDB connections are not shared across threads."""
    path = db.db_path()
    return _connection(str(path), db.version(path)).cursor()


def version() -> tuple[int, int]:
    """The published database's version token, for cache keys."""
    return db.version()


def clear_caches() -> None:
    """Forget cached data after this app wrote a new database."""
    st.cache_data.clear()


def download(frame: pl.DataFrame, name: str, label: str = "Download CSV") -> None:
    """A CSV download button for a table (cells that look like formulas are neutralised)."""
    st.download_button(
        label,
        data=to_csv(frame),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"download-{name}",
    )


def empty_state(what: str) -> None:
    """Say what is missing and how to get it, instead of an empty page."""
    st.info(
        f"{what} Load a data folder on the **Data** page, or run "
        "`python -m health load DIR && python -m health refresh`.",
        icon=":material/info:",
    )


def guard(run) -> None:
    """Run a page; an unexpected error becomes a short message, never a traceback."""
    try:
        run()
    except Exception:  # noqa: BLE001 - the boundary between the app and a person
        log.exception("page failed")
        st.error(
            "This page hit an unexpected problem and could not be shown. The details are in "
            "the server log; other pages still work.",
            icon=":material/error:",
        )


def load_and_refresh(folder: str, uploads: list, replace: bool) -> None:
    """Load a folder (or uploaded files) through the same validation as the CLI, then refresh."""
    from health.ingest import LoadError, load, save_uploads
    from health.refresh import RefreshError, refresh

    if not folder.strip() and not uploads:
        st.warning("Give a folder path or upload files first.", icon=":material/warning:")
        return
    try:
        with st.status("Loading…", expanded=True) as status:
            source = folder.strip()
            if uploads:
                source = save_uploads([(f.name, f.getvalue()) for f in uploads])
            report = load(source, replace=replace, progress=st.write)
            status.update(label="Refreshing…")
            refresh(progress=lambda step: st.write(f"Computing {step}"))
            status.update(label="Loaded and refreshed", state="complete", expanded=False)
    except (LoadError, RefreshError) as exc:
        st.error(
            f"{exc}\n\nNothing was loaded; the data you had is unchanged.", icon=":material/error:"
        )
        return
    clear_caches()
    for t in report.tables:
        line = f"**{t.file}**: {t.rows_read:,} rows read, {t.rows_loaded:,} loaded"
        if t.rows_rejected:
            line += f", {t.rows_rejected:,} rejected, e.g. " + "; ".join(map(str, t.examples[:3]))
        st.markdown(line)
    for warning in report.warnings + [w for t in report.tables for w in t.warnings]:
        st.warning(warning, icon=":material/warning:")
