"""Subscriptions as billing systems export them: a plan line and add-on lines, summed per day."""

import datetime as dt

import pytest

from health import db
from health.ingest.loader import load
from health.pipeline.refresh import refresh
from tests.folders import make_folder


def _month(m: int) -> tuple[dt.date, dt.date]:
    """The first and last day of month m of 2024 (an inclusive export)."""
    first = dt.date(2024, m, 1)
    nxt = dt.date(2024, m + 1, 1) if m < 12 else dt.date(2025, 1, 1)
    return first, nxt - dt.timedelta(days=1)


@pytest.fixture(scope="module")
def billed(tmp_path_factory):
    """A: monthly lines (last day inclusive) with an add-on from April to August. B: an annual
    plan with a storage add-on from March, cancelled on 20 August."""
    tmp = tmp_path_factory.mktemp("lines")
    accounts = [{"account_id": a, "signup_date": "2024-01-01"} for a in "AB"]
    events = [
        {"account_id": a, "event_time": f"2024-{m:02d}-15T10:00:00", "event": "x"}
        for a in "AB"
        for m in range(1, 13)
    ]
    subs = []
    for m in range(1, 13):
        first, last = (str(d) for d in _month(m))
        line = {"account_id": "A", "start_date": first, "end_date": last}
        subs.append({**line, "mrr": "100", "seats": "5", "plan": "pro"})
        if 4 <= m < 9:
            subs.append({**line, "mrr": "20", "plan": "sso add-on"})
    subs += [
        {"account_id": "B", "start_date": "2024-01-01", "end_date": "2024-12-31", "mrr": "500",
         "seats": "10", "plan": "ent"},
        {"account_id": "B", "start_date": "2024-03-01", "end_date": "2024-08-20", "mrr": "50",
         "plan": "storage add-on"},
    ]  # fmt: skip
    load(make_folder(tmp, accounts=accounts, events=events, subscriptions=subs), tmp / "x.duckdb")

    def features(as_of: dt.date):
        path = tmp / f"{as_of}.duckdb"
        db.copy(tmp / "x.duckdb", path)  # with its events store
        refresh(path, as_of)
        con = db.connect(path)
        try:
            return db.run(con, "select * from mart_account_features where week_end = $d", d=as_of)
        finally:
            con.close()

    return features


def row(frame, account: str) -> dict:
    return frame.filter(frame["account_id"] == account).row(0, named=True)


def test_mrr_and_seats_are_sums_over_the_lines_open_that_day(billed):
    now = billed(dt.date(2024, 6, 30))
    a, b = row(now, "A"), row(now, "B")
    assert (a["mrr"], a["seats"]) == (120, 5)  # add-on lines carry no seats
    assert (b["mrr"], b["seats"]) == (550, 10)
    assert a["plan"] == "pro" and b["plan"] == "ent"  # the biggest line's plan


def test_renewal_is_the_end_of_the_current_commitment_at_any_term_length(billed):
    now = billed(dt.date(2024, 6, 30))
    assert row(now, "A")["days_to_renewal"] == 1  # monthly: renews on 1 July
    assert row(now, "B")["days_to_renewal"] == (dt.date(2025, 1, 1) - dt.date(2024, 6, 30)).days
    assert row(now, "A")["term_months"] == 1 and row(now, "B")["term_months"] == 12


def test_a_cancelled_add_on_is_seen_only_from_the_day_it_ends(billed):
    before = billed(dt.date(2024, 8, 19))
    after = billed(dt.date(2024, 10, 30))
    assert row(before, "B")["mrr"] == 550  # the 20 August end is not known on 19 August
    b = row(after, "B")
    assert b["mrr"] == 500 and b["lines_change_90d"] == -1
    assert b["mrr_change_90d"] == pytest.approx(500 / 550 - 1)
    assert row(after, "A")["lines_change_90d"] == -1  # the add-on stopped after August
