"""Suggested actions, told as stories: a moment or a risk on an account -> the CSM's list.

Every story builds a tiny warehouse by hand (the tables the actions step reads: stg_*, the daily
rollups, moments, mart_account_health and its history) and runs the refresh step inside the
same atomic swap a real refresh uses, so it depends on no other step's progress.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from health import db
from health.actions import log as action_log
from health.actions import playbooks as actions_playbooks
from health.actions import suggest as actions
from health.db import copy as copy_database

AS_OF = dt.date(2026, 6, 30)
CSM = "Ana Silva"
PENDING = ("listed", "queued", "snoozed")
MOMENT_OF = {k: m for m, kinds in actions_playbooks.MOMENT_KINDS.items() for k in kinds}
SCHEMAS = {
    "stg_accounts": {
        "account_id": pl.String,
        "name": pl.String,
        "signup_date": pl.Date,
        "churn_date": pl.Date,
        "arr": pl.Float64,
        "csm_owner": pl.String,
        "renewal_date": pl.Date,
    },
    "stg_users": {
        "user_id": pl.String,
        "account_id": pl.String,
        "name": pl.String,
        "role": pl.String,
        "is_champion": pl.Boolean,
        "created_at": pl.Datetime("us"),
        "deactivated_at": pl.Datetime("us"),
    },
    "stg_tickets": {
        "ticket_id": pl.String,
        "account_id": pl.String,
        "opened_at": pl.Datetime("us"),
        "closed_at": pl.Datetime("us"),
        "priority": pl.String,
        "topic": pl.String,
    },
    "stg_surveys": {
        "account_id": pl.String,
        "user_id": pl.String,
        "responded_at": pl.Datetime("us"),
        "score": pl.Float64,
        "comment": pl.String,
    },
    "stg_touchpoints": {
        "account_id": pl.String,
        "occurred_at": pl.Datetime("us"),
        "kind": pl.String,
    },
    "int_account_days": {"account_id": pl.String, "day": pl.Date, "events": pl.Int64},
    "int_user_days": {
        "account_id": pl.String,
        "user_id": pl.String,
        "day": pl.Date,
        "events": pl.Int64,
    },
    "moments": {
        "account_id": pl.String,
        "moment": pl.String,
        "kind": pl.String,
        "detected_on": pl.Date,
        "started_on": pl.Date,
        "severity": pl.Float64,
        "evidence": pl.String,
    },
    "mart_account_health": {
        "account_id": pl.String,
        "week_end": pl.Date,
        "health_score": pl.Float64,
        "churn_risk": pl.Float64,
        "tier": pl.String,
    },
    "mart_health_history": {
        "account_id": pl.String,
        "week_end": pl.Date,
        "health_score": pl.Float64,
        "churn_risk": pl.Float64,
        "tier": pl.String,
    },
}


def ago(days: int) -> dt.date:
    """A day this many days before the stories' as-of date."""
    return AS_OF - dt.timedelta(days=days)


def at(day: dt.date) -> dt.datetime:
    """Mid-morning on a day."""
    return dt.datetime.combine(day, dt.time(10))


