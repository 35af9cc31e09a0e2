"""What a digest says: sections of lines, each about one account and linking to its page.

A CSM's daily digest: actions due, renewals within 30 days, accounts that changed tier and new
moments of truth since their last digest, for their book. A leader's weekly digest: ARR at risk
and its change, the renewals ahead, the largest disagreements between CSM sentiment and health.
Customer text is redacted for the reader's role exactly where the app redacts it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from health import db
from health.actions import suggest as acts
from health.analytics import alignment, renewals
from health.analytics.portfolio import money
from health.auth import permissions
from health.auth.redact import Redactor
from health.auth.redact import redact as redact_frame
from health.present.labels import value_label

RENEWAL_DAYS = 30
ACTION_DAYS = 7  # open actions due within a week, overdue ones included
FIRST_DIGEST_DAYS = 7  # a reader's first digest covers the last week


@dataclass(frozen=True)
class Line:
    """One line of a digest: its text and, when about an account, the account's id."""

    text: str
    account_id: str | None = None


@dataclass
class Section:
    """A titled list of lines; `more` counts the lines left out by the budget."""

    title: str
    lines: list[Line]
    empty: str
    more: int = 0


@dataclass
class Digest:
    """One reader's email before it is rendered: who, which period, what changed."""

    kind: str  # "csm" or "leader"
    reader: str
    role: str
    since: dt.date
    as_of: dt.date
    headline: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


def hide_people(con, role: str, account_ids: list[str]) -> Callable[[str, str | None], str | None]:
    """(account_id, text) -> text as the role may see it: the app's one redaction
    (health.auth.redact) with that account's people, the champion named as such."""
    if permissions.can_see_contacts(role) or not account_ids:
        return lambda _account, text: text
    people = db.run(
        con,
        "select account_id, name, coalesce(is_champion, false) as champion from stg_users "
        "where name is not null and list_contains($ids::varchar[], account_id)",
        ids=account_ids,
    )
    redactors = {
        account: Redactor(
            part.filter(~pl.col("champion"))["name"].to_list(),
            next(iter(part.filter(pl.col("champion"))["name"]), None),
        )
        for (account,), part in people.group_by("account_id")
    }
    plain = Redactor()  # no names on file: email addresses are still hidden

    def hide(account: str, text: str | None) -> str | None:
        return redactors.get(account, plain).text(text)

    return hide


def _week(con, day: dt.date) -> dt.date | None:
    """The last scored week ending on or before a day."""
    rows = con.execute(
        "select max(week_end) from mart_health_history where week_end <= ?", [day]
    ).fetchall()
    return rows[0][0] if rows else None


def tier_changes(con, since: dt.date, as_of: dt.date, account_ids: list[str]) -> pl.DataFrame:
    """Accounts whose tier at the as-of week differs from their tier at the week of `since`."""
    before, now = _week(con, since), _week(con, as_of)
    if before is None or now is None or before == now:
        return pl.DataFrame(schema={"account_id": pl.String, "name": pl.String})
    return db.run(
        con,
        "select n.account_id, a.name, b.tier as tier_before, n.tier as tier_now, "
        "b.health_score as health_before, n.health_score as health_now "
        "from mart_health_history as n "
        "join mart_health_history as b on b.account_id = n.account_id and b.week_end = $before "
        "join stg_accounts as a on a.account_id = n.account_id "
        "where n.week_end = $now and n.tier <> b.tier "
        "and list_contains($ids::varchar[], n.account_id) "
        "order by n.health_score - b.health_score, n.account_id",
        before=before,
        now=now,
        ids=account_ids,
    )


def new_moments(con, since: dt.date, as_of: dt.date, account_ids: list[str]) -> pl.DataFrame:
    """Moments detected after `since`, up to the as-of date, most severe first."""
    if not db.table_exists(con, "moments"):
        return pl.DataFrame(schema={"account_id": pl.String})
    return db.run(
        con,
        "select m.account_id, a.name, m.moment, m.kind, m.detected_on, m.severity, m.evidence "
        "from moments as m join stg_accounts as a using (account_id) "
        "where m.detected_on > $since and m.detected_on <= $as_of "
        "and list_contains($ids::varchar[], m.account_id) "
        "order by m.severity desc, m.detected_on desc, m.account_id",
        since=since,
        as_of=as_of,
        ids=account_ids,
    )


def renewals_soon(con, as_of: dt.date, account_ids: list[str] | None, past=None) -> pl.DataFrame:
    """Renewals within 30 days, largest ARR first, with the probability that each renews (as
    the Renewals page makes it; `past`: renewals.history, if already made)."""
    frame = renewals.renewal_accounts(
        con, as_of, as_of + dt.timedelta(days=1), as_of + dt.timedelta(days=RENEWAL_DAYS), True,
        account_ids,
    )  # fmt: skip
    past = renewals.history(con, as_of) if past is None else past
    frame, _ = renewals.recalibrate(renewals.probabilities(frame, renewals.usual_risk(con)), past)
    return frame.sort("arr", descending=True, nulls_last=True)


def book(con, owner: str) -> list[str]:
    """The ids of the accounts a CSM owns and that are still customers."""
    return db.run(
        con,
        "select account_id from mart_account_overview where is_active and csm_owner = $owner "
        "order by account_id",
        owner=owner,
    )["account_id"].to_list()


