"""Issue 16, one story per failure found by trying to break the product: each fails on the
code before the fix. The pages' sweep over hostile data is tests/test_hostile_pages.py."""

from __future__ import annotations

import gzip
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from health import auth, db
from health.actions import log as action_log
from health.app import jobs, signin
from health.auth.redact import redact
from health.db import copy as copy_database
from health.ingest import loader as ingest
from health.pipeline.oneshot import write_csv
from health.present.plain import clean, escape_markdown
from tests import test_login as login
from tests.conftest import APP_DIR
from tests.folders import EVENTS, make_folder, rejects
from tests.test_ingest import cli
from tests.test_login import account_of, open_account, sign_in, start

books, users, users_toml = login.books, login.users, login.users_toml  # fixtures, by name

ACCOUNT_PAGE = "pages/account.py"


def unescaped(markdown: str) -> str:
    """Markdown source as a person reads it on screen (customer text in it is escaped)."""
    return re.sub(r"\\(.)", r"\1", markdown)


# --- 1 and 7: contact names and emails hidden in every output of a role without access ------


@pytest.fixture
def own_copy(warehouse, tmp_path, monkeypatch):
    """The app on a copy of the demo warehouse, with its own action log."""
    path = tmp_path / "health.duckdb"
    copy_database(warehouse, path)
    monkeypatch.setenv("HEALTH_DB", str(path))
    return path


@pytest.mark.usefixtures("users")
def test_1_a_pm_sees_no_contact_in_the_action_history_or_its_csv(own_copy):
    con = db.connect(own_copy)
    action_id, account_id, as_of = con.execute(
        "SELECT a.action_id, a.account_id, p.as_of FROM mart_actions AS a, params AS p "
        "WHERE a.evidence LIKE 'NPS%' ORDER BY a.priority DESC LIMIT 1"
    ).fetchall()[0]
    people = [n for (n,) in con.execute(
        "SELECT name FROM users WHERE account_id = ? AND name IS NOT NULL", [account_id]
    ).fetchall()]  # fmt: skip
    emails = [e for (e,) in con.execute(
        "SELECT email FROM users WHERE account_id = ? AND email IS NOT NULL", [account_id]
    ).fetchall()]  # fmt: skip
    con.close()
    first = people[0].split()[0]
    note = f"Called {first.lower()}, wrote to {emails[0]}"
    action_log.record(
        action_log.log_path(), action_id, account_id, "dismissed", note=note, as_of=as_of
    )

    def history(username: str) -> pl.DataFrame:
        at = open_account(sign_in(start(), username), ACCOUNT_PAGE, account_id)
        frames = [d.value for d in at.dataframe if "status" in d.value.columns]
        return pl.from_pandas(frames[-1]).filter(pl.col("action_id") == action_id)

    admin = history("root")
    assert first.lower() in admin["note"][0] and admin["email_body"][0]  # the admin sees who
    pm = history("pat")
    assert pm.height == 1
    text = " ".join(str(v) for v in pm.row(0) if isinstance(v, str)).lower()
    assert [p for p in people + [first] + emails if p.lower() in text] == []
    assert "a contact" in text or "the champion" in text


def test_7_emails_and_lower_case_names_in_free_text_are_hidden_from_a_pm():
    nps = pl.DataFrame(
        {
            "respondent": ["Adam Rossi"],
            "comment": ["adam here: write to adam.rossi@acme.example or ADAM ROSSI; pierre too"],
        }
    )
    names = ["Adam Rossi", "Pierre Dubois"]
    shown = redact(nps, "pm", names, champion="Pierre Dubois").row(0)
    assert shown == (None, "a contact here: write to (email hidden) or a contact; the champion too")
    assert redact(nps, "csm", names).equals(nps)


# --- 2, 5 and 11: customer text shown as text --------------------------------------------------


def test_2_5_11_customer_text_is_escaped_cut_and_without_bidi_controls():
    hostile = (
        "\u202e![p](http://evil.example/x.png) [a](http://evil.example) <b>x</b> " + "A" * 10**6
    )
    shown = escape_markdown(hostile)
    assert "\u202e" not in shown and len(shown) < 400
    assert "](" not in shown.replace("\\]\\(", "") and "http://" not in shown
    assert unescaped(shown) == clean(hostile)


