"""Plotly figure builders: frame in, figure out."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.subplots import make_subplots

from health.app.text import html

TEMPLATE = "plotly_white"
# Every figure starts from this template: plotly sets a default without checking it again, where
# update_layout(template=...) validates the whole template, ~0.1 s a figure (0.5 s a page).
pio.templates.default = TEMPLATE
ACCENT = "#2563eb"
MUTED = "#94a3b8"
# One colour per meaning, everywhere in the app.
COLORS = {
    # tiers
    "healthy": "#16a34a",
    "watch": "#f59e0b",
    "at_risk": "#dc2626",
    # moment types
    "relationship_change": "#7c3aed",
    "crisis": "#dc2626",
    "delight": "#0d9488",
    # CSM sentiment
    "green": "#16a34a",
    "yellow": "#f59e0b",
    "red": "#dc2626",
    "none": MUTED,
    # ticket priority
    "low": MUTED,
    "normal": ACCENT,
    "high": "#f97316",
    "urgent": "#dc2626",
    # NPS category
    "promoter": "#16a34a",
    "passive": "#f59e0b",
    "detractor": "#dc2626",
    # contract changes
    "start": ACCENT,
    "renewal": MUTED,
    "expansion": "#0d9488",
    "contraction": "#f97316",
    # milestones and actions
    "milestone": ACCENT,
    "done": "#16a34a",
    "open": "#f59e0b",
    "snoozed": MUTED,
    "dismissed": MUTED,
}
FEATURE_PALETTE = (
    "#2563eb",
    "#0d9488",
    "#7c3aed",
    "#f97316",
    "#db2777",
    "#65a30d",
    "#0891b2",
    "#a16207",
    "#4f46e5",
    "#be123c",
    "#15803d",
    "#9333ea",
)


def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
        hovermode="x unified",
    )
    return fig


def partial(frame: pl.DataFrame) -> list[bool]:
    """Per row, whether its calendar week is the as-of date's, not over yet (week to date)."""
    if "is_partial" not in frame.columns:
        return [False] * frame.height
    return frame["is_partial"].fill_null(False).to_list()


def mark_week_to_date(fig: go.Figure, frame: pl.DataFrame) -> None:
    """A dotted line and a "week to date" label at the partial week: its figures will grow."""
    weeks = zip(frame["week_end"].to_list(), partial(frame), strict=True)
    days = sorted({d for d, p in weeks if p})
    for day in days:
        fig.add_vline(x=day, line_dash="dot", line_color=MUTED, line_width=1)
        # inside the plot, left of the line: the legend sits above the top right corner
        fig.add_annotation(
            x=day,
            y=1,
            yref="paper",
            text="week to date",
            showarrow=False,
            xanchor="right",
            yanchor="top",
            font={"size": 11, "color": MUTED},
        )


def weekly_activity(frame: pl.DataFrame) -> go.Figure:
    """Events per calendar week (bars) and accounts active that week (line); the week to date
    is drawn lighter and dotted, as its figures are not complete."""
    fig = go.Figure()
    part = partial(frame)
    fig.add_bar(
        x=frame["week_end"].to_list(),
        y=frame["events"].to_list(),
        name="Events",
        marker_color=ACCENT,
        marker_opacity=[0.4 if p else 1.0 for p in part],
        customdata=["week to date" if p else "week" for p in part],
        hovertemplate="%{y:,} events (%{customdata})<extra></extra>",
    )
    whole = frame.filter(~pl.Series(part, dtype=pl.Boolean)) if frame.height else frame
    fig.add_scatter(
        x=whole["week_end"].to_list(),
        y=whole["active_accounts"].to_list(),
        name="Active accounts",
        yaxis="y2",
        mode="lines",
        line={"color": "#f97316", "width": 2},
        hovertemplate="%{y:,} active accounts<extra></extra>",
    )
    if any(part):
        # the week to date joins the line dotted: a drop there is the week not being over
        tail = frame.tail(2) if whole.height else frame.tail(1)
        fig.add_scatter(
            x=tail["week_end"].to_list(),
            y=tail["active_accounts"].to_list(),
            name="Active accounts, week to date",
            yaxis="y2",
            mode="lines+markers",
            line={"color": "#f97316", "width": 2, "dash": "dot"},
            marker={"symbol": "circle-open"},
            showlegend=False,
            hovertemplate="%{y:,} active accounts (week to date)<extra></extra>",
        )
    mark_week_to_date(fig, frame)
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


