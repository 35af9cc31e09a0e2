"""The app's router: page config, first-run bootstrap, shared sidebar, navigation."""

from pathlib import Path

import streamlit as st

from health import bootstrap, catalog, db, ui
from pages import PAGES

st.set_page_config(
    page_title="Customer health",
    # A local file: a :material/ page icon would be fetched from the internet.
    page_icon=str(Path(__file__).parent / "assets" / "icon.png"),
    layout="wide",
)


@st.cache_resource(show_spinner=False)
def _ensure_database(path: str) -> None:
    # Once per server process: a fresh clone has no database, so build the demo one.
    if db.exists(path):
        return
    with st.status("First run: building the demo database…", expanded=True) as status:
        bootstrap.ensure_database(path, progress=st.write)
        status.update(label="Demo database ready", state="complete", expanded=False)


ui.guard(lambda: _ensure_database(str(db.db_path())))

pages = {}
for spec in PAGES:
    page = st.Page(spec.file, title=spec.title, icon=spec.icon, url_path=spec.url)
    pages.setdefault(spec.section, []).append(page)
current = st.navigation(pages)

with st.sidebar:
    if db.exists():
        facts = catalog.meta(ui.cursor())
        st.caption(f"Data as of **{facts.get('as_of', 'not refreshed')}**")
        st.caption(f"Refreshed {facts.get('refreshed_at', 'never')}")

ui.guard(current.run)
