"""The app's router: page config, first-run bootstrap, sign-in gate, shared sidebar, navigation."""

from pathlib import Path

import streamlit as st

from health import auth
from health.app import connection, filters, loading, signin, widgets
from health.db import catalog
from pages import PAGES

st.set_page_config(
    page_title="Customer health",
    # A local file: a :material/ page icon would be fetched from the internet.
    page_icon=str(Path(__file__).parent / "assets" / "icon.png"),
    layout="wide",
)

user = signin.current_user()  # None until someone signs in, or when the app may not open
if user is None:
    # Only the sign-in page exists until then. It answers at every page's URL too, so that a
    # deep link (an account's page) opens, checked, once signed in, instead of "page not found".
    login = "pages/login.py"
    sign_in_pages = [st.Page(login, title="Sign in", url_path="login", default=True)]
    sign_in_pages += [st.Page(login, title="Sign in", url_path=spec.url) for spec in PAGES]
    current = st.navigation(sign_in_pages, position="hidden")
else:
    allowed = auth.pages_for(user.role, [spec.url for spec in PAGES])
    pages = {}
    for spec in PAGES:
        if spec.url in allowed:  # a page a role may not open is not registered at all
            page = st.Page(spec.file, title=spec.title, icon=spec.icon, url_path=spec.url)
            pages.setdefault(spec.section, []).append(page)
    current = st.navigation(pages)

signin.app_navigation_registered()

# After the menu is registered, so the first run shows the app's own navigation while it builds.
# A fresh clone has no database: the first run builds the demo one in a server thread, and every
# page shows its progress instead of itself until it is done (a click elsewhere stops nothing).
if not widgets.guard(loading.first_run):
    st.stop()


def _data_facts() -> None:
    facts = catalog.meta(connection.cursor())
    st.caption(f"Data as of **{facts.get('as_of', 'not refreshed')}**")
    st.caption(f"Refreshed {facts.get('refreshed_at', 'never')}")


if user is not None:
    with st.sidebar:
        signin.sidebar(user)
        widgets.guard(_data_facts)
    widgets.guard(filters.sidebar_filters)

widgets.guard(current.run)
