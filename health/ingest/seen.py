"""Files a load has already merged: a table whose file is, byte for byte, the one its last load
merged with no rejected row is skipped whole, as that merge would change nothing.

Daily exports repeat their other tables (users, tickets, touchpoints) as often as their events:
checking and merging 580,000 unchanged users again cost more than the new day of events. A file
with a rejected row is checked again every time, as a row may become valid (its account has
arrived). The digest covers the contract's columns too, so a file is read again once the
contract gains a column. The events are skipped day by day instead (ingest/days.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from health.ingest.contract import Table

FILES = "file_fingerprints"


def ensure(con) -> None:
    """The table of each contract table's last file (a database from an older build has none)."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {FILES} (table_name VARCHAR PRIMARY KEY, digest VARCHAR, "
        "rows BIGINT)"
    )


def forget(con) -> None:
    """A load that replaces the data: no file is known any more."""
    con.execute(f"DELETE FROM {FILES}")


def digest(path: Path, table: Table) -> str:
    """The file's bytes and the contract's columns of its table, as one SHA-256."""
    sha = hashlib.sha256(repr([(c.name, c.type) for c in table.columns]).encode())
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def rows_if_unchanged(con, table: str, file_digest: str) -> int | None:
    """The rows of the table's last file when this is that file again, else None."""
    hit = con.execute(
        f"SELECT rows FROM {FILES} WHERE table_name = ? AND digest = ?", [table, file_digest]
    ).fetchall()
    return hit[0][0] if hit else None


def remember(con, table: str, file_digest: str, rows: int, rejected: int) -> None:
    """After the merge: this file is the table's last, skippable next time if none was rejected."""
    con.execute(f"DELETE FROM {FILES} WHERE table_name = ?", [table])
    if not rejected:
        con.execute(f"INSERT INTO {FILES} VALUES (?, ?, ?)", [table, file_digest, rows])