@dataclasses.dataclass
class World:
    """A tiny warehouse told as stories; `refresh` rebuilds it the way `health refresh` does."""

    path: Path
    rows: dict[str, list[dict]] = dataclasses.field(
        default_factory=lambda: {name: [] for name in SCHEMAS}
    )

    def account(
        self,
        account_id: str,
        *,
        owner: str = CSM,
        arr: float | None = 50_000.0,
        renewal: dt.date | None = None,
        churn_risk: float = 0.2,
        tier: str = "healthy",
        champion: str = "Jane Doe",
        churned: dt.date | None = None,
    ) -> str:
        """An active customer since early 2025 with a champion who used the product yesterday."""
        self.rows["stg_accounts"].append(
            dict(
                account_id=account_id,
                name=f"{account_id} Corp",
                signup_date=dt.date(2025, 1, 6),
                churn_date=churned,
                arr=arr,
                csm_owner=owner,
                renewal_date=renewal,
            )
        )
        self.rows["stg_users"].append(
            dict(
                user_id=f"{account_id}-champion",
                account_id=account_id,
                name=champion,
                role="admin",
                is_champion=True,
                created_at=at(dt.date(2025, 1, 6)),
            )
        )
        self.champion_seen(account_id, ago(1))
        for weeks in range(12):
            week = dict(account_id=account_id, week_end=ago(7 * weeks), health_score=60.0)
            self.rows["mart_health_history"].append(dict(week, churn_risk=churn_risk, tier=tier))
        self.rows["mart_account_health"].append(
            dict(account_id=account_id, week_end=AS_OF, health_score=60.0)
            | dict(churn_risk=churn_risk, tier=tier)
        )
        return account_id

    def champion_seen(self, account_id: str, day: dt.date) -> None:
        """The champion used the product that day."""
        user = f"{account_id}-champion"
        self.rows["int_user_days"] = [
            r for r in self.rows["int_user_days"] if r["user_id"] != user
        ] + [dict(account_id=account_id, user_id=user, day=day, events=5)]

    def moment(
        self,
        account_id: str,
        kind: str,
        *,
        detected: dt.date | None = None,
        started: dt.date | None = None,
        severity: float = 0.6,
        evidence: str | None = None,
    ) -> None:
        """A moment of truth the detectors found."""
        detected = detected or ago(2)
        self.rows["moments"].append(
            dict(
                account_id=account_id,
                moment=MOMENT_OF[kind],
                kind=kind,
                detected_on=detected,
                started_on=started or detected - dt.timedelta(days=14),
                severity=severity,
                evidence=evidence or f"weekly events 120 → 30 ({kind})",
            )
        )

    def ticket(self, account_id: str, opened: dt.date, *, priority: str = "urgent") -> None:
        """A support ticket still open."""
        n = len(self.rows["stg_tickets"])
        self.rows["stg_tickets"].append(
            dict(
                ticket_id=f"T{n}",
                account_id=account_id,
                opened_at=at(opened),
                priority=priority,
                topic="Export fails",
            )
        )

    def survey(
        self, account_id: str, day: dt.date, score: int, comment: str = "", user: str = ""
    ) -> None:
        """An NPS answer from the champion, or from `user` (a user ID nobody named)."""
        self.rows["stg_surveys"].append(
            dict(
                account_id=account_id,
                user_id=user or f"{account_id}-champion",
                responded_at=at(day),
                score=float(score),
                comment=comment or None,
            )
        )

    def touch(self, account_id: str, day: dt.date, kind: str = "call") -> None:
        """A CSM touchpoint."""
        self.rows["stg_touchpoints"].append(
            dict(account_id=account_id, occurred_at=at(day), kind=kind)
        )

    def usage(self, account_id: str, weekly: list[int]) -> None:
        """Events per Monday-to-Sunday week, the last list item in the last complete week."""
        last_monday = ago(6) - dt.timedelta(days=ago(6).weekday())
        for k, events in enumerate(reversed(weekly)):
            day = last_monday - dt.timedelta(days=7 * k)
            self.rows["int_account_days"].append(
                dict(account_id=account_id, day=day, events=events)
            )

    def refresh(self, as_of: dt.date = AS_OF) -> None:
        """Rebuild the warehouse as a copy and swap it in, then run the actions step."""
        with db.writing(self.path) as con:
            con.execute("CREATE OR REPLACE TABLE params AS SELECT ?::DATE AS as_of", [as_of])
            for name, schema in SCHEMAS.items():
                frame = pl.DataFrame(self.rows[name], schema=schema)
                con.register("_story", frame.to_arrow())
                con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _story")
                con.unregister("_story")
            actions.refresh_actions(con, as_of)

    def mart(self) -> pl.DataFrame:
        """Every row of mart_actions."""
        con = db.connect(self.path)
        try:
            return db.run(con, "select * from mart_actions")
        finally:
            con.close()

    def today(self, owner: str | None = None) -> pl.DataFrame:
        """Today's list, live statuses from the log."""
        con = db.connect(self.path)
        try:
            return actions.todays_actions(con, self.log, owner)
        finally:
            con.close()

    @property
    def log(self) -> Path:
        """The action log beside the warehouse."""
        return action_log.log_path(self.path)


@pytest.fixture
def world(tmp_path) -> World:
    """An empty world."""
    return World(tmp_path / "health.duckdb")


def one(frame: pl.DataFrame, **where) -> dict:
    """The single row matching `where`."""
    hit = frame.filter(**where)
    assert hit.height == 1, f"{where}: {hit.height} rows\n{frame}"
    return hit.row(0, named=True)


