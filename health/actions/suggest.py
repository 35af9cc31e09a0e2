"""Suggested actions: playbooks (playbooks.toml) applied to moments and risk signals, per CSM.

The refresh step `refresh_actions` writes `mart_actions`, one row per trigger episode. An action
is created when its trigger appears (a moment's detected_on, the day a risk signal first holds)
and keeps its id (account + reason + the episode's start) for as long as the episode lasts.
Each CSM gets at most `daily_budget` new actions a day ("today" is the as-of date), highest
priority first; the rest wait in the queue and surface on later days. Who surfaced on which day
is carried from the previous refresh's mart_actions, which the refresh's copy of the warehouse
still holds. The CSM's own statuses live in the action log (health/actions/log.py), which no
refresh touches; pages read them live, so a change shows without a refresh.

`state` of an action: listed (on its owner's list), snoozed, queued (waiting for budget),
done, dismissed, duplicate (another action for the account and reason is pending, or the CSM
already closed this same trigger), covered (a pending action for a broader reason covers it,
e.g. a crisis covers a usage decline), expired (its moment is past `moment_max_age_days`, or
the account churned, before it ever reached the list).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl

from health import db
from health.actions import log as action_log
from health.actions import states
from health.actions.playbooks import params, playbook_frame, playbooks, render

STATES = states.STATES
COLUMNS = {
    "action_id": pl.String,
    "account_id": pl.String,
    "account": pl.String,
    "owner": pl.String,
    "reason_kind": pl.String,
    "reason": pl.String,
    "title": pl.String,
    "detail": pl.String,
    "questions_or_recognition": pl.String,
    "email_subject": pl.String,
    "email_body": pl.String,
    "evidence": pl.String,
    "priority": pl.Float64,
    "due_on": pl.Date,
    "triggered_on": pl.Date,
    "started_on": pl.Date,
    "surfaced_on": pl.Date,
    # "offered" once it reached a list, "held_out" once drawn into its playbook's holdout
    # (a random share of new actions no CSM sees, for an honest "did it work"; see outcomes.py)
    "assignment": pl.String,
    "state": pl.String,
    "severity": pl.Float64,
    "arr": pl.Float64,
    "churn_risk": pl.Float64,
    "renewal_date": pl.Date,
    "as_of": pl.Date,
}
# The `actions` command's CSV and the list a CSM reads first. `priority` is a float of dollars
# (ARR x churn risk, up to doubled as the renewal nears) that sorts the list; a reader gets it
# as the order to work in and as whole dollars, each named for what it is.
LIST_COLUMNS = (
    "action_id",
    "account_id",
    "account",
    "owner",
    "rank_for_owner",
    "dollars_at_stake",
    "due_on",
    "title",
    "reason",
    "evidence",
    "questions_or_recognition",
    "email_subject",
)
STATUS_COLUMNS = ("status", "note", "outcome", "snooze_until", "actor", "recorded_at")
# What the listing functions return: an action and its latest log entry.
LIVE_COLUMNS = COLUMNS | {
    name: dtype for name, dtype in action_log.COLUMNS.items() if name in STATUS_COLUMNS
}
# Today's list also says, in the export's words, where each action stands (see LIST_COLUMNS).
TODAY_COLUMNS = LIVE_COLUMNS | {"rank_for_owner": pl.UInt32, "dollars_at_stake": pl.Int64}
# Stand-ins for inputs other steps write, so actions still come from what exists without them.
_INPUTS = {
    "moments": "account_id VARCHAR, moment VARCHAR, kind VARCHAR, detected_on DATE, "
    "started_on DATE, severity DOUBLE, evidence VARCHAR",
    "mart_account_health": "account_id VARCHAR, health_score DOUBLE, churn_risk DOUBLE, "
    "tier VARCHAR",
    "mart_health_history": "account_id VARCHAR, week_end DATE, health_score DOUBLE, tier VARCHAR",
}


# Each active user's first and last day (moments/people_inputs.py): the triggers and candidates
# read users' last active days from it, not from the daily rows (int_user_days, ~9M rows at
# 4,000 accounts, scanned twice: 0.3 of the step's 1.0 s after one new day).
USER_ACTIVITY = "int_moment_user_activity"
# One SQL file per trigger (health/db/sql/int/int_trigger_*.sql), stacked by int_action_triggers.
TRIGGERS = tuple(
    f"int_trigger_{t}"
    for t in ("moments", "renewal", "decline", "urgent", "champion", "detractor", "untouched")
)


def refresh_actions(con, as_of: dt.date) -> None:
    """Refresh step: triggers -> candidate actions -> dedupe and daily budget -> mart_actions."""
    book = playbooks()
    stand_ins = [name for name in _INPUTS if not db.table_exists(con, name)]
    for name in stand_ins:  # names from _INPUTS only
        con.execute(f"CREATE TEMP TABLE {name} ({_INPUTS[name]})")
    # Each user's last active day comes from the moments' rollup of int_user_days, which the
    # refresh keeps up to date before this step; where the moments did not run (a pipeline of
    # this step alone, on tables of its own), the same rollup is computed from int_user_days.
    rollup = not db.table_exists(con, USER_ACTIVITY)
    if rollup:
        con.execute(f"CREATE TEMP VIEW {USER_ACTIVITY} AS {db.sql(USER_ACTIVITY)}")
    try:
        with db.registered(con, "action_playbooks", playbook_frame(book)):
            db.build(
                con, [*TRIGGERS, "int_action_triggers", "int_action_candidates"], **params(book)
            )
    finally:
        for name in stand_ins:
            con.execute(f"DROP TABLE temp.{name}")
        if rollup:
            con.execute(f"DROP VIEW temp.{USER_ACTIVITY}")
    fresh = render(db.run(con, "select * from int_action_candidates"))
    previous = _previous(con)
    live = db.run(con, "select account_id from stg_accounts where churn_date is null")
    database = db.published_file(con)
    log = action_log.log_path(database) if database else None
    status = action_log.statuses(log) if log else pl.DataFrame(schema=action_log.COLUMNS)
    planned = plan(fresh, previous, status, live["account_id"], as_of, book["settings"])
    db.write_frame(con, "mart_actions", planned)


def _previous(con) -> pl.DataFrame:
    if not db.table_exists(con, "mart_actions"):
        return pl.DataFrame(schema=COLUMNS)
    previous = db.run(con, "select * from mart_actions")
    if "assignment" not in previous.columns:  # written before holdouts: what surfaced was offered
        previous = previous.with_columns(
            assignment=pl.when(pl.col("surfaced_on").is_not_null()).then(pl.lit("offered"))
        )
    if set(COLUMNS) - set(previous.columns):
        return pl.DataFrame(schema=COLUMNS)  # written by an older build: start the queue afresh
    return previous.select([pl.col(c).cast(t) for c, t in COLUMNS.items()])


def plan(
    fresh: pl.DataFrame,
    previous: pl.DataFrame,
    status: pl.DataFrame,
    live_accounts: pl.Series,
    as_of: dt.date,
    settings: dict,
) -> pl.DataFrame:
    """Merge today's candidates with yesterday's actions and the log; dedupe; spend the budget."""
    # A refresh at an earlier date than the last one must not see that one's future.
    previous = previous.filter(pl.col("triggered_on") <= as_of).with_columns(
        [
            pl.when(pl.col("surfaced_on") <= as_of).then(pl.col(c)).alias(c)
            for c in ("surfaced_on", "due_on")
        ]
    )
    kept = fresh.join(
        previous.select("action_id", "surfaced_on", "due_on", "assignment"),
        on="action_id",
        how="left",
    )
    # Yesterday's actions whose trigger is gone stay only if they reached a list or the log:
    # a queued action nobody saw ends with its trigger.
    carried = previous.join(fresh, on="action_id", how="anti")
    carried = carried.filter(
        pl.col("surfaced_on").is_not_null()
        | pl.col("action_id").is_in(status["action_id"].implode())
    ).with_columns(
        active=pl.lit(False),
        account_active=pl.col("account_id").is_in(live_accounts.implode()),
    )
    latest = status.select("action_id", "status", "snooze_until")
    frame = (
        pl.concat([kept, carried], how="diagonal_relaxed")
        .join(latest, on="action_id", how="left")
        .with_columns(status=pl.col("status").fill_null("open"))
    )
    return _decide(frame, as_of, settings).select([pl.col(c).cast(t) for c, t in COLUMNS.items()])


def _decide(frame: pl.DataFrame, as_of: dt.date, settings: dict) -> pl.DataFrame:
    c = pl.col
    key = ["account_id", "reason"]
    closed = c("status").is_in(states.CLOSED)
    surfaced = c("surfaced_on").is_not_null()
    frame = frame.with_columns(closed=closed, surfaced=surfaced)

    # The same moment the CSM already closed, dated differently by a refresh on another day:
    # not a new one. Risk signals start on calendar facts, so theirs need no such tolerance.
    done = frame.filter(c("closed")).select(
        *key, closed_start=c("started_on"), closed_trigger=c("triggered_on")
    )
    window = int(settings["same_trigger_days"])
    near = (c("started_on") - c("closed_start")).dt.total_days().abs() <= window
    near = near | ((c("triggered_on") - c("closed_trigger")).dt.total_days().abs() <= window)
    seen = (
        frame.filter(~c("closed") & ~c("surfaced") & (c("reason_kind") != "risk"))
        .join(done, on=key)
        .filter(near)
        .select("action_id")
        .unique()
    )
    frame = frame.with_columns(repeat=c("action_id").is_in(seen["action_id"].implode()))

    alive = c("account_active").fill_null(False)
    pending = ~c("closed") & ~c("repeat") & alive & (c("surfaced") | c("active").fill_null(False))
    frame = frame.with_columns(pending=pending)
    # One pending action per account and reason: the one listed first, else the oldest trigger.
    first = (
        frame.filter(c("pending"))
        .sort("surfaced_on", "triggered_on", "action_id", nulls_last=True)
        .group_by(key, maintain_order=True)
        .first()
        .select("action_id")
    )
    frame = frame.with_columns(
        duplicate=c("repeat") | (c("pending") & ~c("action_id").is_in(first["action_id"].implode()))
    )
    holders = frame.filter(c("pending") & ~c("duplicate")).select("account_id", cover=c("reason"))
    covering = (
        frame.filter(c("pending") & ~c("duplicate") & ~c("surfaced"))
        .select("action_id", "account_id", cover=c("unless_open"))
        .explode("cover")
        .join(holders, on=["account_id", "cover"])
        .select("action_id")
        .unique()
    )
    snoozed = states.snoozed(as_of)
    frame = frame.with_columns(
        covered=c("action_id").is_in(covering["action_id"].implode()) & ~c("surfaced"),
        snoozed=snoozed,
    )
    waiting = (
        c("pending")
        & ~c("duplicate")
        & ~c("covered")
        & ~c("surfaced")
        & ~c("snoozed")
        & (c("triggered_on") <= as_of)
    )
    # A playbook's holdout share of new actions is drawn at random (from the action's id, so a
    # rebuild draws the same) and never listed; the rest compete for the budget.
    if "holdout" not in frame.columns:
        frame = frame.with_columns(holdout=pl.lit(0.0))
    frame = frame.with_columns(draw=_draw(frame["action_id"]))
    held_now = waiting & (c("draw") < c("holdout").fill_null(0.0))
    held = held_now | (c("assignment") == "held_out")
    # Today's budget per owner, minus what an earlier refresh today already listed.
    budget = int(settings["daily_budget"])
    listed_today = (c("surfaced_on") == as_of) & (c("assignment") != "held_out")
    used = frame.filter(listed_today).group_by("owner").len("used")
    ranked = (
        frame.filter(waiting & ~held_now)
        .join(used, on="owner", how="left")
        .sort(["priority", "triggered_on", "action_id"], descending=[True, False, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("owner"))
        .filter(c("rank") <= budget - c("used").fill_null(0))
        .select("action_id")
    )
    new = c("action_id").is_in(ranked["action_id"].implode())
    # Due `due_in_days` after it reaches the list, and never after the renewal; a queued
    # action shows the date it would have if it surfaced today.
    due = as_of + pl.duration(days=c("due_in_days"))
    due = pl.when(c("renewal_date") >= as_of).then(pl.min_horizontal(due, c("renewal_date")))
    due = due.otherwise(as_of + pl.duration(days=c("due_in_days")))
    return (
        frame.with_columns(
            surfaced_on=pl.when(new | held_now).then(pl.lit(as_of)).otherwise(c("surfaced_on")),
            assignment=pl.when(held_now)
            .then(pl.lit("held_out"))
            .when(new)
            .then(pl.lit("offered"))
            .otherwise(c("assignment")),
            due_on=pl.when(c("surfaced")).then(c("due_on")).otherwise(due).cast(pl.Date),
            state=states.state(
                closed=c("closed"),
                duplicate=c("duplicate"),
                covered=c("covered"),
                held_out=held,
                pending=c("pending"),
                snoozed=c("snoozed"),
                listed=new | c("surfaced"),
            ),
            as_of=pl.lit(as_of),
        )
        .with_columns(
            due_on=pl.when(c("state").is_in(states.SET_ASIDE)).then(None).otherwise(c("due_on"))
        )
        .sort("owner", "priority", "action_id", descending=[False, True, False])
    )


def _draw(ids: pl.Series) -> pl.Series:
    """A uniform draw in [0, 1) per action id, the same on every machine and every refresh."""
    # A few hundred new actions a day at most: hashing them one by one costs nothing.
    digits = [int(hashlib.sha256(i.encode()).hexdigest()[:12], 16) for i in ids.to_list()]
    return pl.Series("draw", [d / 16**12 for d in digits], dtype=pl.Float64)


def live_state(actions: pl.DataFrame, status: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Actions with their latest log entry and the state that entry gives them now."""
    frame = actions.drop(STATUS_COLUMNS, strict=False).join(
        status.select("action_id", *STATUS_COLUMNS), on="action_id", how="left"
    )
    frame = frame.with_columns(status=pl.col("status").fill_null("open"))
    return frame.with_columns(state=states.live(frame, as_of))


