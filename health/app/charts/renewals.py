"""Plotly figure builders for the Renewals page: frame in, figure out."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from health.app.charts.base import ACCENT, COLORS, MUTED, _layout


def _error_bars(frame: pl.DataFrame) -> dict:
    """Asymmetric error bars from the expected value to the 90 % interval's ends."""
    return {
        "type": "data",
        "symmetric": False,
        "array": (frame["high_90"] - frame["expected_arr"]).to_list(),
        "arrayminus": (frame["expected_arr"] - frame["low_90"]).to_list(),
        "color": "#1e293b",
        "thickness": 1.5,
    }


def expected_by_month(months: pl.DataFrame) -> go.Figure:
    """Per month: ARR up for renewal, and the ARR expected to renew with its 90 % interval."""
    labels = months["month"].to_list()
    fig = go.Figure()
    fig.add_bar(
        x=labels,
        y=months["arr"].to_list(),
        name="ARR up for renewal",
        marker_color=MUTED,
        opacity=0.45,
        hovertemplate="Up for renewal: %{y:$,.0f}<extra></extra>",
    )
    fig.add_bar(
        x=labels,
        y=months["expected_arr"].to_list(),
        name="Expected to renew (90 % interval)",
        marker_color=ACCENT,
        error_y=_error_bars(months),
        customdata=months.select("low_90", "high_90").rows(),
        hovertemplate=(
            "Expected: %{y:$,.0f} (90 %: %{customdata[0]:$,.0f} – %{customdata[1]:$,.0f})"
            "<extra></extra>"
        ),
    )
    fig.update_layout(barmode="overlay", yaxis={"title": "ARR", "tickformat": "$,.3~s"})
    return _layout(fig, "Expected renewing ARR per month, with its 90 % interval")


def track_record(track: pl.DataFrame) -> go.Figure:
    """Per past quarter: the out-of-sample forecast's expected ARR and 90 % interval against
    what renewed; a quarter without figures says why instead."""
    shown = track.filter(pl.col("status").is_null())
    quarters = shown["quarter"].to_list()
    fig = go.Figure()
    fig.add_scatter(
        x=quarters,
        y=shown["expected_arr"].to_list(),
        mode="markers",
        name="Forecast, out-of-sample (90 % interval)",
        marker={"color": ACCENT, "size": 10, "symbol": "line-ew-open", "line": {"width": 3}},
        error_y=_error_bars(shown),
        hovertemplate="Forecast: %{y:$,.0f}<extra></extra>",
    )
    fig.add_scatter(
        x=quarters,
        y=shown["expected_uncalibrated"].to_list(),
        mode="markers",
        name="Before recalibration",
        marker={"color": MUTED, "size": 8, "symbol": "circle-open"},
        hovertemplate="Before recalibration: %{y:$,.0f}<extra></extra>",
    )
    fig.add_scatter(
        x=quarters,
        y=shown["actual_arr"].to_list(),
        mode="markers",
        name="Actually renewed",
        marker={"color": COLORS["healthy"], "size": 11, "symbol": "diamond"},
        hovertemplate="Renewed: %{y:$,.0f}<extra></extra>",
    )
    for row in track.filter(pl.col("status").is_not_null()).iter_rows(named=True):
        fig.add_annotation(
            x=row["quarter"],
            y=0.5,
            yref="paper",
            text=_wrap(row["status"]),
            showarrow=False,
            font={"size": 11, "color": MUTED},
        )
    fig.update_layout(
        yaxis={"title": "ARR", "tickformat": "$,.3~s"},
        xaxis={"title": "Quarter", "categoryorder": "array", "categoryarray": track["quarter"]},
    )
    return _layout(fig, "Track record: the forecast made before each quarter against the actual")


def _wrap(text: str, width: int = 22) -> str:
    """Break a note into short lines for an annotation."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) >= width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])
