"""The global filters in the sidebar: segment, CSM, plan and region narrow every page alike."""

from __future__ import annotations

import streamlit as st

from health.app.connection import cursor, version

# Global filters: rendered in the sidebar by app.py on every page; their widget state lives in
# st.session_state under these keys, so every page sees the same selection.
FILTER_KEYS = {
    "segment": "f_segment",
    "csm_owner": "f_owner",
    "plan": "f_plan",
    "region": "f_region",
}


FILTER_LABELS = {"segment": "Segment", "csm_owner": "CSM", "plan": "Plan", "region": "Region"}


@st.cache_data(show_spinner=False)
def _filter_options(version: tuple[int, int]) -> dict[str, list[str]]:
    from health.accounts.overview import options

    return options(cursor())


@st.cache_data(show_spinner=False)
def _scoped_ids(version: tuple[int, int], chosen: tuple) -> list[str]:
    from health.accounts.overview import Filters, overview

    segments, owners, plans, regions = chosen
    frame = overview(
        cursor(),
        Filters(segments=segments, owners=owners, plans=plans, regions=regions, active_only=False),
    )
    return frame["account_id"].to_list()


def sidebar_filters() -> None:
    """The global filters, in the sidebar; they narrow every page to the same accounts."""
    from health.app.signin import default_owner
    from health.db.catalog import is_refreshed

    if not is_refreshed(cursor()):
        return
    opts = _filter_options(version())
    st.sidebar.markdown("**Filters** (all pages)")
    for column, key in FILTER_KEYS.items():
        if column == "csm_owner" and default_owner():
            continue  # a CSM's book is fixed: no choosing another CSM's accounts
        if len(opts.get(column, [])) > 1:
            # Streamlit drops a widget's state between page runs; the selection lives in a
            # plain session key and re-seeds the widget on every run.
            kept = [v for v in st.session_state.get(_store(key), []) if v in opts[column]]
            st.session_state[key] = kept
            st.sidebar.multiselect(
                FILTER_LABELS[column], opts[column], key=key, on_change=_keep, args=(key,)
            )


def _store(key: str) -> str:
    return f"{key}-kept"


def kept_filter_key(column: str) -> str:
    """The session key that holds a global filter's selection (tests set it directly)."""
    return _store(FILTER_KEYS[column])


def _keep(key: str) -> None:
    st.session_state[_store(key)] = st.session_state[key]


def chosen_filters() -> tuple[tuple[str, ...], ...]:
    """The global filter selection: (segments, owners, plans, regions)."""
    return tuple(tuple(st.session_state.get(_store(key)) or ()) for key in FILTER_KEYS.values())


def scope() -> list[str] | None:
    """The account ids the global filters allow, or None when nothing is filtered."""
    chosen = chosen_filters()
    if not any(chosen):
        return None
    return _scoped_ids(version(), chosen)