def test_2_5_11_the_account_page_shows_a_hostile_name_as_text(hostile, monkeypatch):
    path, account_id = hostile
    monkeypatch.setenv("HEALTH_DB", str(path))
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60).run()
    at.query_params["account"] = account_id
    at.switch_page("pages/account.py").run()
    assert not at.exception
    title = at.title[0].value
    assert len(title) < 400 and "\u202e" not in title  # 1 MB, right-to-left override
    assert unescaped(title).startswith("![p](http://evil.example/name.png) [click me]")
    assert "http://" not in title  # escaped: neither an image nor a link


# --- 3: the throttle --------------------------------------------------------------------------


@pytest.fixture
def clean_throttle(request):
    request.getfixturevalue("users")
    auth.LoginThrottle().clear()
    yield
    auth.LoginThrottle().clear()


def test_3_padding_the_username_does_not_reset_the_throttle(clean_throttle):
    at = start()
    for _ in range(5):
        at = sign_in(at, "pat", "guess")
    for padded in ("pat ", " PAT", "Pat\t"):
        at = sign_in(at, padded)  # the right password, but the name is blocked in any form
        assert "Too many failed attempts" in at.error[0].value, padded
        assert not at.dataframe


def test_3_eight_parallel_wrong_attempts_get_at_most_five_checks(clean_throttle, monkeypatch):
    checks, lock = [], threading.Lock()
    real = auth.verify

    def counted(username, password, path=None):
        with lock:
            checks.append(username)
        return real(username, password, path)

    monkeypatch.setattr(auth, "verify", counted)
    sessions = []
    for _ in range(8):  # eight browser sessions at the form, filled in
        at = start()
        at.text_input(key="login_username").input("pat")
        at.text_input(key="login_password").input("guess")
        sessions.append(at)
    with ThreadPoolExecutor(8) as pool:  # all submit at once
        list(pool.map(lambda at: at.button[0].click().run(), sessions))
    assert len(checks) <= 5


# --- 4: implausible dates ---------------------------------------------------------------------


def test_4_dates_outside_a_plausible_range_are_rejected_with_the_reason(tmp_path):
    events = EVENTS + [
        {"account_id": "A1", "event_time": "9999-12-31T00:00:00", "event": "late"},
        {"account_id": "A1", "event_time": "1970-01-01T00:00:00", "event": "early"},
    ]
    accounts = [
        {"account_id": "A1", "name": "Acme", "signup_date": "2024-01-01"},
        {"account_id": "A2", "name": "Old", "signup_date": "1899-12-31"},
        {"account_id": "A3", "name": "Renews", "signup_date": "2024-01-01",
         "renewal_date": "2035-01-01"},  # a renewal ahead is a plan, not a typo
    ]  # fmt: skip
    path = tmp_path / "health.duckdb"
    ingest.load(make_folder(tmp_path, accounts=accounts, events=events), path)
    late, early = [r for r in rejects(path, "events") if "event_time" in r[1]]
    assert "event_time '9999-12-31" in late[1] and "too far after the day it was loaded" in late[1]
    assert "event_time '1970-01-01" in early[1] and "before 1990-01-01" in early[1]
    [(_, old)] = rejects(path, "accounts")
    assert old.startswith("signup_date '1899-12-31' is before 1990-01-01")


# --- 6: the console prints data as written ----------------------------------------------------


def test_6_brackets_in_a_header_are_an_error_not_a_crash(tmp_path, monkeypatch, capsys):
    folder = make_folder(tmp_path, accounts="account_id,na[/]me\nA1,Acme\n")
    code, err = cli(monkeypatch, capsys, "load", str(folder), "--db", str(tmp_path / "x.duckdb"))
    assert code == 2 and "Traceback" not in err and "MarkupError" not in err
    assert "na[/]me" in err


def test_6_a_rejected_cell_with_brackets_is_printed_after_the_load(tmp_path, monkeypatch, capsys):
    accounts = [
        {"account_id": "A1", "name": "Acme", "signup_date": "2024-01-01"},
        {"account_id": "A2", "name": "x", "signup_date": "[/x]"},
    ]
    folder = make_folder(tmp_path, accounts=accounts)
    code, err = cli(monkeypatch, capsys, "load", str(folder), "--db", str(tmp_path / "x.duckdb"))
    assert code == 0, err
    assert "signup_date '[/x]' is not an ISO 8601 date" in err and "Loaded into" in err