def budgeted(sections: list[Section], budget: int) -> list[Section]:
    """Cut the sections to `budget` lines in all: each gets a fair share first, then the rest
    go in order; what is cut is counted as "and N more"."""
    share = budget // max(1, sum(1 for s in sections if s.lines))
    keep = [min(len(s.lines), share) for s in sections]
    spare = budget - sum(keep)
    for i, s in enumerate(sections):
        extra = min(len(s.lines) - keep[i], spare)
        keep[i], spare = keep[i] + extra, spare - extra
    return [
        Section(s.title, s.lines[:k], s.empty, s.more + len(s.lines) - k)
        for s, k in zip(sections, keep, strict=True)
    ]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _renewal_lines(frame: pl.DataFrame) -> list[Line]:
    return [
        Line(
            f"{r['name']}: renews {r['renewal_date']:%d %b %Y}, ARR {money(r['arr'])}, "
            f"{_pct(r['p_renew'])} likely to renew",
            r["account_id"],
        )
        for r in frame.iter_rows(named=True)
    ]


def csm_digest(
    con, owner: str, since: dt.date, as_of: dt.date, log, budget: int, role: str = "csm", past=None
) -> Digest:
    """A CSM's daily digest: what changed in their book since `since`, within the budget."""
    ids = book(con, owner)
    redact = hide_people(con, role, ids)
    due_by = as_of + dt.timedelta(days=ACTION_DAYS)
    due = acts.todays_actions(con, log, owner).filter(pl.col("due_on") <= due_by)
    soon = redact_frame(renewals_soon(con, as_of, ids, past), role)
    tiers = tier_changes(con, since, as_of, ids)
    found = new_moments(con, since, as_of, ids)
    sections = [
        Section(
            f"Actions due by {due_by:%d %b}",
            [
                Line(
                    f"{r['account']}: {redact(r['account_id'], r['title'])} (due "
                    f"{r['due_on']:%d %b})",
                    r["account_id"],
                )
                for r in due.iter_rows(named=True)
            ],
            "No action is due.",
        ),  # fmt: skip
        Section(f"Renewals within {RENEWAL_DAYS} days", _renewal_lines(soon), "None."),
        Section(
            "Accounts that changed tier",
            [
                Line(
                    f"{r['name']}: {value_label(r['tier_before'])} → {value_label(r['tier_now'])}"
                    f" (health {r['health_before']:.0f} → {r['health_now']:.0f})",
                    r["account_id"],
                )
                for r in tiers.iter_rows(named=True)
            ],
            "No account changed tier.",
        ),  # fmt: skip
        Section(
            "New moments of truth",
            [
                Line(
                    f"{r['name']}: {value_label(r['moment'])}, {value_label(r['kind'])} on "
                    f"{r['detected_on']:%d %b}: {redact(r['account_id'], r['evidence'])}",
                    r["account_id"],
                )
                for r in found.iter_rows(named=True)
            ],
            "No new moment.",
        ),  # fmt: skip
    ]
    headline = [
        f"{len(ids):,} accounts in your book; changes since {since:%d %b %Y}, "
        f"as of {as_of:%d %b %Y}."
    ]
    return Digest("csm", owner, role, since, as_of, headline, budgeted(sections, budget))


def arr_at_risk(con, day: dt.date) -> float | None:
    """Σ ARR × churn risk over the accounts scored in the week of `day` (their current ARR, so
    a change is a change of risk, not of price)."""
    week = _week(con, day)
    if week is None:
        return None
    rows = con.execute(
        "select sum(a.arr * h.churn_risk) from mart_health_history as h "
        "join stg_accounts as a using (account_id) where h.week_end = ?",
        [week],
    ).fetchall()
    return rows[0][0]


def leader_digest(
    con, reader: str, since: dt.date, as_of: dt.date, budget: int, role: str = "leader", past=None
) -> Digest:
    """A leader's weekly digest: ARR at risk and its change, renewals, the largest
    disagreements between CSM sentiment and health."""
    now, before = arr_at_risk(con, as_of), arr_at_risk(con, since)
    past = renewals.history(con, as_of) if past is None else past
    fc = renewals.forecast(con, as_of, past=past)
    total = renewals.summarise(fc.accounts).row(0, named=True)
    soon = redact_frame(renewals_soon(con, as_of, None, past), role)
    disagree = redact_frame(alignment.disagreements(con), role)
    redact = hide_people(con, role, disagree["account_id"].to_list())
    change = "" if now is None or before is None else f" ({'+' if now >= before else '−'}"
    change += "" if not change else f"{money(abs(now - before))} since {since:%d %b %Y})"
    headline = [
        f"ARR at risk (Σ ARR × churn risk): {money(now)}{change}.",
        f"Renewals from {fc.window_from:%d %b %Y} to {fc.window_to:%d %b %Y}: "
        f"{total['accounts']:,} accounts, {money(total['arr'])} up for renewal, "
        f"{money(total['expected_arr'])} expected to renew (90 %: {money(total['low_90'])} – "
        f"{money(total['high_90'])}).",
    ]
    sections = [
        Section(f"Largest renewals within {RENEWAL_DAYS} days", _renewal_lines(soon), "None."),
        Section(
            "Largest disagreements between CSM sentiment and health",
            [
                Line(
                    f"{r['name']}: CSM says {r['csm_sentiment']}, data says "
                    f"{value_label(r['tier']).lower()}; ARR × risk {money(r['arr_at_risk'])} "
                    f"(CSM {r['csm_owner']}). Why: {redact(r['account_id'], r['drivers'])}",
                    r["account_id"],
                )
                for r in disagree.iter_rows(named=True)
            ],
            "CSMs and the data agree on every account.",
        ),  # fmt: skip
    ]
    return Digest("leader", reader, role, since, as_of, headline, budgeted(sections, budget))
