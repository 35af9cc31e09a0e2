"""Streamlit glue for sign-in: who is using this session, the login page, access checks.

Three modes, decided on every rerun (cheap: the users file is re-read only when it changes):
- single sign-on (OIDC through `st.login`) when secrets.toml has an `[auth]` section; the
  users file maps each email to a role;
- a local users file with hashed passwords (data/users.toml or $HEALTH_USERS) otherwise;
- single-user mode when no users are configured: one admin, allowed only while the server
  listens on the loopback address, so nobody else can reach it.
Like every module of health/app/, it may import Streamlit; nothing outside health/app/ does.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import polars as pl
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from health import auth
from health.app import loading
from health.app.text import md
from health.auth import redact as redaction
from health.auth import tokens
from health.auth.users import User

log = logging.getLogger("health.app")

SESSION_KEY = "_health_signed_in"  # (username, password hash) after a good local login
LOCAL_USER = User(username="local", name="Local user", role="admin")
NOT_LOCAL = (
    "Single-user mode (no users configured) only runs on this machine, but this server listens "
    "on {address}. Add users with `python -m health users add USERNAME --role admin`, or serve "
    'on localhost (`server.address = "127.0.0.1"` in .streamlit/config.toml).'
)


@dataclass(frozen=True)
class Access:
    """Who is here (None until someone signs in), how they sign in, and any problem to show."""

    user: User | None
    mode: str  # "oidc", "local", "single", or "broken" (the users file can't be read)
    problem: str = ""


def oidc_configured() -> bool:
    """Whether secrets.toml configures single sign-on (an `[auth]` section); never raises."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # noqa: BLE001 - a broken secrets file means no SSO, said in the log
        log.warning("could not read secrets.toml; single sign-on is off", exc_info=True)
        return False


def is_loopback(address: str | None) -> bool:
    """Whether the server address only accepts connections from this machine."""
    if not address:
        return False  # unset or empty: Streamlit listens on every interface
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def resolve() -> Access:
    """Who is using this session, by the first mode that applies."""
    try:
        configured = auth.users_configured()
    except auth.UsersError as exc:
        # A broken users file must not fall back to single-user mode: that would open the app.
        return Access(None, "broken", f"The app can't tell who may use it: {exc}")
    if oidc_configured():
        return _oidc()
    if configured:
        return _local()
    address = st.get_option("server.address")
    if not is_loopback(address):
        return Access(None, "single", NOT_LOCAL.format(address=address or "every interface"))
    return Access(LOCAL_USER, "single")


def _oidc() -> Access:
    if not st.user.get("is_logged_in"):
        return Access(None, "oidc")
    email = str(st.user.get("email") or "")
    if st.user.get("email_verified") is False:
        return Access(None, "oidc", f"Your identity provider has not verified {email}.")
    user = auth.user_for_email(email)
    if user is None:
        return Access(
            None,
            "oidc",
            f"{email or 'Your account'} is not set up in this app. Ask an admin to run "
            "`python -m health users add USERNAME --role ROLE --email EMAIL --no-password`.",
        )
    return Access(user, "oidc")


def _local() -> Access:
    _drop_url_token()
    signed = st.session_state.get(SESSION_KEY)
    if not signed:
        # A reload or a new tab starts a new session: the signed token in the session cookie
        # carries the sign-in over (set by a script in the browser; see `cookie_script`).
        user = _from_cookie()
        if user is None:
            return Access(None, "local")
        signed = st.session_state[SESSION_KEY] = (user.username, user.password_hash)
    username, password_hash = signed
    user = auth.get_user(username)
    # Removed from the file, or given a new password: the session ends (the stale entry stays
    # until the next sign-in replaces it, so every check in this run says the same).
    if user is None or user.password_hash != password_hash:
        return Access(None, "local", "Your sign-in has ended; sign in again.")
    if not st.session_state.get(TOKEN_KEY):
        st.session_state[TOKEN_KEY] = tokens.issue(user, _secret())
    return Access(user, "local")


