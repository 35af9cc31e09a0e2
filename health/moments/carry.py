"""The daily drop test resumed from the last refresh's state: after a new day, only that day.

The test is sequential and causal (health/moments/daily.py): its state at the end of a day (per
account and fall size: the CUSUM, the day its run started, the refractory "quiet until" day) and
the drops confirmed by then depend on the days up to that day only. A refresh keeps the state at
the end of each of its last KEEP_DAYS days, with the drops, in the memo table (memo.py), under a
key of the moments code, the settings and the data's first day. The next refresh resumes from
the latest kept day before the first day whose data changed since (params.changed_from, from
health/pipeline/incremental.py), on a matrix of the trailing days the test reads (daily.reach);
otherwise (a first or full refresh, other code or settings, an older day changed) it runs over
the whole history. The drops are the same either way (tests/test_moments_daily.py and
tests/test_refresh_weeks.py check it).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import polars as pl

from health.moments.blocks import track_blocks
from health.moments.daily import DAILY_DROP, STATE_SCHEMA, resume_window
from health.moments.memo import Memo, code_version

KEEP_DAYS = 7  # days whose end state is kept: a change to one of the last days resumes before it
STATE, FOUND = "daily_drop_state", "daily_drop_found"


def daily_found(inputs, as_of: dt.date, memo: Memo | None, params: dict) -> pl.DataFrame:
    """The daily test's drops up to `as_of` (rows in the level-shift frame's shape), resumed
    from the last refresh's state when the days before it are unchanged; the new state kept."""
    daily = inputs.daily.filter(pl.col("day") <= as_of)
    key = _key(daily, params)
    held = _resumable(memo, key, as_of)
    if held is None:
        found, states = track_blocks(
            daily, inputs.accounts, as_of, inputs.weekly, keep_days=KEEP_DAYS, **params
        )
    else:
        day, states, found = held
        if day < as_of:
            state = states.filter(pl.col("day") == day)
            since = resume_window(state, **params)
            new, later = track_blocks(
                daily,
                inputs.accounts,
                as_of,
                inputs.weekly,
                since=since,
                state=state,
                keep_days=KEEP_DAYS,
                **params,
            )
            found, states = pl.concat([found, new]), pl.concat([states, later])
        states = states.filter(pl.col("day") > as_of - dt.timedelta(days=KEEP_DAYS))
    if memo is not None:
        memo.keep(STATE, key, states)
        memo.keep(FOUND, key, found)
    return found


def _resumable(memo: Memo | None, key: str, as_of: dt.date):
    """(the day to resume after, the states up to it, the drops found by then), or None when the
    test must run over the whole history."""
    if memo is None or memo.changed_from is None:
        return None
    states, found = memo.held(STATE, key), memo.held(FOUND, key)
    if states is None or found is None or states.is_empty():
        return None
    # the state must be the last refresh's (the changes are measured against that one)
    if states["day"].max() != memo.last_as_of:
        return None
    usable = states.filter(pl.col("day") < memo.changed_from, pl.col("day") <= as_of)
    if usable.is_empty():
        return None
    day = usable["day"].max()
    return (
        day,
        states.filter(pl.col("day") <= day).select(list(STATE_SCHEMA)),
        found.filter(pl.col("detected_on") <= day),
    )


def _key(daily: pl.DataFrame, params: dict) -> str:
    """The code, the settings and the data's first day the state was computed with."""
    p = {**DAILY_DROP, **params}
    first = daily["day"].min() if daily.height else None
    digest = hashlib.sha256(code_version())
    digest.update(repr((sorted(p.items()), first)).encode())
    return digest.hexdigest()
