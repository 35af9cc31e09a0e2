"""A standing hostile data set: the demo, with one account whose every field an attacker or a
careless export wrote (Markdown, HTML, formulas, brackets, right-to-left overrides, emails in
comments, a 1 MB name, impossible dates). Pages opened on it must show all of it as text.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

EVIL = "evil.example"  # every URL planted points here; none may be fetched or linked
HUGE = 1_000_000
RLO = "\u202e"
ACCOUNT_NAME = (
    f"{RLO}![p](http://{EVIL}/name.png) [click me](http://{EVIL}/phish) "
    f'<img src="http://{EVIL}/i.png"> =HYPERLINK("http://{EVIL}") [/x] :red[x] $x$ '
) + "A" * HUGE
SEGMENT = f"<b>SMB</b>[s](http://{EVIL}/s) [/]"
PERSON = "Zed Hostile"  # a user at the account, named in free text below in lower case
PERSON_NAME = f"![u](http://{EVIL}/u.png) {PERSON}"
EMAIL = f"zed.hostile@{EVIL}"
COMMENT = (
    f"write to {EMAIL} ![p](http://{EVIL}/c.png) <script>alert(1)</script> "
    f"ask zed or {{champion}} [/b] =1+1 {RLO}reversed"
)
NOTE = f"Call with zed ({EMAIL}); [link](http://{EVIL}/n) # not a heading"


def build(demo: Path, into: Path) -> tuple[Path, str]:
    """A copy of the demo folder with the hostile account planted; returns it and its id."""
    folder = into / "hostile-data"
    shutil.copytree(demo, folder)
    accounts = pl.read_csv(folder / "accounts.csv", infer_schema=False)
    account_id = accounts["account_id"][0]
    mine = pl.col("account_id") == account_id
    accounts = accounts.with_columns(
        name=pl.when(mine).then(pl.lit(ACCOUNT_NAME)).otherwise("name"),
        segment=pl.when(mine).then(pl.lit(SEGMENT)).otherwise("segment"),
    )
    accounts.write_csv(folder / "accounts.csv")

    users = pl.read_csv(folder / "users.csv", infer_schema=False)
    champion = users.filter(mine & (pl.col("is_champion") == "true"))["name"][0]
    first = users.filter(mine & (pl.col("is_champion") != "true"))["user_id"][0]
    is_him = pl.col("user_id") == first
    users = users.with_columns(
        name=pl.when(is_him).then(pl.lit(PERSON_NAME)).otherwise("name"),
        email=pl.when(is_him).then(pl.lit(EMAIL)).otherwise("email"),
    )
    users.write_csv(folder / "users.csv")

    comment = COMMENT.replace("{champion}", champion.split()[0].lower())
    surveys = pl.read_csv(folder / "surveys.csv", infer_schema=False)
    surveys = surveys.with_columns(
        comment=pl.when(mine).then(pl.lit(comment)).otherwise("comment"),
        score=pl.when(mine).then(pl.lit("3")).otherwise("score"),  # a detractor: an action
    )
    surveys.write_csv(folder / "surveys.csv")
    touch = pl.read_csv(folder / "touchpoints.csv", infer_schema=False)
    touch.with_columns(note=pl.when(mine).then(pl.lit(NOTE)).otherwise("note")).write_csv(
        folder / "touchpoints.csv"
    )

    events = pl.read_parquet(folder / "events.parquet")
    odd = events.filter(mine).head(2)
    dates = pl.Series(["9999-12-31 00:00:00", "1900-01-01 00:00:00"]).str.to_datetime()
    odd = odd.with_columns(dates.cast(odd.schema["event_time"]).alias("event_time"))
    pl.concat([events, odd]).write_parquet(folder / "events.parquet")
    return folder, account_id


def people_at(db_path: Path, account_id: str) -> list[str]:
    """Every name and email of a person at the account, as loaded."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT name, email FROM users WHERE account_id = ?", [account_id]
        ).fetchall()
    finally:
        con.close()
    return sorted({v for row in rows for v in row if v} | {PERSON, EMAIL})
