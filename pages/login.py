"""Sign in: a form for local users, a button for single sign-on, or why the app can't open."""

from health.app import signin
from pages import PAGES

signin.login_page(PAGES)
