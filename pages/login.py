"""Sign in: a form for local users, a button for single sign-on, or why the app can't open."""

from health.app import signin as ui_auth
from pages import PAGES

ui_auth.login_page(PAGES)
