"""Detector results kept from one refresh to the next, reused when a call reads the same inputs.

A detector is a pure function of the frames and settings it is given (and of its code), so a call
whose inputs have exactly the same contents as the last refresh's gives exactly the same result:
the refresh reads it back instead of computing it again. This holds whatever the detectors
compute. Most inputs change every day (anything cut at the as-of date); the weekly ones (complete
calendar weeks only) change once a week, so their detectors run on the first day of a week and
are read back on the other six. The key of a call covers its name, every argument's contents, the
moments package's source code and the versions of the libraries that compute and hash, so any
change runs it again; a full refresh (`refresh --full`) reuses nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

from health import db

_SCALARS = (str, int, float, bool, dt.date)
TABLE = "moment_memo"  # name, key, result (Arrow IPC bytes): bookkeeping for the next refresh


@cache
def code_version() -> bytes:
    """The moments package's source and the numeric libraries' versions."""
    digest = hashlib.sha256(f"{pl.__version__} {np.__version__}".encode())
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.digest()


class Unkeyable(Exception):
    """An argument whose contents can't be fingerprinted: the call runs without the memo."""


class Memo:
    """The last refresh's results by call name; `call` reuses one when its key matches.

    `last_as_of`: the as-of date of the refresh the changes are measured against, and
    `changed_from`: the first day whose data changed since it (both None when unknown: a full
    refresh); a sequential detector resumes from its state at a day before it (see carry.py)."""

    def __init__(
        self,
        stored: dict[str, tuple[str, bytes]] | None = None,
        last_as_of: dt.date | None = None,
        changed_from: dt.date | None = None,
    ):
        self.stored = stored or {}
        self.last_as_of, self.changed_from = last_as_of, changed_from
        self.kept: dict[str, tuple[str, bytes]] = {}
        self.reused: list[str] = []
        # digests by id(); the object is held too, so its id can't be reused by a new one
        self._digests: dict[int, tuple[object, bytes]] = {}

    @classmethod
    def read(cls, con) -> Memo:
        """The results the last refresh kept (none on a full refresh or without the table)."""
        full = con.execute("select rebuild_from from params").fetchall()[0][0] == dt.date.min
        if full or not db.table_exists(con, TABLE):
            return cls()
        rows = con.execute(f"select name, key, result from {TABLE}").fetchall()
        stored = {name: (key, bytes(result)) for name, key, result in rows}
        return cls(stored, *_changes(con))

    def call(self, name: str, fn: Callable[..., pl.DataFrame], *args, **kwargs) -> pl.DataFrame:
        """fn(*args, **kwargs), read back when the last refresh made the same call."""
        try:
            key = self._key(name, fn, args, kwargs)
        except Unkeyable:
            return fn(*args, **kwargs)
        hit = self.stored.get(name)
        if hit is not None and hit[0] == key:
            self.kept[name] = hit
            self.reused.append(name)
            return pl.read_ipc(io.BytesIO(hit[1]))
        result = fn(*args, **kwargs)
        if isinstance(result, pl.DataFrame):
            buffer = io.BytesIO()
            result.write_ipc(buffer)
            self.kept[name] = (key, buffer.getvalue())
        return result

    def held(self, name: str, key: str) -> pl.DataFrame | None:
        """The frame the last refresh kept under `name` with this key (None: none such)."""
        hit = self.stored.get(name)
        return pl.read_ipc(io.BytesIO(hit[1])) if hit is not None and hit[0] == key else None

    def keep(self, name: str, key: str, frame: pl.DataFrame) -> None:
        """Keep a frame for the next refresh under `name` and a key."""
        buffer = io.BytesIO()
        frame.write_ipc(buffer)
        self.kept[name] = (key, buffer.getvalue())

    def write(self, con) -> None:
        """Keep this refresh's results for the next one (replacing the last refresh's)."""
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} (name VARCHAR, key VARCHAR, result BLOB)")
        rows = [(name, key, result) for name, (key, result) in self.kept.items()]
        if rows:
            con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?)", rows)

    def _key(self, name: str, fn, args, kwargs) -> str:
        digest = hashlib.sha256(code_version())
        digest.update(f"{name}\0{fn.__module__}.{fn.__qualname__}".encode())
        for value in (*args, *sorted(kwargs.items())):
            digest.update(self._digest(value))
        return digest.hexdigest()

    def _digest(self, value) -> bytes:
        if isinstance(value, pl.DataFrame | pl.Series | np.ndarray):
            held = self._digests.get(id(value))
            if held is None:
                held = (value, _contents(value))
                self._digests[id(value)] = held
            return held[1]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            parts = [self._digest(getattr(value, f.name)) for f in dataclasses.fields(value)]
            return _sha(type(value).__qualname__.encode(), *parts)
        if isinstance(value, list | tuple):
            if all(v is None or isinstance(v, _SCALARS) for v in value):
                # a list of plain values (account ids, week ends): their reprs, in one digest
                return _sha(b"values", *(f"{type(v).__name__}:{v!r}".encode() for v in value))
            return _sha(b"seq", *(self._digest(v) for v in value))
        if isinstance(value, dict):
            return _sha(b"map", *(self._digest(kv) for kv in sorted(value.items(), key=repr)))
        if value is None or isinstance(value, _SCALARS):
            return _sha(type(value).__name__.encode(), repr(value).encode())
        raise Unkeyable(type(value).__name__)


def _changes(con) -> tuple[dt.date | None, dt.date | None]:
    """(the last refresh's as-of date, the first day changed since), from the pipeline's
    bookkeeping (health/pipeline/incremental.py); None, None when it has none."""
    if not db.table_exists(con, "meta"):
        return None, None
    names = {c for (c,) in con.execute("select column_name from (describe params)").fetchall()}
    last = con.execute("select value from meta where key = 'weeks_as_of'").fetchall()
    if "changed_from" not in names or not last:
        return None, None
    changed = con.execute("select changed_from from params").fetchall()[0][0]
    if changed is None or changed == dt.date.min:
        return None, None
    return dt.date.fromisoformat(last[0][0]), changed


def _sha(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.digest()


def _contents(value) -> bytes:
    """A frame's, a series' or an array's exact contents, in order, as a digest."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise Unkeyable("object array")
        data = np.ascontiguousarray(value)
        return _sha(str(data.dtype).encode(), repr(data.shape).encode(), data.tobytes())
    frame = value.to_frame() if isinstance(value, pl.Series) else value
    schema = repr(list(frame.schema.items())).encode()
    if frame.width == 0 or frame.height == 0:
        return _sha(schema, str(frame.height).encode())
    try:
        rows = frame.hash_rows(seed=0, seed_1=1, seed_2=2, seed_3=3).to_numpy()
    except Exception as exc:  # noqa: BLE001 - a type polars can't hash: just don't memoise
        raise Unkeyable(str(exc)) from None
    return _sha(schema, rows.tobytes())
