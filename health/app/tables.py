"""Tables the app's way: readable headers, dates as dates, whole dollars, clickable rows."""

from __future__ import annotations

import polars as pl
import streamlit as st

from health.app.widgets import download
from health.present.labels import CODED, MONEY, NUMBER_LABELS, PERCENT_WORDS, label, value_label
from health.present.plain import BIDI_CONTROLS, LONG


def table(
    frame: pl.DataFrame, name: str, empty: str = "Nothing to show.", config: dict | None = None
) -> None:
    """A plain table with a CSV download, or a line saying it is empty."""
    if frame.is_empty():
        st.caption(empty)
        return
    dataframe(frame, config)
    download(frame, name)


def money(title: str, **kwargs):
    """A column of dollars, whole and with thousands separators ($60,084)."""
    return st.column_config.NumberColumn(title, format="dollar", step=1, **kwargs)


def _column(frame: pl.DataFrame, name: str, title: str):
    dtype = frame.schema[name]
    if dtype == pl.Date:
        return st.column_config.DateColumn(title)
    if isinstance(dtype, pl.Datetime):
        values = frame[name].drop_nulls()
        if (values.dt.truncate("1d") == values).all():  # midnight everywhere: a date
            return st.column_config.DateColumn(title)
        return st.column_config.DatetimeColumn(title, format="YYYY-MM-DD HH:mm")
    if name in MONEY and dtype.is_numeric():
        return money(title)
    if name in CODED and dtype == pl.String:
        options = frame[name].drop_nulls().unique().sort().to_list()
        return st.column_config.SelectboxColumn(title, options=options, format_func=value_label)
    if dtype.is_float() and PERCENT_WORDS & set(name.split("_")):
        return st.column_config.NumberColumn(title, format="percent")
    if dtype.is_float() and name.endswith("score"):
        return st.column_config.NumberColumn(title, format="%.0f")
    if dtype.is_float() and name.startswith("per_"):
        return st.column_config.NumberColumn(title, format="%.1f")
    return title


def columns(frame: pl.DataFrame, config: dict | None = None) -> dict:
    """Column config for a table: readable headers, dates as dates, whole dollars, coded values
    in words. `config` overrides a column: a config as is, a string as its header only."""
    config = config or {}
    out = {}
    for name in frame.columns:
        numeric = frame.schema[name].is_numeric() and name in NUMBER_LABELS
        given = config.get(name, NUMBER_LABELS[name] if numeric else label(name))
        out[name] = _column(frame, name, given) if isinstance(given, str) else given
    return out


def dataframe(frame: pl.DataFrame, column_config: dict | None = None, **kwargs):
    """st.dataframe the app's way: see `columns`; a missing value shows as a dash, not None.

    Text is shown without bidi controls and cut to a readable length (a 1 MB cell would freeze
    the browser); downloads keep it whole."""
    return st.dataframe(
        _displayable(frame),
        hide_index=True,
        width="stretch",
        placeholder="—",
        column_config=columns(frame, column_config),
        **kwargs,
    )


def _displayable(frame: pl.DataFrame) -> pl.DataFrame:
    texts = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.col(c).str.replace_all(BIDI_CONTROLS.pattern, "").str.slice(0, LONG) for c in texts
    )


def account_table(frame: pl.DataFrame, key: str, column_config: dict | None = None) -> None:
    """A table of accounts; clicking a row (any cell, or its checkbox) opens that account's
    page at its own URL, `account?account=<id>`, which can be shared."""
    # A fresh key after each jump, so coming back to the page does not jump again.
    version_key = f"{key}-n"
    n = st.session_state.get(version_key, 0)
    # A person clicks the name, not the checkbox: a cell selection opens the account too.
    event = dataframe(
        frame,
        column_config,
        key=f"{key}-{n}",
        on_select="rerun",
        selection_mode=["single-row", "single-cell"],
    )
    rows = clicked_rows(event)
    if rows:
        st.session_state[version_key] = n + 1
        st.switch_page("pages/account.py", query_params={"account": frame["account_id"][rows[0]]})


def clicked_rows(event) -> list[int]:
    """The rows a table's selection event points at: selected rows, else selected cells' rows."""
    if not event:
        return []
    return list(event.selection.rows) or [row for row, _column in event.selection.cells]
