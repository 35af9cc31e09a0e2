"""A real Chromium opens the app, walks every page, and finds no exception or console error."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pages import PAGES
from tests import test_login as login
from tests.conftest import APP_DIR

pytestmark = pytest.mark.browser
ARTIFACTS = APP_DIR / "tests" / "artifacts"
books, users_toml = login.books, login.users_toml  # fixtures, by name
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's Chromium, not a downloaded one; no background traffic on this closed network.
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (scripts/check.sh does it)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(database: Path, users: str | None = None) -> Iterator[str]:
    """A real streamlit process serving the app on `database` (and a users file); its URL."""
    port = _free_port()
    env = {**os.environ, "HEALTH_DB": str(database)}
    if users:
        env["HEALTH_USERS"] = users
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=APP_DIR,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the streamlit server did not come up in 60 s"
            assert proc.poll() is None, "the streamlit server exited"
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a busy CI machine: a run still finishing its page
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture(scope="session")
def server(warehouse):
    """The app served by a real streamlit process on the demo warehouse."""
    with serve(warehouse) as url:
        yield url


def wait_for_page(page) -> None:
    """Wait until the script has finished running (the status widget is gone)."""
    page.wait_for_selector('[data-testid="stMain"]')
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    # A run may not have started yet when the status widget is absent: wait for the skeletons
    # Streamlit shows in place of elements still to come to be gone too.
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
        timeout=60_000,
    )
    page.wait_for_timeout(300)


# On a deep link Streamlit's frontend probes <page>/_stcore/health and /host-config before it
# falls back to the root; those 404s are its own base-path detection, not errors of the app.
BASE_PATH_PROBE = re.compile(r"/[\w-]+/_stcore/(health|host-config)$")
NOT_FOUND = "Failed to load resource: the server responded with a status of 404"


def test_walk_every_page_in_a_real_browser(server, page):
    errors: list[str] = []
    bad_responses: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: bad_responses.append(r.url) if r.status >= 400 else None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(server)
    wait_for_page(page)
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)

    for i, spec in enumerate(PAGES):
        # Streamlit serves the default (first) page at the root only.
        page.goto(f"{server}/{spec.url}" if i else server)
        wait_for_page(page)
        assert page.locator("h1").first.inner_text().strip() == spec.title
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / f"{spec.url}.png"), full_page=True)

    # Navigation by clicking, as a person would.
    page.get_by_role("link", name="Accounts", exact=True).click()
    wait_for_page(page)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    # The drill-down: click the riskiest account in the book, land on its page and timeline.
    page.goto(server)
    wait_for_page(page)
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)
    page.wait_for_timeout(500)  # the grid paints on a canvas after the element appears
    # The grid is a canvas: click the first row's account name, as a person would (not the
    # selection box at x 18; header ~35 px, rows ~35 px). The URL then names the account.
    page.locator('[data-testid="stDataFrame"]').first.click(position={"x": 200, "y": 52})
    page.wait_for_url("**/account?account=*", timeout=30_000)
    wait_for_page(page)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "account.png"), full_page=True)

    unexpected = [u for u in bad_responses if not BASE_PATH_PROBE.search(u)]
    assert not unexpected, unexpected
    assert not [e for e in errors if not e.startswith(NOT_FOUND)], errors


def test_a_deep_link_as_a_servers_first_request_opens_in_the_app(warehouse, page):
    # Before app.py has run once, Streamlit would run pages/account.py on its own (its old
    # pages/ folder mode): no menu of the app's, no first-run build. It must open in the app.
    from health import db

    con = db.connect(warehouse)
    account_id, name = con.execute(
        "SELECT account_id, name FROM mart_account_overview ORDER BY account_id LIMIT 1"
    ).fetchall()[0]
    con.close()
    with serve(warehouse) as url:
        page.goto(f"{url}/account?account={account_id}")
        wait_for_page(page)
        assert page.locator("h1").first.inner_text().strip() == name
        menu = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        assert [m.split("\n")[-1] for m in menu] == [spec.title for spec in PAGES]
        assert page.locator('[data-testid="stException"]').count() == 0


def test_hostile_data_makes_the_browser_fetch_nothing_from_another_host(hostile, page):
    # tests/hostile.py plants image and link Markdown, HTML, a right-to-left override and a
    # 1 MB name in one account: the browser must ask no host but the app's for anything.
    from urllib.parse import urlparse

    from tests.hostile import EVIL, RLO

    path, account_id = hostile
    hosts: set[str] = set()
    page.on(
        "request",
        lambda r: (
            hosts.add(urlparse(r.url).hostname or "")
            if urlparse(r.url).scheme in ("http", "https", "ws", "wss")
            else None
        ),
    )
    with serve(path) as url:
        for where in (f"account?account={account_id}", "accounts", "segments"):
            page.goto(f"{url}/{where}")
            wait_for_page(page)
            assert page.locator('[data-testid="stException"]').count() == 0, where
            assert page.locator(f'a[href*="{EVIL}"], img[src*="{EVIL}"]').count() == 0, where
        page.goto(f"{url}/account?account={account_id}")
        wait_for_page(page)
        title = page.locator("h1").first.inner_text()
        assert RLO not in title and len(title) < 400 and title.startswith("![p](http://")
        page.get_by_role("tab", name="NPS").click()
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "hostile-account.png"), full_page=False)
    assert hosts == {"127.0.0.1"}, hosts


def signed_in_as(page) -> str:
    """The sidebar's "Signed in as …" line, or "" on the sign-in form."""
    caption = page.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]')
    texts = [t for t in caption.all_inner_texts() if t.startswith("Signed in as")]
    return texts[0] if texts else ""


def test_a_sign_in_survives_a_reload_in_a_cookie_and_never_in_the_url(warehouse, users_toml, page):
    from health.app.signin import COOKIE
    from health.auth import get_user, tokens

    # An old link with a good token in its query (how sign-ins were once kept) signs nobody in.
    secret = tokens.load_secret(Path(users_toml).with_name(".session-secret"))
    old_link = tokens.issue(get_user("pat", Path(users_toml)), secret)
    with serve(warehouse, users=users_toml) as url:
        page.goto(f"{url}/?session={old_link}")
        wait_for_page(page)
        assert page.locator("h1").first.inner_text().strip() == "Customer health"
        page.wait_for_function("!location.search.includes('session=')", timeout=10_000)

        page.get_by_label("Username").fill("pat")
        page.get_by_role("textbox", name="Password").fill(login.PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_function(f"document.cookie.includes('{COOKIE}=')", timeout=30_000)
        cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
        assert (cookie["path"], cookie["sameSite"], cookie["secure"]) == ("/", "Strict", False)
        assert 0 < cookie["expires"] - time.time() <= tokens.TTL_SECONDS

        page.reload()  # a new session: only the cookie can say who this is
        wait_for_page(page)
        assert signed_in_as(page) == "Signed in as Pat PM (pm)"
        assert "session=" not in page.url
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "signed-in-after-reload.png"))

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_function(f"!document.cookie.includes('{COOKIE}=')", timeout=30_000)
        page.reload()
        wait_for_page(page)
        # The form comes with the script's rerun after the cookie check: wait for it, not a time.
        page.get_by_label("Username").wait_for(timeout=30_000)
        assert page.get_by_label("Username").count() == 1 and signed_in_as(page) == ""
        assert "session=" not in page.url
