"""Small widgets every page uses: a CSV download, an empty state, the guard against tracebacks."""

from __future__ import annotations

import logging

import polars as pl
import streamlit as st

from health.present.export import to_csv

log = logging.getLogger("health.app")


def download(frame: pl.DataFrame, name: str, label: str = "Download CSV") -> None:
    """A CSV download button for a table (cells that look like formulas are neutralised)."""
    st.download_button(
        label,
        # Written when clicked, not on every run: a rerun of a page with a 10,000-row table
        # would otherwise write and ship its CSV each time.
        data=lambda: to_csv(frame),
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


def guard(run):
    """Run a page; an unexpected error becomes a short message, never a traceback. Returns
    what `run` returned, or None after an error."""
    try:
        return run()
    except Exception:  # noqa: BLE001 - the boundary between the app and a person
        log.exception("page failed")
        st.error(
            "This page hit an unexpected problem and could not be shown. The details are in "
            "the server log; other pages still work.",
            icon=":material/error:",
        )
