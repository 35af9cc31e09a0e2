"""Warm reruns: a page reads and draws what it shows once per database version and inputs.

A rerun (a toggle, a tab, another session) whose inputs did not change runs no query and
builds no figure. Data goes through st.cache_data, keyed on the database version and small
values (names, ids), never frames; figures are kept as built (st.cache_resource): a cached
figure's pickle would rebuild and revalidate it, which costs as much as drawing it again.
"""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st

from health.app import connection


@st.cache_resource(max_entries=160, show_spinner=False)
def _figure(_build: Callable[[], go.Figure], version: tuple[int, int], key: tuple) -> go.Figure:
    # `_build` is not hashed: `key` names the chart and every input it is drawn from.
    return _build()


def figure(key: tuple, draw: Callable[..., go.Figure], *args) -> go.Figure:
    """`draw(*args)`, drawn once per database version, `draw` and `key`: every input the
    arguments are made from (a page's widget values and scope). Callers never change it."""
    name = (draw.__module__, draw.__qualname__)
    return _figure(lambda: draw(*args), connection.version(), (*name, *key))


def scope_key(scope: list[str] | None) -> tuple | None:
    """The global filters' accounts as a cache key (None: no filter)."""
    return None if scope is None else tuple(scope)
