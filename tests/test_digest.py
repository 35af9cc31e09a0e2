"""The digest: each CSM and leader gets an email, sent over STARTTLS to a local SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import shutil
import socket
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from typer.testing import CliRunner

from health import auth, db
from health.cli import app
from health.db import copy as copy_database
from health.digest import Digest, Line, Section, Settings, compose
from health.digest.content import hide_people

BASE_URL = "https://health.example.test"
BUDGET = 5
PASSWORD = "relay-secret-123"


class Inbox:
    """An SMTP handler that keeps every message, with whether its session was encrypted."""

    def __init__(self):
        self.received: list[tuple[list[str], bytes, bool]] = []

    async def handle_DATA(self, server, session, envelope):
        encrypted = session.ssl is not None
        self.received.append((envelope.rcpt_tos, envelope.original_content, encrypted))
        return "250 OK"


def check_login(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"digest-bot" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A throwaway self-signed certificate for 127.0.0.1, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def smtp_server(certificate):
    """A local SMTP server on 127.0.0.1 that requires STARTTLS before anything, and a login."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=check_login,
        auth_require_tls=True,
    )
    controller.start()
    yield inbox, port, cert
    controller.stop()


@pytest.fixture
def company(warehouse, tmp_path, monkeypatch):
    """A copy of the demo warehouse, a CSM and a leader with emails, and their settings."""
    database = tmp_path / "health.duckdb"
    copy_database(warehouse, database)
    monkeypatch.setenv("HEALTH_USERS", str(tmp_path / "users.toml"))
    monkeypatch.delenv("HEALTH_BASE_URL", raising=False)
    monkeypatch.delenv("HEALTH_DIGEST_CONFIG", raising=False)
    con = db.connect(database)
    owner = con.execute(
        "select csm_owner from mart_account_overview where is_active "
        "group by all order by count(*) desc limit 1"
    ).fetchall()[0][0]
    con.close()
    auth.add_user(auth.User("ana", owner, "csm", owner, "ana@example.test"))
    auth.add_user(auth.User("lee", "Lee Chen", "leader", "", "lee@example.test"))
    return database, owner


def settings_file(database, port: int, cert) -> None:
    (database.parent / "digest.toml").write_text(
        f'[digest]\nbase_url = "{BASE_URL}"\nbudget = {BUDGET}\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nusername = "digest-bot"\n'
        f'password_env = "DIGEST_TEST_SMTP_PASSWORD"\nfrom = "Health <health@example.test>"\n'
        f'ca_file = "{cert}"\n'
    )


def run(*args: str):
    return CliRunner().invoke(app, ["digest", *args], catch_exceptions=False)


