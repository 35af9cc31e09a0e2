"""Plotly figure builders for the leadership pages (Portfolio, Alignment): frame in, figure out."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from health.app.charts.base import ACCENT, COLORS, MUTED, _layout, mark_week_to_date

TIERS = ("at_risk", "watch", "healthy")
TIER_LABELS = {"at_risk": "At risk", "watch": "Watch", "healthy": "Healthy"}
MOMENTS = ("relationship_change", "crisis", "delight")
MOMENT_LABELS = {
    "relationship_change": "Relationship change",
    "crisis": "Crisis",
    "delight": "Delight",
}
SENTIMENTS = ("green", "yellow", "red", "no touchpoint")
SENTIMENT_LABELS = {"green": "Green", "yellow": "Yellow", "red": "Red", "no touchpoint": "None"}
# The cells where judgement and data contradict each other (see q_alignment_disagreements).
DISAGREEMENTS = (("green", "at_risk"), ("red", "healthy"))
ICP_GROUPS = (
    ("share_all", "All accounts", MUTED),
    ("share_product_ideal", "Product's ideal (healthy, adopted or expanding)", ACCENT),
    ("share_cs_ideal", "CS's ideal (rated green)", COLORS["green"]),
)


def _ordered(values, order) -> list[str]:
    """Known values in their fixed order, then any others alphabetically."""
    present = set(values)
    return [v for v in order if v in present] + sorted(present - set(order))


def health_over_time(frame: pl.DataFrame, measure: str = "accounts") -> go.Figure:
    """Stacked areas: accounts (or ARR) per health tier per week, at risk at the bottom."""
    is_arr = measure == "arr"
    fig = go.Figure()
    for tier in _ordered(frame["tier"].to_list(), TIERS):
        part = frame.filter(pl.col("tier") == tier).sort("week_end")
        label = TIER_LABELS.get(tier, tier)
        fig.add_scatter(
            x=part["week_end"].to_list(),
            y=part[measure].to_list(),
            name=label,
            mode="lines",
            stackgroup="tiers",
            line={"color": COLORS.get(tier, MUTED), "width": 1},
            fillcolor=COLORS.get(tier, MUTED),
            hovertemplate=f"{label}: %{{y:$,.0f}}<extra></extra>"
            if is_arr
            else f"{label}: %{{y:,}} accounts<extra></extra>",
        )
    mark_week_to_date(fig, frame)
    fig.update_layout(
        legend_traceorder="normal",
        xaxis_title="Week ending",
        yaxis={
            "title": "ARR" if is_arr else "Accounts",
            "tickformat": "$,.3~s" if is_arr else ",d",
        },
    )
    what = "ARR" if is_arr else "accounts"
    return _layout(fig, f"Health over time: {what} per tier each week", height=360)


def moments_by_month(frame: pl.DataFrame) -> go.Figure:
    """Stacked bars: moments of truth detected per month, one colour per moment type."""
    fig = go.Figure()
    for moment in _ordered(frame["moment"].to_list(), MOMENTS):
        part = frame.filter(pl.col("moment") == moment).sort("month")
        label = MOMENT_LABELS.get(moment, moment)
        fig.add_bar(
            x=part["month"].to_list(),
            y=part["moments"].to_list(),
            name=label,
            marker_color=COLORS.get(moment, MUTED),
            hovertemplate=f"{label}: %{{y:,}}<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        legend_traceorder="normal",
        xaxis={"title": "Month detected", "tickformat": "%b %Y", "dtick": "M3"},
        yaxis={"title": "Moments", "tickformat": ",d"},
    )
    return _layout(fig, "Moments of truth detected per month, by type", height=360)


def _scenario_color(rate: float, observed: bool) -> str:
    if observed:
        return ACCENT
    return COLORS["healthy"] if rate < 0 else COLORS["at_risk"] if rate > 0 else MUTED


def churn_paths(
    frame: pl.DataFrame, table: pl.DataFrame, better: str = "−5 %", worse: str = "+5 %"
) -> go.Figure:
    """MRR over the next 12 months per scenario; the revenue gap between two annotated."""
    fig = go.Figure()
    for name in table["scenario"].to_list():
        part = frame.filter(pl.col("scenario") == name).sort("month")
        observed = name.startswith("Observed")
        rate = part["monthly_net_churn"][0]
        fig.add_scatter(
            x=part["month"].to_list(),
            y=part["mrr"].to_list(),
            name=name,
            mode="lines+markers",
            line={
                "color": _scenario_color(rate, observed),
                "width": 3 if observed else 2,
                "dash": "solid" if observed or rate else "dot",
            },
            marker={"size": 5},
            hovertemplate=f"{name}: %{{y:$,.0f}} MRR<extra></extra>",
        )
    rows = {r["scenario"]: r for r in table.to_dicts()}
    if better in rows and worse in rows:
        gain = rows[better]["revenue_next_12_months"] - rows[worse]["revenue_next_12_months"]
        pct = rows[better]["revenue_next_12_months"] / rows[worse]["revenue_next_12_months"] - 1
        # Top left is empty: every path starts at today's MRR, mid-height.
        fig.add_annotation(
            xref="paper",
            yref="paper",
            x=0.01,
            y=0.98,
            xanchor="left",
            yanchor="top",
            text=f"{better} instead of {worse} monthly net churn:<br>"
            f"<b>+${gain:,.0f}</b> revenue over the next 12 months (+{pct * 100:.0f} %)",
            showarrow=False,
            align="left",
            font={"color": "#0f172a", "size": 13},
            bgcolor="rgba(255,255,255,0.9)",
            bordercolor=COLORS["healthy"],
            borderwidth=1,
            borderpad=6,
        )
    fig.update_layout(
        xaxis={"title": "Months from today", "dtick": 1},
        yaxis={"title": "MRR", "tickformat": "$,.3~s", "rangemode": "tozero"},
    )
    _layout(fig, "MRR over the next 12 months under each monthly net churn", height=400)
    # The title is long: the legend goes under the axis instead of beside the title.
    fig.update_layout(legend={"y": -0.22, "x": 0, "xanchor": "left"}, margin={"b": 40})
    return fig


def _tick(value: str, labels: dict[str, str]) -> str:
    # Colour each category's label with its app-wide colour, so the axes read like a legend.
    return f"<span style='color:{COLORS.get(value, MUTED)}'>{labels.get(value, value)}</span>"


def alignment_matrix(frame: pl.DataFrame) -> go.Figure:
    """Heat map of ARR by CSM sentiment (rows) and data tier (columns), each cell annotated."""
    tiers = _ordered(frame["tier"].to_list(), TIERS)
    sentiments = _ordered(frame["csm_sentiment"].to_list(), SENTIMENTS)
    cells = {(r["csm_sentiment"], r["tier"]): r for r in frame.to_dicts()}
    z, text, custom = [], [], []
    for s in sentiments:
        row = [cells.get((s, t), {"accounts": 0, "arr": 0.0}) for t in tiers]
        z.append([c["arr"] or 0 for c in row])
        text.append([f"${c['arr'] or 0:,.0f}<br>{c['accounts']} accounts" for c in row])
        custom.append([c["accounts"] for c in row])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=tiers,
            y=sentiments,
            text=text,
            texttemplate="%{text}",
            customdata=custom,
            colorscale="Blues",
            colorbar={"title": "ARR", "tickformat": "$,.3~s"},
            hovertemplate="CSM says %{y}, data says %{x}<br>%{customdata} accounts, "
            "%{z:$,.0f} ARR<extra></extra>",
        )
    )
    for s, t in DISAGREEMENTS:
        if s in sentiments and t in tiers:
            x, y = tiers.index(t), sentiments.index(s)
            fig.add_shape(
                type="rect",
                x0=x - 0.48,
                x1=x + 0.48,
                y0=y - 0.48,
                y1=y + 0.48,
                line={"color": COLORS["at_risk"], "width": 2, "dash": "dash"},
            )
    fig.update_layout(
        xaxis={
            "title": "Data: health tier (dashed: CSM and data disagree)",
            "tickvals": tiers,
            "ticktext": [_tick(t, TIER_LABELS) for t in tiers],
            "side": "bottom",
        },
        yaxis={
            "title": "CSM: latest sentiment",
            "tickvals": sentiments,
            "ticktext": [_tick(s, SENTIMENT_LABELS) for s in sentiments],
            "autorange": "reversed",
        },
        hovermode="closest",
    )
    return _layout(fig, "ARR by CSM sentiment and health tier", height=340)


def icp_traits(frame: pl.DataFrame) -> go.Figure:
    """Grouped bars per trait: each value's share among all, product's ideal and CS's green."""
    # The trait with the most values (industry) gets a whole row; the others share the first.
    traits = _ordered(frame["trait"].to_list(), ("segment", "plan", "region", "industry"))
    top, wide = traits[:3], traits[3:]
    cols = max(len(top), 1)
    fig = make_subplots(
        rows=1 + len(wide),
        cols=cols,
        specs=[[{}] * cols] + [[{"colspan": cols}] + [None] * (cols - 1) for _ in wide],
        subplot_titles=[t.title() for t in traits],
        horizontal_spacing=0.06,
        vertical_spacing=0.14,
    )
    for i, trait in enumerate(traits):
        row, col = (1, i + 1) if i < cols else (2 + i - cols, 1)
        part = frame.filter(pl.col("trait") == trait)
        for column, label, color in ICP_GROUPS:
            fig.add_bar(
                x=part["value"].to_list(),
                y=part[column].to_list(),
                name=label,
                legendgroup=column,
                showlegend=i == 0,
                marker_color=color,
                hovertemplate=f"{label}<br>%{{x}}: %{{y:.0%}}<extra></extra>",
                row=row,
                col=col,
            )
    fig.update_layout(barmode="group", hovermode="closest")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_yaxes(title_text="Share of accounts", col=1)
    _layout(fig, "Who is the ideal customer? Each trait's share of each list", height=620)
    # Room for the legend between the title and the first row of panels.
    fig.update_layout(margin={"t": 100}, legend={"y": 1.1})
    return fig