def _as_of(con) -> dt.date:
    return db.run(con, "select as_of from params")["as_of"][0]


def todays_actions(con, log: str | Path, owner: str | None = None) -> pl.DataFrame:
    """Today's list: listed actions still open (live from the log), highest priority first,
    with each one's place on its owner's list (1 = first) and its dollars at stake."""
    if not db.table_exists(con, "mart_actions"):
        return pl.DataFrame(schema=TODAY_COLUMNS)
    frame = db.run(
        con,
        "select * from mart_actions where surfaced_on is not null "
        "and ($owner::varchar is null or owner = $owner)",
        owner=owner,
    )
    frame = live_state(frame, action_log.statuses(log), _as_of(con))
    listed = frame.filter(pl.col("state") == "listed").sort(
        "priority", "due_on", "action_id", descending=[True, False, False]
    )
    return listed.with_columns(
        rank_for_owner=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("owner"),
        dollars_at_stake=pl.col("priority").round(0).cast(pl.Int64),
    )


def account_actions(con, log: str | Path, account_id: str) -> pl.DataFrame:
    """Every action of one account with its live state: to-dos first, then history."""
    if not db.table_exists(con, "mart_actions"):
        return pl.DataFrame(schema=LIVE_COLUMNS)
    frame = db.run(con, "select * from mart_actions where account_id = $id", id=account_id)
    frame = live_state(frame, action_log.statuses(log), _as_of(con))
    order = pl.col("state").replace_strict(STATES, list(range(len(STATES))), default=99)
    return frame.sort(order, -pl.col("priority"), pl.col("triggered_on"), descending=False)


def owners(con) -> list[str]:
    """Every CSM who owns an account, alphabetically."""
    return db.run(con, "select distinct csm_owner from stg_accounts order by 1")[
        "csm_owner"
    ].to_list()