COOKIE = "health_session"  # the cookie holding the signed token (auth/tokens.py)
TOKEN_KEY = "_health_token"  # this session's token, written to the cookie by `cookie_script`
SIGNED_OUT_KEY = "_health_signed_out"  # signed out here: the cookie this session began with
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
OLD_URL_PARAM = "session"  # where the token used to be kept; dropped so old links stop working


def _secret() -> bytes:
    # A deployment may set one in secrets.toml (session_secret = "…"); else one under data/.
    try:
        if st.secrets.load_if_toml_exists() and st.secrets.get("session_secret"):
            return str(st.secrets["session_secret"]).encode()
    except Exception:  # noqa: BLE001 - a broken secrets file: the file under data/ serves
        log.warning("could not read session_secret from secrets.toml", exc_info=True)
    return tokens.load_secret()


def _drop_url_token() -> None:
    # A sign-in token in a link would sign in whoever the link is sent to: never honoured.
    if OLD_URL_PARAM in st.query_params:
        del st.query_params[OLD_URL_PARAM]


def _cookie_token() -> str | None:
    """The token in the session cookie the browser sent when this session began, if any."""
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) and value else None  # AppTest's cookies: a mock


def _from_cookie() -> User | None:
    # Cookies are those of the session's first request: after a sign-out here they are stale.
    if st.session_state.get(SIGNED_OUT_KEY):
        return None
    token = _cookie_token()
    # Only the shape `issue` makes: base64 decoding skips stray characters, and the token is
    # written back into a script (`cookie_script`).
    user = tokens.check(token, _secret()) if token and TOKEN_SHAPE.fullmatch(token) else None
    if user is not None:
        st.session_state[TOKEN_KEY] = token
    return user


COOKIE_SCRIPT = """<script>
(function () {{
  var secure = window.parent.location.protocol === "https:" ? "; Secure" : "";
  window.parent.document.cookie =
    "{name}={value}; Path=/; SameSite=Strict; Max-Age={age}" + secure;
}})();
</script>"""


def cookie_script(token: str | None) -> str:
    """A script that stores this token in the app page's session cookie, or clears it (None).

    Streamlit 1.67 reads cookies (`st.context.cookies`) but cannot set one, so the browser
    does: an HTML iframe (st.iframe) is same-origin with the app, so its script can write the
    parent page's cookie. It lasts as long as a token (whose own expiry is what counts).
    """
    if token is None:
        return COOKIE_SCRIPT.format(name=COOKIE, value="", age=0)
    if not TOKEN_SHAPE.fullmatch(token):
        raise ValueError("not a sign-in token")
    return COOKIE_SCRIPT.format(name=COOKIE, value=token, age=tokens.TTL_SECONDS)


def _write_cookie(token: str | None) -> None:
    # The same html on every run: Streamlit keeps the iframe, so the script runs once.
    # st.iframe is components.v1.html's successor (deprecated in 1.67), same-origin alike.
    st.iframe(cookie_script(token), height=1, tab_index=-1, alt="Sign-in cookie")


def current_user() -> User | None:
    """The signed-in user, or None when nobody is (the router then shows the login page)."""
    return resolve().user


def signed_in() -> User:
    """The signed-in user; when nobody is, show the sign-in form in place and stop the page.

    app.py shows only the login page until someone signs in. A page file Streamlit ran on its
    own (a deep link to a server on which app.py has not run yet) is handed over to app.py
    here first (`run_by_the_app`): every check a page relies on goes through this function.
    """
    run_by_the_app()
    user = current_user()
    if user is None:
        login_page()
        st.stop()
    return user


_APP_RAN = threading.Event()  # app.py has registered its navigation in this process


def app_navigation_registered() -> None:
    """Called by app.py once its st.navigation is registered (see `run_by_the_app`)."""
    _APP_RAN.set()


