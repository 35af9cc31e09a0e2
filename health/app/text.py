"""The one way the app shows customer-controlled text: as text, never as Markdown or HTML.

Account and user names, comments, notes, evidence and feature names come from customers' files:
everything that puts them on screen goes through these (escaped, bidi controls removed, long
text cut; see health/present/plain.py).
"""

from __future__ import annotations

import streamlit as st

from health.present.plain import LONG, SHORT, clean, escape_html, escape_markdown

__all__ = ["LONG", "SHORT", "clean", "html", "md", "paragraph", "subtitle", "title"]

md = escape_markdown  # inside a Markdown string the app writes: f"**Evidence.** {md(x)}"
html = escape_html  # inside Plotly hover texts and labels


def title(text: object) -> None:
    """A page title made of customer text (an account's name)."""
    st.title(md(text, SHORT))


def paragraph(text: object, limit: int = LONG) -> None:
    """A paragraph of customer text (a comment, a note) shown as written."""
    st.markdown(md(text, limit))


def subtitle(*values: object) -> str:
    """Customer values joined by " · " for a caption, each once and blanks left out (a segment
    and a plan of the same name read "Enterprise", not "Enterprise · Enterprise")."""
    kept = dict.fromkeys(str(v).strip() for v in values if v is not None and str(v).strip())
    return " · ".join(md(v) for v in kept)
