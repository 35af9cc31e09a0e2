"""Turn the simulation into the contract's files, byte for byte the same for the same arguments."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from health.demo.accounts import Accounts
from health.demo.contracts import Contracts
from health.demo.people import ROLES, Users
from health.demo.profiles import Profile
from health.demo.seasons import Calendar
from health.demo.usage import EVENT_SCHEMA


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    """CSV, gzip'd when the name ends in .gz (no timestamp in the header: same bytes each run)."""
    if path.suffix != ".gz":
        frame.write_csv(path)
        return
    buf = io.BytesIO()
    frame.write_csv(buf)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buf.getvalue())


def event_writer(path: Path) -> pq.ParquetWriter:
    """A Parquet writer for events; each simulated chunk becomes a row group."""
    return pq.ParquetWriter(path, EVENT_SCHEMA, compression="zstd")


def accounts_frame(profile: Profile, acc: Accounts, con: Contracts, cal: Calendar) -> pl.DataFrame:
    """accounts.csv: plan, ARR (all open lines) and renewal from the current (or last) lines."""
    last_plan = [next(r for r in reversed(rows) if r[4] >= 0) for rows in con.lines]
    arr = [
        12 * sum(r[2] for r in rows if r[0] == plan[0])
        for rows, plan in zip(con.lines, last_plan, strict=True)
    ]
    # Churned accounts have no renewal date; the others renew when the current line ends.
    renewal = np.array([r[1] for r in last_plan], dtype=np.int64)
    renewal = np.where(con.churn >= 0, -1, renewal)
    return pl.DataFrame(
        {
            "account_id": acc.ids,
            "name": acc.names,
            "signup_date": cal.iso_dates(acc.signup),
            "churn_date": cal.iso_dates(con.churn),
            "plan": [profile.plans[r[4]][0] for r in last_plan],
            "segment": [profile.segments[s].name for s in acc.segment],
            "industry": [profile.industries[k][0] for k in acc.industry],
            "region": [profile.regions[k][0] for k in acc.region],
            "arr": arr,
            "csm_owner": [profile.csms[k][0] for k in acc.csm],
            "renewal_date": cal.iso_dates(renewal),
        }
    )


def users_frame(acc: Accounts, users: Users, cal: Calendar) -> pl.DataFrame:
    """users.csv; accounts exported from a European system carry a +02:00 offset."""
    created = cal.epoch_seconds(users.created, users.created_sec)
    # Leavers go at the end of their last working day, after their last event.
    deact_sec = np.minimum(users.created_sec + 8 * 3600, 86_399)
    deact = np.where(users.deactivated >= 0, cal.epoch_seconds(users.deactivated, deact_sec), -1)
    return pl.DataFrame(
        {
            "user_id": users.ids,
            "account_id": [acc.ids[a] for a in users.account],
            "name": users.name,
            "email": users.email,
            "title": users.title,
            "role": [ROLES[r] for r in users.role],
            "is_champion": users.champion,
            "created_at": cal.iso_times(created, users.offset_hours),
            "deactivated_at": cal.iso_times(deact, users.offset_hours),
        }
    )


ADDON = "Add-on: premium support"


def subscriptions_frame(
    profile: Profile, acc: Accounts, con: Contracts, cal: Calendar
) -> pl.DataFrame:
    """subscriptions.csv: line items as billing exports them; add-on lines have no seats."""
    rows = [(i, *r) for i, lines in enumerate(con.lines) for r in lines]
    return pl.DataFrame(
        {
            "account_id": [acc.ids[r[0]] for r in rows],
            "start_date": cal.iso_dates(np.array([r[1] for r in rows], dtype=np.int64)),
            "end_date": cal.iso_dates(np.array([r[2] for r in rows], dtype=np.int64)),
            "mrr": [r[3] for r in rows],
            "seats": pl.Series([r[4] if r[4] >= 0 else None for r in rows], dtype=pl.Int64),
            "plan": [profile.plans[r[5]][0] if r[5] >= 0 else ADDON for r in rows],
        }
    )


def write_truth(truth_dir: Path, frames: dict[str, pl.DataFrame], meta: dict) -> None:
    """moments.csv, lookalikes.csv, accounts.csv and profile.json."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        write_csv(frame, truth_dir / f"{name}.csv")
    (truth_dir / "profile.json").write_text(json.dumps(meta, indent=2) + "\n")