def playbook_forest(table: pl.DataFrame, outcome: str, label: str) -> go.Figure:
    """Per playbook: the difference with its 90 % interval; randomised and observational apart."""
    share = outcome in ("churned_180d", "expanded_180d")
    scale = 100.0 if share else 1.0
    fig = go.Figure()
    styles = {"randomised": (ACCENT, "circle"), "observational": (MUTED, "diamond")}
    for evidence, (color, symbol) in styles.items():
        rows = table.filter((pl.col("outcome") == outcome) & (pl.col("evidence") == evidence))
        if rows.is_empty():
            continue
        diff = rows["difference"] * scale
        fig.add_trace(
            go.Scatter(
                x=diff,
                y=rows["reason"].str.replace_all("_", " "),
                mode="markers",
                name=evidence.capitalize(),
                marker={"color": color, "symbol": symbol, "size": 10},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": rows["high"] * scale - diff,
                    "arrayminus": diff - rows["low"] * scale,
                },
                customdata=rows.select("treated_n", "compared_n").to_numpy(),
                hovertemplate="%{y}: %{x:.1f}<br>n = %{customdata[0]} with, "
                "%{customdata[1]} without<extra></extra>",
            )
        )
    fig.add_vline(x=0, line={"color": "#475569", "width": 1})
    unit = "percentage points" if share else "health points"
    fig.update_xaxes(title=f"With the action minus without ({unit})")
    return _layout(fig, label, height=max(260, 60 + 34 * table["reason"].n_unique()))
