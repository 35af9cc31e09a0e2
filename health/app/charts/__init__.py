"""Plotly figure builders for the pages: shared palette and layout, product, leadership, model."""
