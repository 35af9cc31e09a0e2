"""Plotly figure builders: frame in, figure out."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

TEMPLATE = "plotly_white"
ACCENT = "#2563eb"
MUTED = "#94a3b8"


def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        template=TEMPLATE,
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
        hovermode="x unified",
    )
    return fig


def weekly_activity(frame: pl.DataFrame) -> go.Figure:
    """Events per week (bars) and accounts active that week (line)."""
    fig = go.Figure()
    fig.add_bar(
        x=frame["week_end"].to_list(),
        y=frame["events"].to_list(),
        name="Events",
        marker_color=ACCENT,
        hovertemplate="%{y:,} events<extra></extra>",
    )
    fig.add_scatter(
        x=frame["week_end"].to_list(),
        y=frame["active_accounts"].to_list(),
        name="Active accounts",
        yaxis="y2",
        mode="lines",
        line={"color": "#f97316", "width": 2},
        hovertemplate="%{y:,} active accounts<extra></extra>",
    )
    fig.update_layout(
        xaxis_title="Week ending",
        yaxis={"title": "Events per week", "rangemode": "tozero"},
        yaxis2={
            "title": "Active accounts",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "tickformat": ",d",
        },
    )
    return _layout(fig, "Product activity per week")


def table_rows(frame: pl.DataFrame) -> go.Figure:
    """Rows stored per table (log scale: events dwarf the rest)."""
    fig = go.Figure(
        go.Bar(
            x=frame["rows"].to_list(),
            y=frame["table"].to_list(),
            orientation="h",
            marker_color=[ACCENT if r else MUTED for r in frame["required"].to_list()],
            hovertemplate="%{y}: %{x:,} rows<extra></extra>",
        )
    )
    fig.update_layout(xaxis={"title": "Rows (log scale)", "type": "log"}, yaxis_title=None)
    fig.update_layout(hovermode="closest")
    return _layout(fig, "Rows loaded per table (required tables in blue)", height=280)
