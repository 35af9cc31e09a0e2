"""The app's connection: one cached read-only connection per published file, a cursor per thread."""

from __future__ import annotations

import streamlit as st

from health import db


@st.cache_resource(max_entries=2, show_spinner=False)
def _connection(path: str, version: tuple[int, int]):
    # One read-only connection per published database file; a refresh swaps in a new file,
    # which changes `version` and so opens a fresh connection to it.
    return db.connect(path, read_only=True)


def cursor():
    """A cursor on the current database; DuckDB connections are not shared across threads."""
    path = db.db_path()
    return db.cursor(_connection(str(path), db.version(path)))


def version() -> tuple[int, int]:
    """The published database's version token, for cache keys."""
    return db.version()


def clear_caches() -> None:
    """Forget cached data after this app wrote a new database."""
    st.cache_data.clear()


def as_of_date(con):
    """The as-of date of the published data (None before the first refresh)."""
    import datetime as dt

    from health.db.catalog import meta

    value = meta(con).get("as_of")
    return dt.date.fromisoformat(value) if value else None


def latest_event(con):
    """The latest day with an event, from the manifest of the last refresh's event layer: the
    furthest one can move the as-of date (None before the first refresh)."""
    from health import events

    return events.latest_day(events.stored_manifest(con))
