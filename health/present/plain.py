"""Customer-controlled text made safe to show: no Markdown, no bidi overrides, bounded length.

Names, comments, notes and evidence come from customers' files. Shown through Markdown, `![p]
(http://host/x.png)` would make every viewer's browser fetch a URL and `[x](http://…)` would be a
live link; a right-to-left override would show a name reversed; a 1 MB name would freeze the
browser. No Streamlit here: health/app/text.py shows what these functions return.
"""

from __future__ import annotations

import re

# Embedding, override and isolate controls: they reorder the text around them on screen.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Every character Markdown (CommonMark, GFM, Streamlit's :color[..]:, :icons:, $math$) reads.
MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=&\"'^])")
SHORT, LONG = 200, 2000  # characters: titles and card lines; paragraphs of free text


def clean(text: object, limit: int | None = SHORT) -> str:
    """The text without bidi controls, cut to `limit` characters (an ellipsis says so)."""
    if text is None:
        return ""
    text = BIDI_CONTROLS.sub("", str(text))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def escape_markdown(text: object, limit: int | None = SHORT) -> str:
    """The text cleaned (see `clean`) and escaped so that Markdown shows it as written, on one
    line (a newline would start a heading or a list)."""
    text = " ".join(clean(text, limit).split())
    return MARKDOWN_SPECIALS.sub(r"\\\1", text)


def escape_html(text: object, limit: int | None = SHORT) -> str:
    """The text cleaned and escaped for Plotly's hover and label HTML subset."""
    return clean(text, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
