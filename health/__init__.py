"""Customer-success health: load product and CS data, score accounts, find moments of truth."""

__version__ = "0.1.0"