def parts(raw: bytes) -> tuple[email.message.EmailMessage, str, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return msg, msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def test_digests_reach_each_reader_over_starttls_with_links_and_a_budget(
    company, smtp_server, monkeypatch, tmp_path
):
    database, owner = company
    inbox, port, cert = smtp_server
    settings_file(database, port, cert)
    monkeypatch.setenv("DIGEST_TEST_SMTP_PASSWORD", PASSWORD)

    result = run("--db", str(database), "--out", str(tmp_path / "out"), "--send")

    assert result.exit_code == 0, result.output
    by_rcpt = {tuple(rcpts): (raw, tls) for rcpts, raw, tls in inbox.received}
    assert set(by_rcpt) == {("ana@example.test",), ("lee@example.test",)}
    assert all(tls for _, tls in by_rcpt.values())  # nothing went in clear text
    csm, text, html = parts(by_rcpt[("ana@example.test",)][0])
    assert csm.get_content_type() == "multipart/alternative"
    print(text)  # the report quotes one digest as received
    con = db.connect(database)
    book = set(
        con.execute(
            "select account_id from mart_account_overview where csm_owner = ?", [owner]
        ).fetchall()
    )
    linked = [line.split("account=")[1] for line in text.splitlines() if "account=" in line]
    assert linked and {(a,) for a in linked} <= book  # only their own accounts
    assert all(
        f"{BASE_URL}/account?account=" in line for line in text.splitlines() if "account=" in line
    )
    assert len(linked) <= BUDGET
    assert html.count(f'href="{BASE_URL}/account?account=') == len(linked)
    _, leader_text, _ = parts(by_rcpt[("lee@example.test",)][0])
    mentioned = [
        line.split("account=")[1] for line in leader_text.splitlines() if "account=" in line
    ]
    people = con.execute(
        "select name from stg_users where list_contains(?, account_id) and name is not null",
        [mentioned],
    ).fetchall()
    assert mentioned and not [p for (p,) in people if p in leader_text]  # no contact names
    # One eml file per CSM owning accounts, and the leader's.
    owners = con.execute("select count(distinct csm_owner) from stg_accounts").fetchall()[0][0]
    assert len(list((tmp_path / "out").glob("*.eml"))) == owners + 1
    state = json.loads(database.with_name("health.duckdb.digest.json").read_text())
    as_of = con.execute("select as_of from params").fetchall()[0][0]
    assert state[f"csm:{owner}"]["as_of"] == str(as_of)
    assert state["leader:Lee Chen"]["as_of"] == str(as_of)


def test_the_next_digest_covers_only_what_changed_since_the_last(company, tmp_path):
    database, owner = company
    first = run("--db", str(database), "--out", str(tmp_path / "a"))
    assert first.exit_code == 0, first.output
    again = run("--db", str(database), "--out", str(tmp_path / "b"))
    assert again.exit_code == 0, again.output
    eml = next((tmp_path / "b").glob(f"*-csm-{owner.lower().replace(' ', '-')}.eml"))
    _, text, _ = parts(eml.read_bytes())
    assert "No account changed tier." in text and "No new moment." in text
    assert "weekly digest made on" in again.output  # the leaders' one is weekly
    assert not list((tmp_path / "b").glob("*leader*.eml"))


def test_send_without_smtp_settings_or_with_an_unknown_owner_says_how_to_fix_it(company, tmp_path):
    database, _ = company
    no_smtp = run("--db", str(database), "--out", str(tmp_path), "--send")
    assert no_smtp.exit_code == 2 and "[smtp]" in no_smtp.output
    stranger = run("--db", str(database), "--owner", "Nobody Here")
    assert stranger.exit_code == 2 and "Nobody Here" in stranger.output
    assert not database.with_name("health.duckdb.digest.json").exists()


def test_a_failed_send_keeps_the_files_and_covers_the_same_changes_next_time(
    company, certificate, monkeypatch, tmp_path
):
    database, owner = company
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings_file(database, port, certificate[0])
    monkeypatch.setenv("DIGEST_TEST_SMTP_PASSWORD", PASSWORD)
    failed = run("--db", str(database), "--out", str(tmp_path / "out"), "--send", "--owner", owner)
    assert failed.exit_code == 2 and "sending through 127.0.0.1" in failed.output
    assert list((tmp_path / "out").glob("*.eml"))
    assert not database.with_name("health.duckdb.digest.json").exists()


def test_customer_text_is_escaped_in_html_and_kept_in_plain_text():
    digest = Digest(
        "csm", "Ana", "csm", dt.date(2026, 1, 1), dt.date(2026, 1, 8), ["1 account."],
        [Section("New moments of truth", [Line('<script>alert("x")</script> & co', "A<1>")], "")],
    )  # fmt: skip
    msg = compose(digest, Settings(base_url=BASE_URL), "ana@example.test").message
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert f"{BASE_URL}/account?account=A%3C1%3E" in html
    assert '<script>alert("x")</script> & co' in msg.get_body(("plain",)).get_content()


def test_leaders_read_no_contact_names_csms_do(warehouse):
    con = db.connect(warehouse)
    account, name, champion = con.execute(
        "select account_id, name, is_champion from stg_users where name like '% %' "
        "order by is_champion desc, account_id limit 1"
    ).fetchall()[0]
    text = f"{name} went quiet; {name.split()[0]} has not logged in"
    hidden = "the champion" if champion else "a contact"
    assert hide_people(con, "leader", [account])(account, text) == (
        f"{hidden} went quiet; {hidden} has not logged in"
    )
    assert hide_people(con, "csm", [account])(account, text) == text
