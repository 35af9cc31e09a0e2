"""Plotly figures for the Model page: card in, figure out."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

# The app's palette (health/app/charts/base.py), repeated so this module stands alone.
ACCENT = "#2563eb"
MUTED = "#94a3b8"
RISK_UP = "#dc2626"
RISK_DOWN = "#16a34a"


def _layout(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        showlegend=False,
    )
    return fig


def versus_baselines(card: dict) -> go.Figure:
    """Backtest AUC and top-decile lift of the model and of the simple rules it must beat."""
    bt = card["backtest"]
    names = [f"Model ({card['model'].replace('_', ' ')})", *card["baselines"]]
    aucs = [bt["auc"], *(b["auc"] for b in card["baselines"].values())]
    lifts = [bt["top_decile_lift"], *(b["top_decile_lift"] for b in card["baselines"].values())]
    colors = [ACCENT] + [MUTED] * len(card["baselines"])
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("AUC (0.5 = chance)", "Top-decile lift (1 = chance)")
    )
    for col, values, fmt in ((1, aucs, ".2f"), (2, lifts, ".1f")):
        fig.add_bar(
            x=[v or 0 for v in values],
            y=names,
            orientation="h",
            marker_color=colors,
            text=[format(v or 0, fmt) for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:" + fmt + "}<extra></extra>",
            row=1,
            col=col,
        )
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=2)
    fig.add_vline(x=0.5, line_dash="dot", line_color=MUTED, row=1, col=1)
    fig.add_vline(x=1.0, line_dash="dot", line_color=MUTED, row=1, col=2)
    return _layout(fig, "Backtest on later dates: the model against simple rules")


def calibration(card: dict) -> go.Figure:
    """Predicted vs observed 90-day churn rate per risk bin, against the perfect diagonal."""
    rows = card["calibration"]
    predicted = [r["predicted"] for r in rows]
    observed = [r["observed"] for r in rows]
    top = max([*predicted, *observed, 0.01]) * 1.05
    fig = go.Figure()
    fig.add_scatter(
        x=[0, top],
        y=[0, top],
        mode="lines",
        line={"color": MUTED, "dash": "dot"},
        hoverinfo="skip",
        name="perfect",
    )
    fig.add_scatter(
        x=predicted,
        y=observed,
        mode="lines+markers",
        marker={"color": ACCENT, "size": 9},
        line={"color": ACCENT},
        customdata=[r["n"] for r in rows],
        hovertemplate=(
            "predicted %{x:.1%}<br>observed %{y:.1%}<br>%{customdata:,} snapshots<extra></extra>"
        ),
        name="model",
    )
    fig.update_layout(
        xaxis={"title": "Predicted churn risk", "tickformat": ".0%", "range": [0, top]},
        yaxis={"title": "Observed churn within 90 days", "tickformat": ".0%", "range": [0, top]},
    )
    return _layout(fig, "Calibration: does a 20 % risk churn 20 % of the time?")


def risk_drivers(card: dict, top: int = 12) -> go.Figure:
    """What drives risk overall: AUC lost when a feature is shuffled, coloured by direction."""
    rows = card.get("importance", [])[:top]
    labels = [r["label"] for r in rows]
    colors = [RISK_UP if (r["direction"] or 0) > 0 else RISK_DOWN for r in rows]
    how = ["more means riskier" if (r["direction"] or 0) > 0 else "more means safer" for r in rows]
    fig = go.Figure(
        go.Bar(
            x=[r["importance"] for r in rows],
            y=labels,
            orientation="h",
            marker_color=colors,
            customdata=how,
            hovertemplate="%{y}: AUC -%{x:.3f} when shuffled (%{customdata})<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="AUC lost when the feature is shuffled")
    return _layout(
        fig, "What drives risk (red: more means riskier, green: safer)", 80 + 28 * len(rows)
    )


def scorecard_weights(weights: dict[str, float]) -> go.Figure:
    """The scorecard's component weights (cold start: what carries the score)."""
    fig = go.Figure(
        go.Bar(
            x=list(weights.values()),
            y=list(weights),
            orientation="h",
            marker_color=ACCENT,
            hovertemplate="%{y}: weight %{x:.0%}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickformat=".0%")
    return _layout(fig, "Scorecard weights", 260)