def assert_one_pending_per_reason(mart: pl.DataFrame) -> None:
    """No second open action for the same account and reason."""
    counts = mart.filter(pl.col("state").is_in(PENDING)).group_by("account_id", "reason").len()
    assert counts["len"].max() in (None, 1), counts.filter(pl.col("len") > 1)


# --- moments ---------------------------------------------------------------------------------

QUESTIONS = {
    "relationship_change": ["Do they have a strategy", "short of resources or skills"],
    "crisis": ["Did the champion leave the company, or get promoted?", "(an acquisition)"],
    "delight": ["high-five"],
}


@pytest.mark.parametrize("kind", list(MOMENT_OF))
def test_a_moment_of_each_kind_gets_its_playbook_and_a_filled_email(world, kind):
    world.account("A1", owner="Bea Costa", arr=120_000, renewal=ago(-40), champion="Jane Doe")
    world.moment("A1", kind, evidence="weekly events 412 → 96 since 2 Jun 2026")
    world.refresh()

    action = one(world.today(), account_id="A1")
    book = actions_playbooks.playbooks()["playbooks"][kind]
    assert action["reason"] == kind and action["title"] == book["title"]
    for asked in QUESTIONS[MOMENT_OF[kind]]:
        assert asked in action["questions_or_recognition"]
    if MOMENT_OF[kind] == "delight":
        said = action["questions_or_recognition"]
        assert "write a blog post or speak at an event" in said
        assert any(w in said for w in ("badge", "swag", "gift card"))
    body = action["email_body"]
    assert body.startswith("Hi Jane,") and "Bea Costa" in body and "A1 Corp" in body
    assert "412 → 96" in body, "the evidence, with its numbers"
    assert "$120,000 ARR" in action["detail"] and "9 Aug 2026" in action["detail"]
    assert "{" not in body + action["detail"] + action["email_subject"]


def test_an_old_moment_is_history_and_a_churned_account_gets_nothing(world):
    world.account("OLD")
    world.moment("OLD", "engagement_drop", detected=ago(60))
    world.account("GONE", churned=ago(3))
    world.moment("GONE", "engagement_drop")
    world.refresh()

    mart = world.mart()
    assert one(mart, account_id="OLD")["state"] == "expired"
    assert one(mart, account_id="GONE")["state"] == "expired"
    assert world.today().is_empty()


# --- risk signals ----------------------------------------------------------------------------


def test_risk_signals_become_actions_with_their_numbers(world):
    world.account("REN", tier="at_risk", churn_risk=0.7, renewal=ago(-30))
    world.account("TIX")
    world.ticket("TIX", ago(5))
    world.account("QUIET")
    world.champion_seen("QUIET", ago(30))
    world.account("NPS")
    world.survey("NPS", ago(10), 3, comment="Too slow")
    world.account("FAR", tier="watch")
    world.touch("FAR", ago(70))
    world.account("DOWN")
    world.usage("DOWN", [100] * 8 + [20] * 4)
    world.refresh()

    mart = world.mart()
    expect = {
        "REN": ("renewal_at_risk", "churn risk 70 %"),
        "TIX": ("urgent_tickets", "1 high-priority ticket open (1 urgent)"),
        "QUIET": ("champion_inactive", "for 30 days"),
        "NPS": ("detractor", 'NPS 3 from Jane Doe on 20 Jun 2026: "Too slow"'),
        "FAR": ("no_touchpoint", "no CSM touchpoint for 70 days"),
        "DOWN": ("usage_decline", "down 80 %"),
    }
    for account_id, (reason, words) in expect.items():
        action = one(mart, account_id=account_id, reason=reason)
        assert action["reason_kind"] == "risk"
        assert words in action["evidence"], action["evidence"]
        assert action["state"] in PENDING


