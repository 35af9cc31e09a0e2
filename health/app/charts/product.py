"""Plotly builders for the product pages (segments, journey, features): frame in, figure out."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from health.app.charts.base import ACCENT, COLORS, FEATURE_PALETTE, MUTED, _layout
from health.app.text import html

MOMENT_LABELS = {
    "relationship_change": "Relationship change",
    "crisis": "Crisis",
    "delight": "Delight",
}
TIER_LABELS = {"healthy": "Healthy", "watch": "Watch", "at_risk": "At risk"}


def group_colors(frame: pl.DataFrame, groups: list[str] | None = None) -> dict[str, str]:
    """One colour per group: by position in `groups` (pass the page's choice so every chart of
    the page agrees), else by sorted name; groups outside the list come after."""
    present = frame["group"].unique().to_list() if "group" in frame.columns else []
    order = list(groups or []) + sorted(g for g in present if g not in (groups or []))
    return {g: FEATURE_PALETTE[i % len(FEATURE_PALETTE)] for i, g in enumerate(order)}


def _ordered(frame: pl.DataFrame, groups: list[str] | None) -> pl.DataFrame:
    """The frame's rows with groups in the page's order (stable within a group)."""
    colors = list(group_colors(frame, groups))
    rank = pl.col("group").replace_strict(colors, list(range(len(colors))), default=None)
    return frame.with_row_index("_row").sort(rank, "_row").drop("_row")


def _closest(fig: go.Figure) -> go.Figure:
    fig.update_layout(hovermode="closest")
    return fig


def segment_kpis(summary: pl.DataFrame, groups: list[str] | None = None) -> go.Figure:
    """Four headline KPIs per group, one small bar chart each."""
    panels = (
        ("activation_rate", "Activated within 30 days", ".0%"),
        ("median_ttv_days", "Median days to first value", ".1f"),
        ("dau_mau", "Stickiness (DAU/MAU)", ".0%"),
        ("retention_12m", "Still customers after 12 months", ".0%"),
    )
    fig = make_subplots(rows=1, cols=4, subplot_titles=[p[1] for p in panels])
    summary = _ordered(summary, groups)
    colors = group_colors(summary, groups)
    for i, (column, label, fmt) in enumerate(panels, start=1):
        fig.add_bar(
            x=summary["group"].to_list(),
            y=summary[column].to_list(),
            marker_color=[colors[g] for g in summary["group"].to_list()],
            texttemplate=f"%{{y:{fmt}}}",
            textposition="outside",
            cliponaxis=False,
            showlegend=False,
            hovertemplate=f"%{{x}}: %{{y:{fmt}}} {label.lower()}<extra></extra>",
            row=1,
            col=i,
        )
        fig.update_yaxes(tickformat=fmt if "%" in fmt else None, rangemode="tozero", row=1, col=i)
    fig.update_annotations(font_size=12)
    return _closest(_layout(fig, "Headline KPIs by group", height=320))


def retention_curves(frame: pl.DataFrame, groups: list[str] | None = None) -> go.Figure:
    """Share of each group's accounts still customers, by whole months since signup."""
    fig = go.Figure()
    frame = _ordered(frame, groups)
    colors = group_colors(frame, groups)
    for (group,), part in frame.group_by("group", maintain_order=True):
        fig.add_scatter(
            x=part["months_since"].to_list(),
            y=part["logo_retention"].to_list(),
            mode="lines+markers",
            name=html(group),
            line={"color": colors[group], "width": 2},
            marker={"size": 5},
            customdata=part.select("retained", "at_risk", "accounts").rows(),
            hovertemplate=f"{group}, month %{{x}}: %{{y:.0%}} still customers; this month "
            "kept %{customdata[0]:,} of %{customdata[1]:,} (%{customdata[2]:,} accounts old "
            "enough)<extra></extra>",
        )
    fig.update_layout(
        xaxis_title="Months since signup",
        yaxis={"title": "Still customers", "tickformat": ".0%", "range": [0, 1.05]},
    )
    return _closest(_layout(fig, "Logo retention curves by group", height=360))


