"""Incremental refresh: the first calendar week a refresh must compute again, and keeping the rest.

Past calendar weeks never change when a day is added, so a refresh after new data recomputes
only the weeks from the first one the change can reach: the week of the last refresh's as-of
date (it was partial), of the first changed event day (from the events' manifests), and of the
first changed row in any other source (each source's rows compared with a copy kept by the last
refresh). Anything else (another version of the SQL or the settings, an earlier as-of date, a
table missing) rebuilds everything, as `refresh --full` does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from health import db

# The weekly tables, one row per (…, week_end): rows before the first week to compute are kept.
WEEKLY: tuple[str, ...] = (
    "int_weeks",
    "int_feature_weeks",
    "int_account_weeks",
    "int_account_rolling_users",
    "int_core_features",
    "int_account_feature_breadth",
    "int_account_event_breadth",
    "int_account_contract_weeks",
    "int_account_support_weeks",
    "int_account_people_weeks",
    "mart_account_features",
)

# Per source: its key, its dates, and the columns the weekly tables read. A changed row counts
# from the earliest of its dates that changed (any other column: the earliest of its dates).
# `always`: a date that, when empty, means "from the start" (a user with no creation date).
SOURCES: dict[str, dict] = {
    "stg_accounts": {
        "key": ("account_id",),
        "dates": ("signup_date", "churn_date"),
        "other": ("plan", "segment"),
    },
    "stg_users": {
        "key": ("user_id",),
        "dates": ("created_at", "deactivated_at"),
        "other": ("account_id", "is_champion"),
        "always": "created_at",
    },
    "stg_subscriptions": {
        "key": ("account_id", "start_date"),
        "dates": ("start_date", "end_date", "term_end"),
        "other": ("mrr", "seats", "plan", "lines", "term_months"),
        # the day the plan was chosen is older than the line: a change counts from the line
        "follows": {"plan_since": "start_date"},
    },
    "stg_tickets": {
        "key": ("ticket_id",),
        "dates": ("opened_at", "closed_at"),
        "other": ("account_id", "priority"),
        # a satisfaction score counts in the week its ticket closed
        "follows": {"csat": "closed_at"},
    },
    "stg_surveys": {
        "key": ("account_id", "user_id", "responded_at"),
        "dates": ("responded_at",),
        "other": ("score",),
    },
    "stg_touchpoints": {
        "key": ("account_id", "occurred_at", "kind"),
        "dates": ("occurred_at",),
        "other": ("sentiment",),
    },
}

SEEN = "refresh_seen_"  # prefix of the copies kept for the next refresh's comparison
# meta key prefix: each kept copy's row count and sum of row hashes. A source whose rows hash to
# what its copy did is the same (not compared row by row, nor copied again): after a day, most
# are. A source that differs is compared row by row, so a collision could only hide a change.
SEEN_HASH = "seen_hash_"
NOW = "_source_now"  # temp table: a source's rows as the refresh reads them, while compared
HASHES = "_source_hashes"  # temp table: source, hash of the rows this refresh read (for remember)
FULL = dt.date.min  # params.rebuild_from of a full rebuild: every week


def fingerprint() -> str:
    """The SQL and the settings the tables were built by: another version rebuilds them all."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for folder in (root / "db" / "sql", root / "config"):
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".sql", ".toml"):
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _columns(spec: dict) -> list[str]:
    follows = tuple(spec.get("follows", {}))
    return list(dict.fromkeys((*spec["key"], *spec["dates"], *spec["other"], *follows)))


def _hash(con, source: str, spec: dict) -> str:
    """A source's rows in one value: their count and the sum of their hashes (order-free)."""
    cols = ", ".join(_columns(spec))
    [(n, total)] = con.execute(f"select count(*), sum(hash({cols})) from {source}").fetchall()
    return f"{n}:{total or 0}"


def _first_changed(con, source: str, spec: dict, seen: str | None = None) -> dt.date | None:
    """The first day a source's rows differ from the copy the last refresh kept (None: same).
    `seen`: the copy's hash (see `remember`); equal to the source's, they are the same.

    The source (a staging view, some of them joins) is computed once, into a temp table that the
    hash and both sides of the comparison read; the hash is kept for `remember` (nothing a
    refresh builds changes a source), the rows are not (they would sit in memory to the end)."""
    cols = ", ".join(_columns(spec))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {NOW} AS SELECT {cols} FROM {source}")
    try:
        rows = _hash(con, NOW, spec)
        con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {HASHES} (source VARCHAR, hash VARCHAR)")
        con.execute(f"INSERT INTO {HASHES} VALUES (?, ?)", [source, rows])
        if seen is not None and seen == rows:
            return None
        return _first_difference(con, source, spec)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {NOW}")


