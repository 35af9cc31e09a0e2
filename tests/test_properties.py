"""Property: any contract-valid folder goes through every command, and every output meets the
contract. Hypothesis draws the folders: few or many accounts, churned or not, with or without
events, users, line-item subscriptions and tickets, timestamps with or without offsets."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from health import db
from health.cli import app
from tests.folders import make_folder
from tests.test_zoo import active_at, check_moments, check_scores

START = dt.date(2024, 1, 1)
OFFSETS = ("", "Z", "+02:00", "-05:00")


def stamp(day: int, second: int, offset: str) -> str:
    """An ISO timestamp `day` days and `second` seconds after START, written with `offset`."""
    at = dt.datetime.combine(START, dt.time()) + dt.timedelta(days=day, seconds=second)
    return at.isoformat() + offset


@st.composite
def folders(draw) -> dict:
    """The tables of a contract-valid data folder, as lists of rows (None: left out)."""
    span = draw(st.integers(14, 420))
    n = draw(st.integers(1, 6))
    accounts, events, users, subs, tickets = [], [], [], [], []
    for i in range(n):
        aid = f"{i:03d}"  # digits: still an ID
        signup = draw(st.integers(0, span - 1))
        churn = draw(st.none() | st.integers(signup, span + 30))
        accounts.append(
            {
                "account_id": aid,
                "signup_date": str(START + dt.timedelta(days=signup)),
                "churn_date": "" if churn is None else str(START + dt.timedelta(days=churn)),
                "segment": draw(st.sampled_from(["", "SMB", "Enterprise"])),
            }
        )
        people = [f"{aid}-u{k}" for k in range(draw(st.integers(1, 3)))]
        users += [{"user_id": u, "account_id": aid} for u in people]
        offset = draw(st.sampled_from(OFFSETS))
        for _ in range(draw(st.integers(0, 25))):
            events.append(
                {
                    "account_id": aid,
                    "event_time": stamp(
                        draw(st.integers(signup, span)), draw(st.integers(0, 86_399)), offset
                    ),
                    "event": draw(st.sampled_from(["login", "report", "export", "invite"])),
                    "user_id": draw(st.sampled_from(people)),
                }
            )
        for _ in range(draw(st.integers(0, 3))):  # line items: plan and add-ons, any term
            start = draw(st.integers(signup, span))
            days = draw(st.sampled_from([None, 30, 91, 182, 365, 17]))
            subs.append(
                {
                    "account_id": aid,
                    "start_date": str(START + dt.timedelta(days=start)),
                    "end_date": "" if days is None else str(START + dt.timedelta(start + days)),
                    "mrr": str(draw(st.integers(0, 5000))),
                    "seats": draw(st.sampled_from(["", "1", "12"])),
                    "plan": draw(st.sampled_from(["pro", "add-on"])),
                }
            )
        for k in range(draw(st.integers(0, 2))):
            opened = draw(st.integers(signup, span))
            tickets.append(
                {
                    "ticket_id": f"{aid}-t{k}",
                    "account_id": aid,
                    "opened_at": stamp(opened, 3600, offset),
                    "priority": draw(st.sampled_from(["low", "urgent"])),
                }
            )
    if not events:  # the as-of date is the latest event: a folder has at least one
        events.append({"account_id": "000", "event_time": stamp(span, 0, ""), "event": "login"})
    keep = draw(st.sets(st.sampled_from(["users", "subscriptions", "tickets"])))
    return {
        "accounts": accounts,
        "events": events,
        "users": users if "users" in keep else None,
        "subscriptions": (subs or None) if "subscriptions" in keep else None,
        "tickets": (tickets or None) if "tickets" in keep else None,
    }


def instant(text: str) -> dt.datetime:
    """A timestamp in UTC; without an offset it is UTC already."""
    at = dt.datetime.fromisoformat(text)
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (args, result.output, result.exception)


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,  # the same folders on every run: a failure is one anyone can repeat
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(tables=folders())
@example(  # the smallest book: one account, one event, nothing else
    tables={
        "accounts": [{"account_id": "1", "signup_date": "2024-01-01"}],
        "events": [{"account_id": "1", "event_time": "2024-01-01T00:00:00", "event": "x"}],
        "users": None,
        "subscriptions": None,
        "tickets": None,
    }
)
def test_any_valid_folder_goes_through_every_command(tables):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = make_folder(root, **tables)
        base = root / "health.duckdb"
        run("load", str(folder), "--db", str(base))
        run("refresh", "--db", str(base))
        run("actions", "--db", str(base), "--out", str(root / "actions.csv"))
        con = db.connect(base)
        try:
            scores = db.query(con, "q_scores")
            moments = db.query(con, "q_moments")
            as_of = con.execute("select as_of from params").fetchall()[0][0]
        finally:
            con.close()
        latest = max(instant(e["event_time"]) for e in tables["events"])
        assert as_of == latest.date()  # the default as-of date is the latest event's
        check_scores(scores, active_at(folder, as_of))
        check_moments(moments, as_of)