def adoption_heatmap(frame: pl.DataFrame, groups: list[str] | None = None) -> go.Figure:
    """Share of each group's active accounts that used each feature (features as rows)."""
    wide = frame.pivot(on="group", index="feature", values="account_share").fill_null(0)
    groups = [g for g in group_colors(frame, groups) if g in wide.columns]
    wide = wide.with_columns(mean=pl.mean_horizontal(groups)).sort("mean")
    n = frame.pivot(on="group", index="feature", values="accounts_using").fill_null(0)
    n = wide.select("feature").join(n, on="feature", how="left")
    fig = go.Figure(
        go.Heatmap(
            z=wide.select(groups).rows(),
            x=groups,
            y=wide["feature"].to_list(),
            zmin=0,
            zmax=1,
            colorscale="Blues",
            colorbar={"title": "Accounts<br>using", "tickformat": ".0%"},
            texttemplate="%{z:.0%}",
            customdata=n.select(groups).rows(),
            hovertemplate="%{y} in %{x}: %{z:.0%} of active accounts "
            "(%{customdata:,} accounts)<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title=None, yaxis_title="Feature")
    height = max(300, 60 + 28 * wide.height)
    return _closest(_layout(fig, "Feature adoption by group (last 28 days)", height=height))


def health_distribution(frame: pl.DataFrame, groups: list[str] | None = None) -> go.Figure:
    """Share of each group's scored accounts in each health tier (stacked to 100 %)."""
    frame = _ordered(frame, groups)
    fig = go.Figure()
    for tier, label in TIER_LABELS.items():
        part = frame.filter(pl.col("tier") == tier)
        fig.add_bar(
            y=part["group"].to_list(),
            x=part["share"].to_list(),
            orientation="h",
            name=label,
            marker_color=COLORS[tier],
            customdata=part.select("accounts", "mean_score").rows(),
            hovertemplate=f"%{{y}}: %{{x:.0%}} {label.lower()} (%{{customdata[0]:,}} accounts, "
            "mean score %{customdata[1]:.0f})<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        legend={"traceorder": "normal"},
        xaxis={"title": "Share of scored accounts", "tickformat": ".0%", "range": [0, 1]},
        yaxis={
            "title": None,
            "categoryorder": "array",
            "autorange": "reversed",
            "categoryarray": list(group_colors(frame, groups)),
        },
    )
    return _closest(_layout(fig, "Health tiers by group (current customers)", height=300))


def moments_per_100(
    frame: pl.DataFrame, groups: list[str] | None = None, days: int = 365
) -> go.Figure:
    """Moments detected in the window per 100 accounts, by moment type and group."""
    frame = _ordered(frame, groups)
    fig = go.Figure()
    for (moment,), part in frame.group_by("moment", maintain_order=True):
        label = MOMENT_LABELS.get(moment, str(moment).replace("_", " ").capitalize())
        fig.add_bar(
            x=part["group"].to_list(),
            y=part["per_100_accounts"].to_list(),
            name=label,
            marker_color=COLORS.get(moment, MUTED),
            customdata=part.select("moments", "accounts").rows(),
            hovertemplate=f"%{{x}}: %{{y:.1f}} {label.lower()} moments per 100 accounts "
            "(%{customdata[0]:,} in %{customdata[1]:,} accounts)<extra></extra>",
        )
    fig.update_layout(barmode="group", xaxis_title=None, yaxis_title="Moments per 100 accounts")
    return _closest(_layout(fig, f"Moments per 100 accounts, last {days} days"))


def journey_funnel(frame: pl.DataFrame, groups: list[str] | None = None) -> go.Figure:
    """Share of each group's signups reaching each journey step, in order."""
    fig = go.Figure()
    frame = _ordered(frame, groups)
    colors = group_colors(frame, groups)
    for (group,), part in frame.group_by("group", maintain_order=True):
        fig.add_bar(
            x=part["step"].to_list(),
            y=part["share_of_signups"].to_list(),
            name=html(group),
            marker_color=colors[group],
            customdata=part.select("accounts", pl.col("conversion").fill_null(1.0)).rows(),
            hovertemplate=f"{group}, %{{x}}: %{{customdata[0]:,}} accounts, %{{y:.0%}} of "
            "signups (%{customdata[1]:.0%} of the step before)<extra></extra>",
        )
    fig.update_layout(
        barmode="group",
        xaxis_title="Journey step (in order)",
        yaxis={"title": "Share of signups reaching it", "tickformat": ".0%", "range": [0, 1.05]},
    )
    return _closest(_layout(fig, "Journey funnel by group", height=380))


def milestone_days(frame: pl.DataFrame, groups: list[str] | None = None) -> go.Figure:
    """Median days from the previous step (bars) and the 90th percentile (whiskers).

    Onboarding to adoption takes days or weeks, expansion and advocacy months: two panels with
    their own axes, so neither flattens the other (one panel when nobody got past adoption).
    """
    colors = group_colors(frame, groups)
    steps = _ordered(frame, groups).filter(pl.col("step_order") > 0)
    # Panel 2 only when some account got past adoption (never, without subscriptions or surveys).
    panels = [("To adoption", pl.col("step_order") <= 4)]
    if steps.filter(pl.col("step_order") > 4).height:
        panels.append(("After adoption", pl.col("step_order") > 4))
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        column_widths=[0.62, 0.38][: len(panels)] if len(panels) > 1 else None,
        subplot_titles=[title for title, _ in panels],
        horizontal_spacing=0.1,
    )
    for (group,), part in steps.group_by("group", maintain_order=True):
        for col, (_, keep) in enumerate(panels, start=1):
            panel = part.filter(keep)
            median = panel["median_days_from_previous"]
            fig.add_bar(
                x=panel["step"].to_list(),
                y=median.to_list(),
                name=html(group),
                legendgroup=str(group),
                showlegend=col == 1,
                marker_color=colors[group],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (panel["p90_days_from_previous"] - median).to_list(),
                    "arrayminus": [0] * panel.height,
                    "color": MUTED,
                },
                customdata=panel.select("p90_days_from_previous", "accounts").rows(),
                hovertemplate=f"{group}, to %{{x}}: median %{{y:.0f}} days, 90th percentile "
                "%{customdata[0]:.0f} days (%{customdata[1]:,} accounts)<extra></extra>",
                row=1,
                col=col,
            )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="Days from the previous step", rangemode="tozero", col=1)
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(title_text="Journey step reached")
    fig.update_annotations(font_size=12)
    fig = _layout(fig, "Time between milestones (bar: median, whisker: p90)", height=380)
    # Below the axes: at the top the legend would cover the two panel titles.
    fig.update_layout(legend={"y": -0.3, "x": 0, "xanchor": "left"}, margin={"b": 60})
    return _closest(fig)


