"""The people's rollups after new days: only the users the new days reach are computed again.

int_moment_user_activity (each active user's first and last day, active days, active days in
the 8 weeks up to the last) and int_moment_silences (each champion's silences) read every row of
int_user_days, which grows by a day's users each day. After new days, a user's activity row
changes only if the user has days from params.changed_from on (the first day whose data differ
from the last refresh's): it is updated from those days and the 8 weeks before them. A
champion's silences change only from their last active day before changed_from on, or, for a
champion without new days, only in the open silence, which the later as-of date can make long
enough to list (champions last active within 15 days of the last refresh's as-of date). The
other rows are kept.

Anything else builds the two tables whole: a full refresh, a changed past (a user with a kept
day from changed_from on), champions whose names or deactivations changed, tables the last
refresh did not build with the same as-of date the incremental refresh compares with (meta
weeks_as_of). tests/test_refresh_incremental.py checks the result equals a full build.
"""

from __future__ import annotations

import datetime as dt

from health import db

ACTIVITY, SILENCES = "int_moment_user_activity", "int_moment_silences"
# meta keys: the as-of date the two tables were last built for; the champions' rows they read
BUILT_AS_OF = "moment_people_as_of"
CHAMPIONS = "moment_people_champions"
CHAMPIONS_HASH = (
    "select count(*) || ':' || coalesce(sum(hash(account_id, user_id, name, "
    "deactivated_at::date)), 0) from stg_users where is_champion"
)

# A champion's silences from an anchor day on (their last active day before the new days): the
# same rows as int_moment_silences.sql, from the champion's days since 55 days before the anchor.
_SILENCES_FROM = """
with
    champs as (
        select account_id, user_id, name, deactivated_at::date as deactivated_on
        from stg_users
        where is_champion
    ),
    days as (
        select d.account_id, d.user_id, d.day::date as day, s.anchor,
            lead(d.day::date) over (partition by d.account_id, d.user_id order by d.day)
                as next_day,
            count(*) over (
                partition by d.account_id, d.user_id order by d.day::date
                range between interval 55 days preceding and current row
            ) as active_days_8w
        from int_user_days as d
        join champs as c using (account_id, user_id)
        join _silence_scope as s using (account_id, user_id)
        where d.day >= s.anchor - 55
    )
select
    c.account_id,
    c.user_id,
    coalesce(c.name, c.user_id) as name,
    c.deactivated_on,
    d.day as last_day,
    d.next_day,
    d.active_days_8w
from days as d
join champs as c using (account_id, user_id)
cross join params as p
where d.day >= d.anchor
    and (date_diff('day', d.day, coalesce(d.next_day, p.as_of + 1)) > 14
        or (d.next_day is null and c.deactivated_on is not null))
"""

# Each user with days from $changed on: their activity row, from the kept one and the new days.
_ACTIVITY_NEW = """
with
    new as (
        select account_id, user_id, min(day) as n_first, max(day) as n_last, count(*) as n_days
        from int_user_days
        where day >= $changed
        group by all
    ),
    recent as (
        select d.account_id, d.user_id, count(*) as active_days_8w
        from int_user_days as d join new as n using (account_id, user_id)
        where d.day > $changed - 57 and d.day > n.n_last - 56
        group by all
    )
select n.account_id, n.user_id, coalesce(o.first_day, n.n_first) as first_day,
    n.n_last as last_day, coalesce(o.active_days, 0) + n.n_days as active_days,
    r.active_days_8w
from new as n
left join int_moment_user_activity as o using (account_id, user_id)
join recent as r using (account_id, user_id)
"""


def _meta(con) -> dict[str, str]:
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    return dict(con.execute("select key, value from meta").fetchall())


def update_people(con, changed: dt.date) -> set[str]:
    """Bring the two tables up to date incrementally where that is exact; returns the names it
    built (none when they must be built whole, which build_inputs then does)."""
    meta = _meta(con)
    built = meta.get(BUILT_AS_OF)
    if (
        changed == dt.date.min
        or built is None
        or built != meta.get("weeks_as_of")
        or not all(db.table_exists(con, t) for t in (ACTIVITY, SILENCES))
    ):
        return set()
    last = dt.date.fromisoformat(built)
    [(past,)] = con.execute(
        f"select count(*) from {ACTIVITY} where last_day >= ?", [changed]
    ).fetchall()
    if past:  # kept days changed: when in doubt, rebuild
        return set()
    champions_same = meta.get(CHAMPIONS) == con.execute(CHAMPIONS_HASH).fetchall()[0][0]
    params = {"changed": changed}
    con.execute(f"CREATE OR REPLACE TEMP TABLE _activity_new AS {_ACTIVITY_NEW}", params)
    done = {ACTIVITY}
    if champions_same:
        # The champions whose silences can change, each from its anchor day on (the kept activity
        # is the last refresh's here): new days, or an open silence the later as-of can lengthen.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _silence_scope AS
            select c.account_id, c.user_id, coalesce(o.last_day, $changed) as anchor
            from (select distinct account_id, user_id from stg_users where is_champion) as c
            left join {ACTIVITY} as o using (account_id, user_id)
            left join _activity_new as n using (account_id, user_id)
            where n.user_id is not null or o.last_day > $last - 15
            """,
            {"changed": changed, "last": last},
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE _silences_new AS {_SILENCES_FROM}")
        con.execute(
            f"""
            DELETE FROM {SILENCES} AS s USING _silence_scope AS c
            WHERE s.account_id = c.account_id and s.user_id = c.user_id and s.last_day >= c.anchor
            """
        )
        con.execute(f"INSERT INTO {SILENCES} BY NAME SELECT * FROM _silences_new")
        con.execute("DROP TABLE _silences_new")
        con.execute("DROP TABLE _silence_scope")
        done.add(SILENCES)
    con.execute(
        f"DELETE FROM {ACTIVITY} AS a USING _activity_new AS n "
        "WHERE a.account_id = n.account_id and a.user_id = n.user_id"
    )
    con.execute(f"INSERT INTO {ACTIVITY} BY NAME SELECT * FROM _activity_new")
    con.execute("DROP TABLE _activity_new")
    return done


def remember_people(con) -> None:
    """Note what the two tables were built for, so the next refresh can update them."""
    _meta(con)
    as_of = con.execute("select as_of from params").fetchall()[0][0]
    champions = con.execute(CHAMPIONS_HASH).fetchall()[0][0]
    con.execute(
        "INSERT OR REPLACE INTO meta VALUES (?, ?), (?, ?)",
        [BUILT_AS_OF, as_of.isoformat(), CHAMPIONS, champions],
    )
