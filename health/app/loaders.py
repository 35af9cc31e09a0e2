"""What the pages read, once per database version and inputs (st.cache_data, shared by sessions).

Every loader is keyed on small values (the database version, names, ids, numbers), never on
frames, so a rerun whose inputs did not change (a toggle, a tab, a click elsewhere) runs no
query. A refresh publishes a new file, which changes the version and so every key.
"""

from __future__ import annotations

import streamlit as st

from health.app.connection import cursor, version


def _ids(scope: tuple | None) -> list[str] | None:
    return None if scope is None else list(scope)


def _log_version(log) -> int:
    # The action log changes without a refresh (a CSM marks an action done): key on it too.
    return log.stat().st_mtime_ns if log.exists() else 0


def portfolio(scope: tuple | None) -> tuple:
    """The Portfolio page's data: headline, health weeks, moments per month, as-of label."""
    return _portfolio(version(), scope)


@st.cache_data(show_spinner=False, max_entries=16)
def _portfolio(db_version, scope: tuple | None) -> tuple:
    from health.analytics import portfolio as pf
    from health.db import catalog

    con, ids = cursor(), _ids(scope)
    return (
        pf.headline(con, account_ids=ids),
        pf.health_weeks(con, account_ids=ids),
        pf.moments_months(con, account_ids=ids),
        catalog.meta(con).get("as_of", "the last refresh"),
    )


def journey(group_by: str, scope: tuple | None, stall_days: int) -> tuple:
    """The Journey page's funnel, its groups and what it lacks."""
    return _journey(version(), group_by, scope, stall_days)


@st.cache_data(show_spinner=False, max_entries=32)
def _journey(db_version, group_by: str, scope: tuple | None, stall_days: int) -> tuple:
    from health.analytics import segments

    con, ids = cursor(), _ids(scope)
    frame = segments.journey_map(con, group_by, account_ids=ids, stall_days=stall_days)
    return frame, segments.groups(con, group_by, ids), segments.missing_inputs(con, "journey")


def time_to_value(scope: tuple | None) -> tuple:
    """Time to value per segment and per signup cohort."""
    return _time_to_value(version(), scope)


@st.cache_data(show_spinner=False, max_entries=16)
def _time_to_value(db_version, scope: tuple | None) -> tuple:
    from health.analytics import segments

    return segments.time_to_value(cursor(), account_ids=_ids(scope))


def alignment(scope: tuple | None) -> tuple:
    """The Alignment page's matrix, disagreements and trait shares."""
    return _alignment(version(), scope)


@st.cache_data(show_spinner=False, max_entries=16)
def _alignment(db_version, scope: tuple | None) -> tuple:
    from health.analytics import alignment as al

    con, ids = cursor(), _ids(scope)
    return al.matrix(con, ids), al.disagreements(con, ids), al.icp_traits(con, ids)


def book(log, filters) -> object:
    """A CSM's book (health.accounts.book) under `filters`, as the action log stands."""
    return _book(version(), str(log), _log_version(log), filters)


@st.cache_data(show_spinner=False, max_entries=32)
def _book(db_version, log: str, log_mtime: int, filters):
    from health.accounts import book as books

    return books.book(cursor(), log, filters)


def owners() -> list[str]:
    """The CSMs with accounts, for a picker."""
    return _owners(version())


@st.cache_data(show_spinner=False)
def _owners(db_version) -> list[str]:
    from health.actions import suggest

    return suggest.owners(cursor())


def accounts(filters, scope: tuple | None) -> tuple:
    """The Accounts page's rows (overview under `filters`, within the sidebar scope), and
    their weekly activity."""
    return _accounts(version(), filters, scope)


@st.cache_data(show_spinner=False, max_entries=32)
def _accounts(db_version, filters, scope: tuple | None) -> tuple:
    from health.accounts import overview

    con = cursor()
    frame = overview.overview(con, filters)
    if scope is not None:  # the global sidebar filters narrow this page too
        frame = frame.filter(frame["account_id"].is_in(list(scope)))
    weekly = overview.weekly_activity(con, frame["account_id"].to_list())
    return frame, weekly


def account_options() -> dict[str, list[str]]:
    """The values each filter of the Accounts page can take."""
    return _account_options(version())


@st.cache_data(show_spinner=False)
def _account_options(db_version) -> dict[str, list[str]]:
    from health.accounts import overview

    return overview.options(cursor())


def missing_inputs(page: str) -> list[str]:
    """What a page can't show because an optional table is not loaded."""
    return _missing_inputs(version(), page)


@st.cache_data(show_spinner=False)
def _missing_inputs(db_version, page: str) -> list[str]:
    from health.analytics import segments

    return segments.missing_inputs(cursor(), page)


def groups(by: str, scope: tuple | None):
    """A breakdown's groups within the scope (health.analytics.segments.groups)."""
    return _groups(version(), by, scope)


@st.cache_data(show_spinner=False, max_entries=32)
def _groups(db_version, by: str, scope: tuple | None):
    from health.analytics import segments

    return segments.groups(cursor(), by, _ids(scope))


def loaded() -> tuple:
    """What is loaded (health.db.catalog): tables with row counts, rejected rows, load history."""
    return _loaded(version())


@st.cache_data(show_spinner=False)
def _loaded(db_version) -> tuple:
    from health.db import catalog

    con = cursor()
    return catalog.tables(con), catalog.rejects(con), catalog.loads(con)