def test_users_last_days_from_the_moments_rollup_give_the_same_triggers_as_the_daily_rows(world):
    # The refresh's actions read each user's last active day from the moments' rollup of
    # int_user_days; without it (here, until built below) they compute it from the daily rows.
    world.account("QUIET")
    world.champion_seen("QUIET", ago(30))
    world.account("NEVER")
    world.rows["int_user_days"] = [
        r for r in world.rows["int_user_days"] if r["user_id"] != "NEVER-champion"
    ] + [dict(account_id="NEVER", user_id="NEVER-user", day=ago(2), events=1)]
    world.account("BUSY")
    world.ticket("BUSY", ago(5))
    world.refresh()
    tables = ("int_trigger_champion", "int_action_candidates")

    def read() -> dict[str, list]:
        con = db.connect(world.path)
        try:
            return {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}
        finally:
            con.close()

    from_days = read()
    with db.writing(world.path) as con:
        db.build(con, [actions.USER_ACTIVITY])
    world.refresh()
    assert read() == from_days
    reasons = {(r[1], r[5]) for r in from_days["int_action_candidates"]}
    assert {("QUIET", "champion_inactive"), ("NEVER", "champion_inactive")} <= reasons


def test_a_detractor_action_quotes_the_latest_answer_and_only_its_own_comment(world):
    # The champion complained first; a colleague answered later without a comment. The action
    # names the colleague and quotes nobody: words are never put in another person's mouth.
    world.account("NPS")
    world.survey("NPS", ago(12), 3, comment="Too slow")
    world.survey("NPS", ago(8), 5, user="U-KIM")
    world.refresh()

    evidence = one(world.mart(), account_id="NPS", reason="detractor")["evidence"]
    assert evidence.startswith(f"NPS 5 from U-KIM on {ago(8):%-d %b %Y} (2 detractor answers")
    assert "Too slow" not in evidence


def test_a_risk_keeps_its_action_while_it_lasts(world):
    world.account("TIX")
    world.ticket("TIX", ago(5))
    world.account("QUIET")
    world.champion_seen("QUIET", ago(30))
    world.refresh()
    first = world.mart().select("account_id", "action_id", "triggered_on").sort("account_id")

    for days in (1, 2, 6):  # later refreshes, every weekday: the same trigger, the same action
        world.refresh(AS_OF + dt.timedelta(days=days))
        later = world.mart().select("account_id", "action_id", "triggered_on").sort("account_id")
        assert later.equals(first)
    assert one(first, account_id="TIX")["triggered_on"] == ago(3), "opened + 2 days open"
    assert one(first, account_id="QUIET")["triggered_on"] == ago(9), "last seen + 21 days"


def test_a_crisis_covers_the_usage_decline_it_explains(world):
    world.account("A1")
    world.usage("A1", [100] * 8 + [20] * 4)
    world.moment("A1", "engagement_drop")
    world.refresh()

    mart = world.mart()
    assert one(mart, reason="engagement_drop")["state"] == "listed"
    assert one(mart, reason="usage_decline")["state"] == "covered"


# --- de-duplication --------------------------------------------------------------------------


def test_a_second_refresh_creates_no_duplicate_open_action(world):
    for n in range(3):
        world.account(f"A{n}")
        world.moment(f"A{n}", "champion_left")
    world.ticket("A0", ago(4))
    world.refresh()
    first = world.mart()

    world.refresh()
    assert world.mart().sort("action_id").equals(first.sort("action_id"))
    # A refresh on another day dates the same moment a few days differently: still one action.
    world.rows["moments"] = [
        m | dict(started_on=m["started_on"] + dt.timedelta(days=5)) for m in world.rows["moments"]
    ]
    world.refresh(AS_OF + dt.timedelta(days=1))
    mart = world.mart()
    assert_one_pending_per_reason(mart)
    assert mart.filter(state="duplicate").height == 3
    assert world.today().height == 4


def test_a_dismissed_action_stays_dismissed_while_its_trigger_persists(world):
    world.account("A1")
    world.moment("A1", "engagement_drop")
    world.ticket("A1", ago(4))
    world.refresh()
    for action in world.today().iter_rows(named=True):
        action_log.record(world.log, action["action_id"], "A1", "dismissed", note="known issue")

    world.rows["moments"][0]["started_on"] += dt.timedelta(days=6)  # re-dated, same moment
    for days in (0, 1, 3):
        world.refresh(AS_OF + dt.timedelta(days=days))
        mart = world.mart()
        assert mart.filter(pl.col("state").is_in(PENDING)).is_empty(), mart
        assert world.today().is_empty()
    assert sorted(mart["state"]) == ["dismissed", "dismissed", "duplicate"]