def run_by_the_app() -> None:
    """Hand a page file that Streamlit ran on its own over to app.py, on the same page.

    Until app.py has called st.navigation once in this server process, Streamlit takes the
    pages/ folder for an old-style multipage app: a deep link (or a click during the first run)
    runs that file alone, without app.py's sign-in, first-run build and menu, and lists every
    file in the sidebar. st.navigation turns that mode off for good; this does what it does and
    reruns, so that app.py runs and opens the page asked for (same URL, same query). Once app.py
    has run, nothing is done: AppTest resets the mode before every run it makes and expects its
    widget values to reach the page file it runs."""
    if PagesManager.uses_pages_directory and not _APP_RAN.is_set():
        PagesManager.uses_pages_directory = False
        st.rerun()


def require_page(url: str) -> User:
    """Stop the page unless someone is signed in whose role may open the page at this url, and
    until the first run's build of the database is done (its progress shown instead)."""
    user = signed_in()
    if not auth.can_open(user.role, url):
        st.error(f"This page is not open to the {user.role} role.", icon=":material/lock:")
        st.stop()
    _say_why_not_the_page_asked_for(user, url)
    # app.py holds the page back already; a page file Streamlit runs on its own (see
    # run_by_the_app) is held here too.
    if not loading.first_run():
        st.stop()
    return user


ROLE_PLURALS = {"csm": "CSMs", "pm": "product managers", "leader": "leaders", "admin": "admins"}


def _say_why_not_the_page_asked_for(user: User, url: str) -> None:
    # A URL of a page this role may not open is not registered, so Streamlit runs the default
    # page in its place without a word: say why, instead of a silent redirect.
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        from streamlit.util import calc_hash
    except ImportError:  # a Streamlit that moved them: no message rather than an error
        return

    # Streamlit's own record of the page asked for; read defensively (not a public API).
    manager = getattr(get_script_run_ctx(), "pages_manager", None)
    by_hash = {calc_hash(u): u for u in auth.PAGE_ROLES}
    asked = getattr(manager, "intended_page_name", None) or by_hash.get(
        getattr(manager, "intended_page_script_hash", None) or ""
    )
    if not asked or asked == url or asked not in auth.PAGE_ROLES:
        return
    if auth.can_open(user.role, asked):
        return
    who = [ROLE_PLURALS[r] for r in auth.ROLES if r in auth.PAGE_ROLES[asked]]
    who = ", ".join(who[:-1]) + " and " + who[-1] if len(who) > 1 else "".join(who)
    st.info(
        f"The {asked.replace('-', ' ').capitalize()} page is for {who}, so it is "
        f"not open to your role; here is {url.replace('-', ' ').capitalize()} instead.",
        icon=":material/info:",
    )


def default_owner() -> str | None:
    """A CSM's book (the csm_owner value they own), which is all they may see; else None."""
    user = signed_in()
    return user.csm_name if user.role == "csm" else None


def may_open_account(owner: str | None) -> bool:
    """Whether the signed-in user may open an account of this owner (a CSM: their book)."""
    return auth.can_view_account(signed_in(), owner)


def refuse_account(account_id: str) -> None:
    """Say the account can't be opened, and stop the page.

    A CSM gets the same answer for another book's account as for one that does not exist, so
    that editing the URL tells them nothing about other books."""
    user = signed_in()
    log.info("refused account %r to %r", account_id, user)
    shown = md(account_id, 80)
    if user.role == "csm":
        st.error(
            f"There is no account {shown} in your book. Your own book is on the My accounts page.",
            icon=":material/lock:",
        )
    else:
        st.error(f"There is no account {shown} in this data.", icon=":material/search_off:")
    st.stop()


def redact(
    frame: pl.DataFrame,
    names: Iterable[str | None] = (),
    champion: str | None = None,
    columns: Iterable[str] = auth.CONTACT_COLUMNS,
) -> pl.DataFrame:
    """The frame as the signed-in user's role may see it (health/auth/redact.py)."""
    return redaction.redact(frame, signed_in().role, names, champion, columns)