def stalls(frame: pl.DataFrame, groups: list[str] | None = None) -> go.Figure:
    """Accounts stalled at each step before adoption, by group."""
    colors = group_colors(frame, groups)
    steps = _ordered(frame, groups).filter(pl.col("step_order") < 4)
    fig = go.Figure()
    for (group,), part in steps.group_by("group", maintain_order=True):
        fig.add_bar(
            x=part["step"].to_list(),
            y=part["stalled"].to_list(),
            name=html(group),
            marker_color=colors[group],
            customdata=part.select("accounts").rows(),
            hovertemplate=f"{group}: %{{y:,}} accounts stalled at %{{x}} "
            "(of %{customdata[0]:,} that reached it)<extra></extra>",
        )
    fig.update_layout(
        barmode="group",
        xaxis_title="Furthest step reached",
        yaxis={
            "title": "Stalled accounts",
            "rangemode": "tozero",
            # Whole accounts: with few stalls, automatic ticks would fall between integers.
            "dtick": 1 if (steps["stalled"].max() or 0) <= 5 else None,
            "tickformat": ",d",
        },
    )
    return _closest(_layout(fig, "Where accounts stall"))


def ttv_by_cohort(frame: pl.DataFrame) -> go.Figure:
    """Median and 90th-percentile days to first value per signup cohort."""
    fig = go.Figure()
    hover = frame.select("accounts", pl.col("reached_share").fill_null(0)).rows()
    for column, name, dash in (("median_days", "Median", "solid"), ("p90_days", "p90", "dot")):
        fig.add_scatter(
            x=frame["cohort"].to_list(),
            y=frame[column].to_list(),
            mode="lines+markers",
            name=name,
            line={"color": ACCENT, "dash": dash, "width": 2},
            customdata=hover,
            hovertemplate=f"%{{x|%b %Y}} cohort: {name} %{{y:.0f}} days (%{{customdata[1]:.0%}} "
            "of %{customdata[0]:,} accounts reached value)<extra></extra>",
        )
    fig.update_layout(
        xaxis_title="Signup month",
        yaxis={"title": "Days from signup to first value", "rangemode": "tozero"},
    )
    return _closest(_layout(fig, "Time to value by signup cohort"))