def test_a_new_episode_after_a_done_one_is_a_new_action(world):
    world.account("A1")
    world.ticket("A1", ago(20))
    world.refresh()
    done = one(world.today(), reason="urgent_tickets")
    action_log.record(world.log, done["action_id"], "A1", "done", outcome="improved")

    world.rows["stg_tickets"][0]["closed_at"] = at(ago(15))
    world.ticket("A1", ago(5))  # a new urgent ticket, after the first was solved
    world.refresh()
    fresh = one(world.today(), reason="urgent_tickets")
    assert fresh["action_id"] != done["action_id"]


# --- budget and priority ---------------------------------------------------------------------


def test_the_daily_budget_holds_and_the_queue_surfaces_later(world):
    for n in range(20):
        world.account(f"A{n:02}", arr=10_000.0 * (n + 1))
        world.moment(f"A{n:02}", "engagement_drop")
    world.account("B1", owner="Bea Costa")
    world.moment("B1", "promoter")
    world.refresh()
    world.refresh()  # a second refresh the same day spends no more budget

    budget = actions_playbooks.playbooks()["settings"]["daily_budget"]
    assert budget == 5
    today = world.today(CSM)
    assert today.height == 5 and set(today["account_id"]) == {f"A{n}" for n in range(15, 20)}
    assert world.today("Bea Costa").height == 1
    assert world.mart().filter(state="queued").height == 15

    world.refresh(AS_OF + dt.timedelta(days=1))
    mart = world.mart()
    assert mart.filter(surfaced_on=AS_OF + dt.timedelta(days=1)).height == 5
    assert world.today(CSM).height == 10
    assert set(world.today(CSM)["account_id"]) == {f"A{n}" for n in range(10, 20)}


def test_priority_is_arr_times_risk_times_renewal_proximity(world):
    world.account("BIG", arr=100_000, churn_risk=0.2)
    world.account("RISKY", arr=100_000, churn_risk=0.6)
    world.account("RENEWS", arr=100_000, churn_risk=0.2, renewal=ago(-10))
    world.account("SMALL", arr=20_000, churn_risk=0.2)
    world.account("FREE", arr=None, churn_risk=0.2)
    for account_id in ("BIG", "RISKY", "RENEWS", "SMALL", "FREE"):
        world.moment(account_id, "engagement_drop", severity=0.5)
    world.refresh()

    mart = world.mart()
    order = world.today()["account_id"].to_list()
    assert order == ["RENEWS", "RISKY", "BIG", "SMALL", "FREE"]
    # engagement_drop weighs 1.0: risk = 1 - (1 - 0.2)(1 - 0.5) = 0.6; 10 days to renewal of a
    # 180-day horizon: proximity 1 + (1 - 10/180)
    assert one(mart, account_id="BIG")["priority"] == 60_000
    assert one(mart, account_id="RENEWS")["priority"] == round(60_000 * (2 - 10 / 180))
    assert one(mart, account_id="FREE")["priority"] == 600, "ARR floor 1,000"
    assert one(mart, account_id="RENEWS")["due_on"] == ago(-2), "due_in_days 2"


def test_mart_actions_contract(world):
    for n in range(8):
        world.account(f"A{n}", renewal=ago(-5) if n % 2 else None)
        world.moment(f"A{n}", list(MOMENT_OF)[n % 7])
        world.ticket(f"A{n}", ago(3))
    world.refresh()
    mart = world.mart()

    assert mart["action_id"].n_unique() == mart.height
    for key in ("action_id", "account_id", "owner", "reason", "state", "triggered_on"):
        assert mart[key].null_count() == 0, key
    assert set(mart["state"]) <= set(actions.STATES)
    assert set(mart["reason_kind"]) <= {*actions_playbooks.MOMENT_KINDS, "risk"}
    listed = mart.filter(pl.col("surfaced_on").is_not_null())
    assert (listed["due_on"] >= listed["surfaced_on"]).all()
    assert (mart["priority"] >= 0).all() and (mart["triggered_on"] <= AS_OF).all()
    assert_one_pending_per_reason(mart)


# --- the demo --------------------------------------------------------------------------------


