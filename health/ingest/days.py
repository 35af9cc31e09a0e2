"""Events day by day: skip the days a load has already stored, keep the manifest of each day.

Daily exports carry the whole history, or a sliding window of it, so most of each file repeats
what is stored. A load fingerprints the file's events per day as written (a bucket: the first
ten characters of the event_time cell, its date; the row count and a sum of row hashes, which
two identical rows do not cancel) and checks and merges only the days whose fingerprint differs
from the last one stored. A day is skipped only when every one of its rows was valid then: a
valid row stays valid (accounts are never removed; the latest allowed date only moves later),
while a rejected one may become valid (its account has arrived), so those days are checked
again, as are rows without a readable day. Reject reasons, counts and row numbers are the same
as a full check's.

Days that a new export no longer holds are not deletions: their events and fingerprints stay.
Only `load --replace` removes events.

`event_days` is the manifest of the stored events (day, events, latest event time), kept by
each load for the days it touched; the event layer reads it instead of scanning the events.
"""

from __future__ import annotations

from health.ingest.contract import TABLES
from health.ingest.validate import _Cell

EVENTS = next(t for t in TABLES if t.name == "events")
BUCKET = "left(raw.event_time::VARCHAR, 10)"
# Printing every timestamp of a file as text (BUCKET) takes longer than the rest of the
# fingerprint: rows are grouped by a key that is cheap for the file's type, and each key names
# its bucket once. A bucket may gather several keys (a year past 9999 prints wider); a key never
# spans two buckets, as every row of one day prints the same ten characters.
KEYS = {
    "VARCHAR": "left(raw.event_time, 10)",
    "TIMESTAMP": "raw.event_time::DATE",
    # The UTC day by arithmetic, as validate.py does: a cast goes through the time zone library.
    "TIMESTAMP WITH TIME ZONE": "(CASE WHEN isfinite(raw.event_time) THEN "
    "make_timestamp(epoch_us(raw.event_time)) ELSE raw.event_time::TIMESTAMP END)::DATE",
}
FINGERPRINTS = "event_fingerprints"
DAYS = "event_days"