def ttv_by_group(frame: pl.DataFrame, groups: list[str] | None = None) -> go.Figure:
    """Median days to first value per group (bar) with the 90th percentile (whisker)."""
    frame = _ordered(frame, groups)
    colors = group_colors(frame, groups)
    fig = go.Figure(
        go.Bar(
            x=frame["group"].to_list(),
            y=frame["median_days"].to_list(),
            marker_color=[colors[g] for g in frame["group"].to_list()],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (frame["p90_days"] - frame["median_days"]).to_list(),
                "arrayminus": [0] * frame.height,
                "color": MUTED,
            },
            customdata=frame.select("p90_days", "reached", "accounts").rows(),
            hovertemplate="%{x}: median %{y:.0f} days, p90 %{customdata[0]:.0f} days "
            "(%{customdata[1]:,} of %{customdata[2]:,} accounts reached value)<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title=None, yaxis={"title": "Days from signup to first value", "rangemode": "tozero"}
    )
    return _closest(_layout(fig, "Time to value by group (bar: median, whisker: p90)"))


CAUSATION_NOTE = (
    "Association, not causation: adopters differ from the rest in size, intent and help received."
)


def feature_forest(table: pl.DataFrame) -> go.Figure:
    """Per feature and outcome: adopters' rate minus the rest's, in points, with its 95 % CI."""
    outcomes = table.select("outcome", "outcome_label").unique(maintain_order=True).rows()
    order = (
        table.filter(pl.col("outcome") == outcomes[0][0]).sort("difference")["feature"].to_list()
        if outcomes
        else []
    )
    fig = make_subplots(
        rows=1,
        cols=max(len(outcomes), 1),
        shared_yaxes=True,
        subplot_titles=[label for _, label in outcomes] or [""],
        horizontal_spacing=0.06,
    )
    for i, (outcome, label) in enumerate(outcomes, start=1):
        part = table.filter(pl.col("outcome") == outcome)
        points = part.select(
            "feature",
            x=pl.col("difference") * 100,
            plus=(pl.col("difference_high") - pl.col("difference")) * 100,
            minus=(pl.col("difference") - pl.col("difference_low")) * 100,
            clear=(pl.col("difference_low") > 0) | (pl.col("difference_high") < 0),
        )
        fig.add_scatter(
            x=points["x"].to_list(),
            y=points["feature"].to_list(),
            mode="markers",
            name=label,
            showlegend=False,
            marker={
                "size": 10,
                "color": [ACCENT if c else MUTED for c in points["clear"].to_list()],
            },
            error_x={
                "type": "data",
                "symmetric": False,
                "array": points["plus"].to_list(),
                "arrayminus": points["minus"].to_list(),
                "color": MUTED,
                "thickness": 1.5,
            },
            customdata=part.select(
                pl.col("adopter_rate") * 100,
                "adopters",
                pl.col("other_rate") * 100,
                "others",
                pl.col("difference_low") * 100,
                pl.col("difference_high") * 100,
            ).rows(),
            hovertemplate="<b>%{y}</b>: %{x:+.1f} points [%{customdata[4]:+.1f}, "
            "%{customdata[5]:+.1f}]<br>adopters %{customdata[0]:.0f}% of %{customdata[1]:,}, "
            "others %{customdata[2]:.0f}% of %{customdata[3]:,}<extra></extra>",
            row=1,
            col=i,
        )
        fig.add_vline(x=0, line={"color": "#334155", "width": 1, "dash": "dash"}, row=1, col=i)
        fig.update_xaxes(title_text="Adopters minus others (percentage points)", row=1, col=i)
    fig.update_yaxes(categoryorder="array", categoryarray=order, title_text="Feature", col=1)
    height = max(360, 170 + 34 * len(order))
    fig = _closest(_layout(fig, "Early feature use and outcomes", height))
    fig.update_layout(
        title_subtitle={
            "text": CAUSATION_NOTE + " Bars: 95 % intervals; blue: excludes zero.",
            "font": {"size": 13},
        },
        margin={"t": 100},
    )
    return fig
