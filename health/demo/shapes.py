"""Reshape a generated data folder into the shapes real customers' first loads have.

Each option turns a contract-valid folder into another contract-valid folder: tables left out,
one segment, single-user accounts, silent accounts, many event names, timestamps with offsets,
line ids, no churn yet, everyone churned but one. The data sets the product must take."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from health.demo.writer import write_csv

OPTIONAL = ("users", "subscriptions", "tickets", "surveys", "touchpoints")


@dataclass(frozen=True)
class Shape:
    """How to reshape a folder; the defaults change nothing."""

    keep: tuple[str, ...] = OPTIONAL  # optional tables to keep
    one_segment: bool = False  # one segment, and no optional account columns
    single_user: bool = False  # every account has one user
    silent_share: float = 0.0  # share of accounts with no events at all
    event_names: int = 0  # rename events into this many names, and drop `feature`
    offsets: bool = False  # events as CSV with UTC offsets (+05:30, -04:00)
    line_ids: bool = False  # subscriptions carry a subscription_id per line
    no_churn: bool = False  # nobody has churned yet
    churn_all_but_one: bool = False  # every account but one has churned
    window_days: int = 0  # keep only this many days of history (an established company's export)


def _read(folder: Path, table: str) -> tuple[pl.DataFrame, Path] | None:
    for path in sorted(folder.glob(f"{table}.*")):
        if path.name.endswith(".parquet"):
            return pl.read_parquet(path), path
        return pl.read_csv(path, infer_schema=False), path
    return None


def _write(frame: pl.DataFrame, old: Path, name: str) -> None:
    old.unlink()
    if name.endswith(".parquet"):
        frame.write_parquet(old.parent / name)
    else:
        write_csv(frame, old.parent / name)  # gzip'd when the name says so


def reshape(folder: Path, shape: Shape) -> None:
    """Rewrite the files of `folder` in place into `shape`."""
    folder = Path(folder)
    for table in OPTIONAL:
        if table not in shape.keep and (found := _read(folder, table)):
            found[1].unlink()
    if shape.window_days:
        _window(folder, shape.window_days)
    accounts, apath = _read(folder, "accounts")
    events, epath = _read(folder, "events")
    if shape.one_segment:
        accounts = accounts.select("account_id", "signup_date", "churn_date").with_columns(
            segment=pl.lit("All")
        )
    if shape.silent_share > 0:
        ids = accounts["account_id"].sort()
        silent = ids.gather_every(max(1, round(1 / shape.silent_share)))
        events = events.filter(~pl.col("account_id").is_in(silent.implode()))
    if shape.single_user:
        events = _single_user(folder, events)
    if shape.event_names:
        events = events.drop("feature", strict=False).with_columns(
            event=pl.format(
                "action_{}",
                (pl.col("event").hash(7) + pl.col("user_id").hash(3)) % shape.event_names,
            )
        )
    if shape.no_churn or shape.churn_all_but_one:
        accounts = _churn(accounts, events, shape.churn_all_but_one)
    if shape.line_ids and (subs := _read(folder, "subscriptions")):
        lines = subs[0].with_columns(subscription_id=pl.format("si_{}", pl.int_range(pl.len())))
        _write(lines, subs[1], subs[1].name)
    _write(accounts, apath, "accounts.csv")
    if shape.offsets:
        _write(_with_offsets(events), epath, "events.csv")
    else:
        _write(events, epath, epath.name)


CLOCKS = {"tickets": "opened_at", "surveys": "responded_at", "touchpoints": "occurred_at"}


def _window(folder: Path, days: int) -> None:
    """Only the last `days` days: accounts gone before them, and rows dated before, are left out."""
    events, epath = _read(folder, "events")
    cut = events["event_time"].max().date() - dt.timedelta(days=days)
    events = events.filter(pl.col("event_time").dt.date() >= cut)
    accounts, apath = _read(folder, "accounts")
    accounts = accounts.filter(
        pl.col("churn_date").is_null() | (pl.col("churn_date") >= cut.isoformat())
    )
    kept = pl.col("account_id").is_in(accounts["account_id"].implode())
    _write(accounts, apath, apath.name)
    _write(events.filter(kept), epath, epath.name)
    for table in (*CLOCKS, "users", "subscriptions"):
        if not (found := _read(folder, table)):
            continue
        frame = found[0].filter(kept)
        if table in CLOCKS:  # ISO text: its first ten characters are the day
            frame = frame.filter(pl.col(CLOCKS[table]).str.slice(0, 10) >= cut.isoformat())
        if table == "subscriptions":
            frame = frame.filter(
                pl.col("end_date").is_null() | (pl.col("end_date") >= cut.isoformat())
            )
        _write(frame, found[1], found[1].name)


def _single_user(folder: Path, events: pl.DataFrame) -> pl.DataFrame:
    """Every account's events by its first user; users.csv keeps only those users."""
    first = events.group_by("account_id").agg(pl.col("user_id").min().alias("only"))
    events = events.join(first, on="account_id").with_columns(user_id=pl.col("only")).drop("only")
    if found := _read(folder, "users"):
        users = found[0].filter(pl.col("user_id").is_in(first["only"].implode()))
        _write(users, found[1], found[1].name)
    return events


def _churn(accounts: pl.DataFrame, events: pl.DataFrame, all_but_one: bool) -> pl.DataFrame:
    """No churn at all, or every account but the first churned on its last active day."""
    if not all_but_one:
        return accounts.with_columns(churn_date=pl.lit(None, pl.String))
    last = events.group_by("account_id").agg(
        pl.col("event_time").max().cast(pl.Date).cast(pl.String).alias("last")
    )
    keep = accounts["account_id"].sort()[0]
    return (
        accounts.join(last, on="account_id", how="left")
        .with_columns(
            churn_date=pl.when(pl.col("account_id") == keep)
            .then(None)
            .otherwise(pl.max_horizontal("last", "signup_date"))
        )
        .drop("last")
    )


def _with_offsets(events: pl.DataFrame) -> pl.DataFrame:
    """Event times as ISO text in local time with the offset: half at +05:30, half at -04:00."""
    utc = pl.col("event_time").dt.replace_time_zone(None)
    east = pl.col("account_id").hash(1) % 2 == 0
    shift = pl.when(east).then(pl.duration(minutes=330)).otherwise(pl.duration(hours=-4))
    text = (utc + shift).dt.strftime("%Y-%m-%dT%H:%M:%S") + pl.when(east).then(
        pl.lit("+05:30")
    ).otherwise(pl.lit("-04:00"))
    return events.with_columns(event_time=text)