def timeline(
    activity: pl.DataFrame, health: pl.DataFrame, points: pl.DataFrame, lanes
) -> go.Figure:
    """One account on one time axis: usage by feature, health score, and dated points by lane."""
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=[0.38, 0.22, 0.40],
        subplot_titles=("Weekly events by feature", "Health score", "What happened"),
    )
    features = activity["feature"].unique(maintain_order=True).to_list()
    for i, feature in enumerate(sorted(features)):
        part = activity.filter(pl.col("feature") == feature)
        fig.add_bar(
            x=part["week_end"].to_list(),
            y=part["events"].to_list(),
            name=html(feature),
            marker_color=FEATURE_PALETTE[i % len(FEATURE_PALETTE)],
            marker_opacity=[0.4 if p else 1.0 for p in partial(part)],
            legendgroup="features",
            hovertemplate=f"{html(feature)}: %{{y:,}} events<extra></extra>",
            row=1,
            col=1,
        )
    if not health.is_empty():
        fig.add_scatter(
            x=health["week_end"].to_list(),
            y=health["health_score"].to_list(),
            mode="lines+markers",
            marker={
                "color": [COLORS.get(t, MUTED) for t in health["tier"].to_list()],
                "size": 5,
                # the week to date: an open marker, as the week is not over
                "symbol": ["circle-open" if p else "circle" for p in partial(health)],
            },
            line={"color": MUTED, "width": 1.5},
            name="Health",
            showlegend=False,
            customdata=[
                ((tier or "").replace("_", " "), risk, " (week to date)" if p else "")
                for (tier, risk), p in zip(
                    health.select("tier", "churn_risk").rows(), partial(health), strict=True
                )
            ],
            hovertemplate="health %{y:.0f} (%{customdata[0]}), "
            "churn risk %{customdata[1]:.0%}%{customdata[2]}<extra></extra>",
            row=2,
            col=1,
        )
    present = [lane for lane in lanes if lane in set(points["lane"].to_list())]
    for key, part in points.group_by("key", maintain_order=True):
        fig.add_scatter(
            x=part["on_date"].to_list(),
            y=part["lane"].to_list(),
            mode="markers",
            marker={"color": COLORS.get(key[0], MUTED), "size": 11, "line": {"width": 1}},
            name=str(key[0]),
            showlegend=False,
            # Customer text (notes, titles) as text: Plotly reads tags in hover texts.
            customdata=[
                (html(label), html(detail))
                for label, detail in part.select("label", "detail").rows()
            ],
            hovertemplate="%{x|%d %b %Y}: <b>%{customdata[0]}</b><br>%{customdata[1]}"
            "<extra></extra>",
            row=3,
            col=1,
        )
    fig.update_layout(barmode="stack", hovermode="closest", legend={"title": "Feature"})
    fig.update_yaxes(title_text="Events", row=1, col=1)
    fig.update_yaxes(title_text="Score", range=[0, 100], row=2, col=1)
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(present)), row=3, col=1)
    return _layout(fig, "Journey timeline", height=720)


def health_changes(frame: pl.DataFrame) -> go.Figure:
    """Why the health score moved: each component's change over the last weeks."""
    parts = frame.filter(pl.col("change").is_not_null())
    fig = go.Figure(
        go.Bar(
            x=parts["change"].to_list(),
            y=parts["component"].to_list(),
            orientation="h",
            marker_color=[
                COLORS["healthy"] if v >= 0 else COLORS["at_risk"] for v in parts["change"]
            ],
            customdata=parts.select("before", "now").rows(),
            hovertemplate="%{y}: %{customdata[0]:.0f} → %{customdata[1]:.0f} "
            "(%{x:+.0f})<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": "Change in points over 4 weeks", "zeroline": True},
        yaxis={"autorange": "reversed"},
        hovermode="closest",
    )
    return _layout(fig, "What moved in 4 weeks", height=260)