def ensure(con) -> None:
    """The fingerprint and manifest tables (a database from an older build has neither)."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {FINGERPRINTS} "
        "(bucket VARCHAR, rows BIGINT, hash HUGEINT, rejected BIGINT)"
    )
    if not _exists(con, DAYS):
        recount(con)


def _exists(con, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() "
            "AND table_name = ?",
            [name],
        ).fetchall()
    )


def forget(con) -> None:
    """A load that replaces the data: no day is known any more."""
    con.execute(f"DELETE FROM {FINGERPRINTS}")


def day_key(types: dict[str, str]) -> str:
    """The expression of a row's day key, for the file's type of event_time."""
    return KEYS.get(types.get("event_time", "VARCHAR"), BUCKET)


def to_check(con, stored_empty: bool, types: dict[str, str]) -> str:
    """Fingerprint raw_events by day; the relation of its rows to check (the rest are skipped).

    Makes temp tables incoming_keys (key, bucket, rows, hash, first_time, last_time: the file's
    first and last event_time of the key), incoming_buckets (bucket, rows, hash) and
    skipped_keys (key, of buckets skipped).
    """
    cols = ", ".join(f"raw.{c}" for c in EVENTS.names)
    key = day_key(types)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE incoming_keys AS "
        f"SELECT {key} AS key, left(any_value(raw.event_time)::VARCHAR, 10) AS bucket, "
        f"count(*) AS rows, sum(hash({cols})::HUGEINT) AS hash, "
        "min(raw.event_time) AS first_time, max(raw.event_time) AS last_time "
        "FROM raw_events AS raw GROUP BY ALL"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE incoming_buckets AS "
        "SELECT bucket, sum(rows)::BIGINT AS rows, sum(hash)::HUGEINT AS hash "
        "FROM incoming_keys GROUP BY ALL"
    )
    skip = "false" if stored_empty else "true"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE skipped_keys AS "
        "SELECT k.key FROM incoming_keys AS k WHERE k.bucket IN ("
        f"SELECT i.bucket FROM incoming_buckets AS i JOIN {FINGERPRINTS} AS f "
        "ON f.bucket = i.bucket AND f.rows = i.rows AND f.hash = i.hash AND f.rejected = 0 "
        f"WHERE {skip})"
    )
    if not con.execute("SELECT count(*) FROM skipped_keys").fetchone()[0]:
        return "raw_events"
    # The rows to check lie between the first and last event_time of the days to check, as
    # written: a filter on the file's own column, which the Parquet reader applies before it
    # decodes the other columns (a re-export with one new day: 0.83 -> 0.42 CPU s of 16M rows).
    # A NULL key (no event_time) never matches a skipped one: those rows are checked. (An anti
    # join on the key: NOT EXISTS would group the file by event_time first.)
    for end, agg in (("first", "min"), ("last", "max")):
        con.execute(
            f"SET VARIABLE events_check_{end} = (SELECT {agg}(k.{end}_time) "
            "FROM incoming_keys AS k ANTI JOIN skipped_keys AS s ON s.key = k.key)"
        )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW raw_events_to_check AS SELECT raw.* FROM ("
        "SELECT * FROM raw_events WHERE event_time BETWEEN getvariable('events_check_first') "
        "AND getvariable('events_check_last') OR event_time IS NULL"
        f") AS raw ANTI JOIN skipped_keys AS s ON s.key = {key}"
    )
    return "raw_events_to_check"


def skipped_rows(con) -> int:
    """Rows of the file in days skipped as already stored (after `to_check`)."""
    return con.execute(
        "SELECT coalesce(sum(rows), 0)::BIGINT FROM incoming_keys "
        "WHERE key IN (SELECT key FROM skipped_keys)"
    ).fetchone()[0]


def unknown_users(con, types: dict[str, str], *, only_these: bool, rejected: int) -> int:
    """Valid rows of the file whose user_id is not in users (0 while users is empty)."""
    if not con.execute("SELECT count(*) FROM users").fetchone()[0]:
        return 0
    if only_these:  # the events hold only this load's rows: read them there, not the file
        loaded = "SELECT user_id, 1 AS n FROM events"
    else:
        # Every row of the file, counted per user_id as written and typed once per value by the
        # check's rule, less the rejected rows: the valid rows of checked and of skipped days,
        # without reading the file's other columns (0.6 of 1.1 CPU s in a 16M-row re-export).
        cell = _Cell(EVENTS.column("user_id"), types.get("user_id", "VARCHAR"))
        loaded = (
            f"SELECT {cell.typed()} AS user_id, n FROM "
            "(SELECT user_id, count(*) AS n FROM raw_events GROUP BY ALL) AS raw"
        )
        if rejected:
            loaded += (
                f" UNION ALL SELECT {cell.typed()} AS user_id, -count(*) AS n "
                "FROM rejected_events JOIN raw_events AS raw USING (_row) GROUP BY ALL"
            )
    return con.execute(
        f"SELECT coalesce(sum(n), 0)::BIGINT FROM ({loaded}) AS e "
        "ANTI JOIN users AS u ON u.user_id = e.user_id WHERE e.user_id IS NOT NULL"
    ).fetchone()[0]


def record(con, rejected: int, *, all_new: bool) -> None:
    """After the merge: the file's fingerprints, and the manifest of the days it touched
    (every day when `all_new`: the stored events are this load's alone)."""
    con.execute("CREATE OR REPLACE TEMP TABLE bucket_rejects (bucket VARCHAR, n BIGINT)")
    if rejected:
        con.execute(
            f"INSERT INTO bucket_rejects SELECT {BUCKET}, count(*) "
            "FROM rejected_events AS r JOIN raw_events AS raw USING (_row) GROUP BY ALL"
        )
    con.execute(f"DELETE FROM {FINGERPRINTS} WHERE bucket IN (SELECT bucket FROM incoming_buckets)")
    con.execute(
        f"INSERT INTO {FINGERPRINTS} SELECT i.bucket, i.rows, i.hash, coalesce(r.n, 0) "
        "FROM incoming_buckets AS i LEFT JOIN bucket_rejects AS r USING (bucket) "
        "WHERE i.bucket IS NOT NULL ORDER BY i.bucket"
    )
    if all_new:
        recount(con)
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE touched_days AS "
        "SELECT DISTINCT event_time::DATE AS day FROM new_events"
    )
    first, last = con.execute("SELECT min(day), max(day) FROM touched_days").fetchone()
    if first is None:
        return
    con.execute(f"DELETE FROM {DAYS} WHERE day IN (SELECT day FROM touched_days)")
    # The time range lets DuckDB skip row groups of other days before the day test.
    con.execute(
        f"INSERT INTO {DAYS} SELECT event_time::DATE AS day, count(*), max(event_time) "
        "FROM events WHERE event_time >= ? AND event_time < ? + 1 "
        "AND event_time::DATE IN (SELECT day FROM touched_days) GROUP BY ALL ORDER BY day",
        [first, last],
    )


def recount(con) -> None:
    """The manifest of every stored event (a first load, a replace, a migrated database)."""
    con.execute(
        f"CREATE OR REPLACE TABLE {DAYS} AS SELECT event_time::DATE AS day, "
        "count(*) AS events, max(event_time) AS max_event_time FROM events "
        "GROUP BY ALL ORDER BY day"
    )


def note_added(con) -> None:
    """Move meta's events_changed_from back to the first day of the events this load added.

    Its value is an ISO date, or 'all' when every event may have changed; the refresh clears
    it once it has caught up, and a load that adds no event leaves it as it is.
    """
    current = con.execute("SELECT value FROM meta WHERE key = 'events_changed_from'").fetchone()
    if current and current[0] == "all":
        return
    con.execute(
        """
        INSERT OR REPLACE INTO meta
        SELECT 'events_changed_from', least(min(event_time)::DATE, (
            SELECT try_cast(value AS DATE) FROM meta WHERE key = 'events_changed_from'
        ))::VARCHAR
        FROM new_events HAVING count(*) > 0
        """
    )
