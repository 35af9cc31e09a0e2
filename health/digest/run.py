"""Make the digests: whom each is for, since when, write them, send them, remember them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from health import db
from health.actions import log as action_log
from health.actions import suggest as acts
from health.analytics import renewals
from health.auth import users as auth_users
from health.digest import settings as cfg
from health.digest.compose import Email, compose, send, write_eml
from health.digest.content import FIRST_DIGEST_DAYS, csm_digest, leader_digest

LEADERSHIP = "Leadership"  # the reader of the leaders' digest when no leader is a user


@dataclass(frozen=True)
class Made:
    """One digest made: its file, its recipients, and whether it was sent."""

    path: Path
    to: str
    sent: bool


def _since(state: dict, key: str, as_of: dt.date) -> dt.date:
    last = cfg.last_as_of(state, key)
    return last if last is not None else as_of - dt.timedelta(days=FIRST_DIGEST_DAYS)


def _emails(users: list[auth_users.User], **match) -> str:
    return ", ".join(
        u.email for u in users if u.email and all(getattr(u, k) == v for k, v in match.items())
    )


def make(
    database: Path, out: Path, owner: str | None = None, deliver: bool = False
) -> tuple[list[Made], list[str]]:
    """Write (and with `deliver`, send) the digests; return what was made and the notes."""
    settings = cfg.load_settings(cfg.config_path(database))
    if deliver and settings.smtp is None:
        raise cfg.DigestError(
            f"--send needs an [smtp] section in {cfg.config_path(database)} (host, port, "
            "username, password_env, from); see the README."
        )
    state_file = cfg.state_path(database)
    state = cfg.read_state(state_file)
    try:
        users = auth_users.load_users()
    except auth_users.UsersError as exc:
        raise cfg.DigestError(str(exc)) from None
    con = db.connect(database, read_only=True)
    notes: list[str] = []
    try:
        if not db.table_exists(con, "mart_health_history"):
            raise cfg.DigestError("no health scores yet: run `python -m health refresh` first.")
        as_of = con.execute("select as_of from params").fetchall()[0][0]
        known = [o for o in acts.owners(con) if o]
        if owner is not None and owner not in known:
            raise cfg.DigestError(
                f"no account is owned by {owner!r} (--owner); owners: {', '.join(known)}."
            )
        emails, past = [], renewals.history(con, as_of)  # shared by every digest's renewals
        for name in [owner] if owner else known:
            since = _since(state, f"csm:{name}", as_of)
            log = action_log.log_path(database)
            digest = csm_digest(con, name, since, as_of, log, settings.budget, past=past)
            emails.append(compose(digest, settings, _emails(users, role="csm", csm_name=name)))
        if owner is None:
            emails += _leader_emails(con, users, state, as_of, settings, notes, past)
    finally:
        con.close()
    made = [Made(write_eml(e, out), str(e.message["To"] or ""), False) for e in emails]
    if deliver:
        addressed = [e for e in emails if e.message["To"]]
        notes += [
            f"{m.path.name}: no email address in the users file, not sent" for m in made if not m.to
        ]
        send(addressed, settings.smtp)
        made = [Made(m.path, m.to, bool(m.to)) for m in made]
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for e in emails:
        state[e.key] = {"as_of": str(as_of), "made_at": stamp}
    cfg.write_state(state_file, state)
    return made, notes


def _leader_emails(con, users, state, as_of, settings, notes, past) -> list[Email]:
    """The weekly digest of each leader whose last one is a week old (or who has none)."""
    leaders = [u for u in users if u.role == "leader"] or [
        auth_users.User(LEADERSHIP, LEADERSHIP, "leader")
    ]
    out = []
    for leader in leaders:
        key = f"leader:{leader.name or leader.username}"
        last = cfg.last_as_of(state, key)
        if last is not None and (as_of - last).days < settings.leader_every_days:
            notes.append(
                f"{leader.name or leader.username}: weekly digest made on {last}, not yet due"
            )
            continue
        digest = leader_digest(con, leader.name or leader.username, _since(state, key, as_of),
                               as_of, settings.budget, past=past)  # fmt: skip
        out.append(compose(digest, settings, leader.email))
    return out
