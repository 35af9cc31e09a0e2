"""CSV exports that are safe to open in a spreadsheet."""

from __future__ import annotations

import polars as pl

# A spreadsheet runs a cell starting with these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a quote."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.any_horizontal([pl.col(c).str.starts_with(s) for s in FORMULA_STARTS]))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )


def to_csv(frame: pl.DataFrame) -> bytes:
    """The frame as UTF-8 CSV bytes, formulas neutralised."""
    return neutralise(frame).write_csv().encode("utf-8")