# --- 8: every CSV the CLI writes is safe in a spreadsheet -------------------------------------


def test_8_score_and_moments_files_neutralise_formulas(tmp_path):
    frame = pl.DataFrame({"account_id": ['=HYPERLINK("http://evil.example")', "A2"]})
    out = write_csv(frame, tmp_path / "scores.csv")
    assert out.read_text().splitlines()[1:] == ['"\'=HYPERLINK(""http://evil.example"")"', "A2"]


# --- 9: an as-of date outside the data --------------------------------------------------------


@pytest.mark.parametrize("as_of", ["2000-01-01", "2030-01-01"])
def test_9_refresh_refuses_an_as_of_outside_the_data(own_copy, as_of, monkeypatch, capsys):
    con = db.connect(own_copy, events=True)
    before = con.execute("SELECT * FROM meta ORDER BY ALL").fetchall()
    first, last = con.execute(
        "SELECT least(min(signup_date), (SELECT min(event_time)::date FROM events)), "
        "(SELECT max(event_time)::date FROM events) FROM accounts"
    ).fetchall()[0]
    con.close()
    code, err = cli(monkeypatch, capsys, "refresh", "--db", str(own_copy), "--as-of", as_of)
    assert code == 2, err
    assert f"runs from {first}" in err and f"to {last}" in err and "--force" in err
    con = db.connect(own_copy)
    assert con.execute("SELECT * FROM meta ORDER BY ALL").fetchall() == before


# --- 10: a load from the Data page finishes when the user leaves ------------------------------


def test_10_a_load_started_on_the_data_page_finishes_after_the_user_leaves(own_copy, demo_folder):
    before = dict(db.connect(own_copy).execute("SELECT * FROM meta").fetchall())
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=120).run()
    at.switch_page("pages/data.py").run()
    at.text_input[0].input(str(demo_folder))
    next(b for b in at.button if b.label == "Validate and load").click().run()
    at.switch_page("pages/accounts.py").run()  # away at once, as a careless user would
    assert not at.exception
    thread = jobs.holder().thread
    assert thread is not None
    thread.join(timeout=120)
    after = dict(db.connect(own_copy).execute("SELECT * FROM meta").fetchall())
    assert after["refreshed_at"] >= after["loaded_at"] > before["loaded_at"]
    at.switch_page("pages/data.py").run()  # back: the page says how it ended
    assert [s.label[:20] for s in at.status] == ["Loaded and refreshed"]


# --- 11: the smaller ones ---------------------------------------------------------------------


@pytest.mark.usefixtures("users")
def test_11_a_csm_gets_the_same_answer_for_another_book_and_no_such_account(warehouse, request):
    theirs = account_of(warehouse, request.getfixturevalue("books")[1])
    at = open_account(sign_in(start(), "ana"), ACCOUNT_PAGE, theirs)
    other = at.error[0].value.replace(theirs, "ID")
    at = open_account(at, ACCOUNT_PAGE, "NOPE-1")
    assert at.error[0].value.replace("NOPE\\-1", "ID") == other


def test_11_upload_errors_do_not_show_the_servers_path(own_copy):
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=120).run()
    at.switch_page("pages/data.py").run()
    accounts = b"account_id,name,signup_date\nZ1,Zeta,2025-01-01\n"
    at.get("file_uploader")[0].set_value([("accounts.csv", accounts, "text/csv")])
    next(b for b in at.button if b.label == "Validate and load").click().run()
    jobs.holder().thread.join(timeout=120)
    at.run()
    said = unescaped(" ".join(e.value for e in at.error))
    assert "table events is missing" in said and "the uploaded files" in said
    assert "uploads" not in said and str(own_copy.parent) not in said