def sees_contacts() -> bool:
    """Whether the signed-in user's role sees the names and emails of people at customers."""
    return auth.can_see_contacts(signed_in().role)


def people_redactor(
    names: Iterable[str | None], champion: str | None
) -> Callable[[str | None], str | None]:
    """A function hiding these people's names (full or first, any case) and email addresses in
    free text unless the user's role may see them: "the champion" or "a contact"."""
    if sees_contacts():
        return lambda text: text
    return redaction.Redactor(names, champion).text


def _throttle() -> auth.LoginThrottle:
    # A file beside the users file: failures count across sessions, threads and processes.
    return auth.LoginThrottle()


def login_page(pages: Sequence = ()) -> None:
    """The page shown to someone not signed in: a form, an SSO button, or why it can't open.

    `pages` (PageSpecs): where to go once signed in, when this page ran on its own (see
    `signed_in`); the first one the user's role may open.
    """
    run_by_the_app()
    access = resolve()
    if access.user is not None:
        home = next((p.file for p in pages if auth.can_open(access.user.role, p.url)), None)
        if home:
            st.switch_page(home)
        return
    st.title("Customer health")
    if access.problem:
        st.error(access.problem, icon=":material/lock:")
    if access.mode == "oidc":
        _sso_login(signed_in=bool(st.user.get("is_logged_in")))
    elif access.mode == "local":
        if st.session_state.get(SIGNED_OUT_KEY):
            _write_cookie(None)  # signed out: a reload or a new tab asks again
        _password_login()


def _sso_login(signed_in: bool) -> None:
    if signed_in:  # signed in at the provider, but not allowed here
        if st.button("Sign out", icon=":material/logout:"):
            st.logout()
        return
    st.write("Sign in with your company account to continue.")
    if st.button("Sign in with single sign-on", icon=":material/login:", type="primary"):
        try:
            st.login()
        except Exception:  # noqa: BLE001 - misconfiguration: say so instead of a traceback
            log.exception("st.login failed")
            st.error(
                "Single sign-on is configured in secrets.toml but could not start. Check the "
                "`[auth]` settings and that Authlib is installed (`pip install Authlib`).",
                icon=":material/error:",
            )


def _password_login() -> None:
    with st.form("login", clear_on_submit=True):
        username = st.text_input("Username", key="login_username", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="login_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", icon=":material/login:", type="primary")
    if not submitted:
        return
    username = auth.normal_username(username)  # once, for the throttle and the check alike
    throttle = _throttle()
    if not throttle.attempt(username):  # counted before the check: parallel guesses queue
        st.error(
            "Too many failed attempts for this username; wait five minutes and try again.",
            icon=":material/lock_clock:",
        )
        return
    user = auth.verify(username, password)
    if user:
        throttle.succeeded(username)
    if user is None:
        st.error("Wrong username or password.", icon=":material/error:")
        return
    st.session_state[SESSION_KEY] = (user.username, user.password_hash)
    st.session_state.pop(TOKEN_KEY, None)  # a fresh token for a fresh sign-in
    st.session_state.pop(SIGNED_OUT_KEY, None)
    st.rerun()


def sidebar(user: User) -> None:
    """Who is signed in and a way out; or that this is single-user mode."""
    if user is LOCAL_USER:
        st.caption("Single-user mode (no users configured) — local only")
        return
    st.caption(f"Signed in as **{user.name}** ({user.role})")
    if st.button("Sign out", icon=":material/logout:", key="logout"):
        if SESSION_KEY in st.session_state:
            del st.session_state[SESSION_KEY]
            st.session_state.pop(TOKEN_KEY, None)
            st.session_state[SIGNED_OUT_KEY] = True
            st.rerun()
        else:
            st.logout()
    if st.session_state.get(TOKEN_KEY):
        _write_cookie(st.session_state[TOKEN_KEY])  # so a reload or a new tab stays signed in
