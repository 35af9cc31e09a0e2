"""Plotly figure builders for the pages: shared palette and layout, product, leadership, model."""

# base sets the template every figure starts from, whichever chart module a page imports first.
from health.app.charts import base as base