def test_11_a_png_named_gz_is_told_it_is_not_gzip(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + bytes(200)
    folder = make_folder(tmp_path, accounts=None, files={"accounts.csv.gz": png})
    with pytest.raises(ingest.LoadError, match="accounts.csv.gz: is not a gzip-compressed CSV"):
        ingest.load(folder, tmp_path / "x.duckdb")


def test_11_the_gzip_line_length_error_names_the_right_line(tmp_path):
    lines = ["account_id,name,signup_date"] + [f"A{i},n,2024-01-01" for i in range(1, 10)]
    lines += ["A10," + "x" * (17 * 2**20) + ",2024-01-01", "A11,n,2024-01-01"]
    folder = make_folder(tmp_path, accounts=None)
    (folder / "accounts.csv.gz").write_bytes(gzip.compress("\n".join(lines).encode(), 1))
    with pytest.raises(ingest.LoadError, match=r"a line \(line 11\) is longer than 16 MB"):
        ingest.load(folder, tmp_path / "x.duckdb")


def test_a_throttle_file_is_shared_by_every_process(tmp_path):
    path = tmp_path / "throttle.json"
    one, two = auth.LoginThrottle(path, 3), auth.LoginThrottle(path, 3)
    assert one.attempt("lee") and two.attempt("LEE ") and one.attempt(" lee")
    assert not two.attempt("lee") and two.blocked("Lee")
    one.succeeded("lee")
    assert two.attempt("lee")


# --- a local sign-in survives a reload or a new tab, in a cookie and never in the URL -------


def returning(monkeypatch, cookie: str | None, **query: str) -> AppTest:
    """A reload or a new tab: a new session whose browser sends this sign-in cookie.

    AppTest can't send cookies, so the one function reading them answers instead; the browser
    test (tests/test_browser.py) makes the real round trip."""
    monkeypatch.setattr(signin, "_cookie_token", lambda: cookie)
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def cookie_scripts(at: AppTest) -> list[str]:
    return [e.proto.srcdoc for e in at.get("iframe") if "document.cookie" in e.proto.srcdoc]


def test_a_local_sign_in_survives_a_reload_until_sign_out(clean_throttle, monkeypatch):
    at = sign_in(start(), "pat")
    token = at.session_state[signin.TOKEN_KEY]
    assert not at.query_params  # nothing in the URL to copy
    assert f"{signin.COOKIE}={token}; Path=/; SameSite=Strict; Max-Age=28800" in (
        signin.cookie_script(token)
    )
    again = returning(monkeypatch, token)
    assert not again.exception and again.title[0].value != "Customer health"
    assert "Pat PM" in " ".join(c.value for c in again.sidebar.caption)
    assert cookie_scripts(again) == [signin.cookie_script(token)]  # kept in the cookie

    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert returning(monkeypatch, forged).title[0].value == "Customer health"  # the form
    odd = token.replace(".", '"</script>.', 1)  # base64 skips stray characters; we don't
    assert returning(monkeypatch, odd).title[0].value == "Customer health"
    # A link from before, with the token in its query, signs nobody in and loses the token.
    link = returning(monkeypatch, None, session=token)
    assert link.title[0].value == "Customer health" and "session" not in link.query_params

    next(b for b in again.sidebar.button if b.label == "Sign out").click().run()
    assert again.title[0].value == "Customer health"
    assert cookie_scripts(again) == [signin.cookie_script(None)]  # the cookie is cleared
    again.run()  # the browser still sent the cookie when this session began: not honoured
    assert again.title[0].value == "Customer health"


def test_a_session_token_expires_and_ends_with_a_new_password(tmp_path, monkeypatch):
    from health.auth import tokens

    monkeypatch.setenv("HEALTH_USERS", str(tmp_path / "users.toml"))
    user = auth.add_user(auth.User("pat", "Pat PM", "pm", password_hash=auth.hash_password("a")))
    secret = tokens.load_secret(tmp_path / "secret")
    assert tokens.load_secret(tmp_path / "secret") == secret  # made once, then read
    token = tokens.issue(user, secret, now=1_000, ttl=60)
    assert tokens.check(token, secret, now=1_030) == user
    assert tokens.check(token, secret, now=1_061) is None  # expired
    assert tokens.check(token, b"another secret", now=1_030) is None
    changed = auth.User("pat", "Pat PM", "pm", password_hash=auth.hash_password("new one!"))
    auth.add_user(changed)
    assert tokens.check(token, secret, now=1_030) is None  # a new password ends it