def _first_difference(con, source: str, spec: dict) -> dt.date | None:
    """_first_changed's row-by-row comparison of the copy with the source's rows (NOW).

    The rows on one side and not the other are found by their hashes first (one number a row,
    not every column: about half the time), then read whole: a row whose hash is among the
    differing ones is one of them (a collision could only hide a change, as for the hash of the
    whole source). The result depends only on which rows differ, not on how often each occurs."""
    cols = ", ".join(_columns(spec))
    first_key = spec["key"][0]
    key = " and ".join(f"o.{k} is not distinct from n.{k}" for k in spec["key"])

    def day(side: str, d: str) -> str:
        # an empty `always` date means from the start: the first day there is
        start = "'0001-01-01'::date"
        return (
            f"coalesce({side}.{d}::date, {start})"
            if d == spec.get("always")
            else f"{side}.{d}::date"
        )

    def every(side: str) -> str:
        return f"least({', '.join(day(side, d) for d in spec['dates'])})"

    follows = {d: d for d in spec["dates"]} | spec.get("follows", {})
    moved = ", ".join(
        f"case when o.{c} is distinct from n.{c} then least({day('o', d)}, {day('n', d)}) end"
        for c, d in follows.items()
    )
    same_other = " and ".join(f"o.{c} is not distinct from n.{c}" for c in spec["other"])
    seen, now, h = f"{SEEN}{source}", NOW, f"hash({cols})"
    text = f"""
        with
            gone as (select {h} as h from {seen} except all select {h} from {now}),
            added as (select {h} as h from {now} except all select {h} from {seen}),
            o as (select {cols} from {seen} where {h} in (select h from gone)),
            n as (select {cols} from {now} where {h} in (select h from added))
        select min(case
            when o.{first_key} is null then {every("n")}
            when n.{first_key} is null then {every("o")}
            when {same_other} then least({moved})
            else least({every("o")}, {every("n")})
        end)
        from o full join n on {key}
    """
    return con.execute(text).fetchall()[0][0]


def rebuild_from(con, as_of: dt.date, events_since: dt.date | None) -> dt.date:
    """The Monday of the first week to compute again, or FULL to rebuild every week."""
    return changes(con, as_of, events_since)[0]


def changes(con, as_of: dt.date, events_since: dt.date | None) -> tuple[dt.date, dt.date]:
    """(rebuild_from, changed_from): the Monday of the first week to compute again, and the first
    day whose data differ from what the last refresh read (the day after its as-of date when
    none do); FULL, FULL to rebuild everything."""
    meta = dict(con.execute("select key, value from meta").fetchall())
    last = meta.get("weeks_as_of")
    if (
        events_since is None
        or last is None
        or meta.get("weeks_fingerprint") != fingerprint()
        or not all(db.table_exists(con, t) for t in WEEKLY)
        or not all(db.table_exists(con, SEEN + s) for s in SOURCES)
    ):
        return FULL, FULL
    last = dt.date.fromisoformat(last)
    if as_of < last:
        return FULL, FULL
    firsts = [last + dt.timedelta(days=1), events_since]
    for source, spec in SOURCES.items():
        day = _first_changed(con, source, spec, meta.get(SEEN_HASH + source))
        if day is not None:
            firsts.append(day)
    changed = min(firsts)
    first = min(last, changed)
    return first - dt.timedelta(days=first.weekday()), changed


def build_weekly(con, name: str, since: dt.date) -> None:
    """Build a weekly table: whole, or only its weeks from `since` on, keeping the earlier."""
    if since == FULL or not db.table_exists(con, name):
        db.build(con, [name])
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE _weeks_new AS {db.sql(name)}")
    con.execute(f"DELETE FROM {name} WHERE week_end >= ?", [since])
    con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _weeks_new WHERE week_end >= ?", [since])
    con.execute("DROP TABLE _weeks_new")


def forget(con) -> None:
    """Drop the hashes a refresh's comparison kept for `remember` (see _first_changed)."""
    con.execute(f"DROP TABLE IF EXISTS temp.{HASHES}")


def remember(con, as_of: dt.date) -> None:
    """Keep what the next refresh compares with: the sources' rows (copied again only when
    they changed), their hashes and the SQL's version. A source this refresh compared has its
    hash from the comparison, else it is hashed here."""
    meta = dict(con.execute("select key, value from meta").fetchall())
    hashed = {}
    if db.table_exists(con, HASHES):
        hashed = dict(con.execute(f"select source, hash from temp.{HASHES}").fetchall())
    for source, spec in SOURCES.items():
        rows = hashed.get(source) or _hash(con, source, spec)
        if rows == meta.get(SEEN_HASH + source) and db.table_exists(con, SEEN + source):
            continue  # the copy holds these rows already
        con.execute(
            f"CREATE OR REPLACE TABLE {SEEN}{source} AS SELECT {', '.join(_columns(spec))} "
            f"FROM {source}"
        )
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [SEEN_HASH + source, rows])
    forget(con)
    con.execute(
        "INSERT OR REPLACE INTO meta VALUES ('weeks_as_of', ?), ('weeks_fingerprint', ?)",
        [as_of.isoformat(), fingerprint()],
    )