def test_the_demo_gets_an_action_for_every_moment_no_duplicates_and_the_budget(warehouse, tmp_path):
    path = tmp_path / "demo.duckdb"
    copy_database(warehouse, path)
    con = db.connect(path)
    try:
        if not db.table_exists(con, "moments"):
            pytest.skip("the moments step is not in the refresh yet")
        as_of = con.execute("select as_of from params").fetchall()[0][0]
        missing = db.run(
            con,
            "select * from moments as m where m.detected_on <= $as_of and not exists ("
            "select 1 from mart_actions as a where a.account_id = m.account_id "
            "and a.reason = m.kind and a.started_on = coalesce(m.started_on, m.detected_on))",
            as_of=as_of,
        )
        n_moments = con.execute("select count(*) from moments").fetchall()[0][0]
    finally:
        con.close()
    assert n_moments > 0 and missing.is_empty(), missing

    for _ in range(2):  # two more refreshes of the actions, the same day
        with db.writing(path) as con:
            actions.refresh_actions(con, as_of)
    con = db.connect(path)
    try:
        mart = db.run(con, "select * from mart_actions")
    finally:
        con.close()
    assert_one_pending_per_reason(mart)
    per_owner = mart.filter(surfaced_on=as_of).group_by("owner").len()
    assert per_owner["len"].max() <= actions_playbooks.playbooks()["settings"]["daily_budget"]


def _planted_without(frame: pl.DataFrame, key: str, demo_folder) -> tuple[pl.DataFrame, int]:
    """The demo's planted moments (started by the as-of date) with no row of `frame` on the
    same account whose `key` is the moment's kind, started within the moments' scoring
    tolerance (four weeks); and how many were planted."""
    truth = pl.read_csv(
        demo_folder.parent / f"{demo_folder.name}.truth" / "moments.csv", try_parse_dates=True
    ).filter(pl.col("planted"))
    planted = truth.with_columns(pl.col("started_on").cast(pl.Date)).filter(
        pl.col("started_on") <= frame["as_of"][0]
    )
    matched = (
        planted.join(frame, left_on=["account_id", "kind"], right_on=["account_id", key])
        .filter((pl.col("started_on_right") - pl.col("started_on")).dt.total_days().abs() <= 28)
        .select("account_id", "kind", "started_on")
        .unique()
    )
    return planted.join(
        matched, on=["account_id", "kind", "started_on"], how="anti"
    ), planted.height


def _read(warehouse, sql: str) -> pl.DataFrame:
    con = db.connect(warehouse)
    try:
        return db.run(con, sql)
    finally:
        con.close()


def test_every_planted_moment_the_detectors_found_has_its_matching_action(warehouse, demo_folder):
    # The demo's answer key against the refresh: each planted moment that the moments feed
    # holds (same account and kind, started within four weeks) has an action whose reason is
    # that kind, started within four weeks too. No exception: the action side misses nothing.
    moments = _read(
        warehouse, "select m.account_id, m.kind, m.started_on, p.as_of from moments m, params p"
    )
    actions = _read(
        warehouse,
        "select a.account_id, a.reason, a.started_on, p.as_of from mart_actions a, params p",
    )
    undetected, n_planted = _planted_without(moments, "kind", demo_folder)
    unactioned, _ = _planted_without(actions, "reason", demo_folder)
    found_not_acted = unactioned.join(
        undetected, on=["account_id", "kind", "started_on"], how="anti"
    )
    assert n_planted > 0 and set(actions["reason"]) >= {"engagement_drop", "usage_spike"}
    assert found_not_acted.is_empty(), found_not_acted


# Planted moments the detectors still miss, so neither a moment nor an action follows: on this
# demo one engagement drop on a 3-seat account at ~4 events a week that churns 7 weeks after the
# drop began, before a drop that small can be told from noise (issue 4's recall, not the
# actions). A floor: any other miss, or a second one, fails.
MAX_UNDETECTED = 1


def test_planted_moments_the_detectors_miss_stay_at_the_floor(warehouse, demo_folder):
    actions = _read(
        warehouse,
        "select a.account_id, a.reason, a.started_on, p.as_of from mart_actions a, params p",
    )
    missing, n_planted = _planted_without(actions, "reason", demo_folder)
    with pl.Config(tbl_rows=50, fmt_str_lengths=60):
        said = f"{missing.height}/{n_planted} planted moments unmatched:\n" + str(
            missing.select("account_id", "kind", "started_on", "note")
        )
        assert missing.height <= MAX_UNDETECTED, said
        assert set(missing["kind"]) <= {"engagement_drop"}, said
