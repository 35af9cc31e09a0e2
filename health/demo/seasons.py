"""The shared calendar: weekday rhythm, holidays and seasons that move every account at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from health.demo.profiles import Profile

# Monday..Sunday; weekends are ~15 % of a weekday, Fridays wind down.
WEEKDAY = np.array([1.02, 1.05, 1.03, 1.0, 0.88, 0.16, 0.13])


@dataclass(frozen=True)
class Holiday:
    """A shared dip in usage: everybody is off, so it is not a moment."""

    name: str
    start: date
    end: date  # inclusive
    factor: float  # usage multiplier on those days


@dataclass(frozen=True)
class Calendar:
    """The simulated period and the factor every account's usage is multiplied by, per day."""

    start: date  # a Monday, so day // 7 is the week and day % 7 the weekday
    end: date  # inclusive: the last day with data
    factor: np.ndarray  # float per day
    holidays: tuple[Holiday, ...]

    @property
    def n_days(self) -> int:
        """Days in the period."""
        return (self.end - self.start).days + 1

    @property
    def n_weeks(self) -> int:
        """Weeks in the period (the last may be partial)."""
        return self.n_days // 7 + 1

    def day(self, d: date) -> int:
        """Day index of a date."""
        return (d - self.start).days

    def date(self, day: int) -> date:
        """Date of a day index."""
        return self.start + timedelta(days=int(day))

    def epoch_seconds(self, days: np.ndarray, secs: np.ndarray) -> np.ndarray:
        """Seconds since 1970 (UTC) of day indices plus seconds of the day."""
        epoch = (self.start - date(1970, 1, 1)).days
        return (np.asarray(days, dtype=np.int64) + epoch) * 86_400 + np.asarray(
            secs, dtype=np.int64
        )

    def iso_dates(self, days: np.ndarray) -> pl.Series:
        """ISO dates of day indices; negative days mean none (empty)."""
        days = np.asarray(days, dtype=np.int64)
        s = pl.from_epoch(pl.Series(self.epoch_seconds(days, 0)), time_unit="s").dt.strftime(
            "%Y-%m-%d"
        )
        return s.set(pl.Series(days < 0), None) if (days < 0).any() else s

    def iso_times(self, seconds: np.ndarray, offset_hours: np.ndarray | None = None) -> pl.Series:
        """ISO timestamps of epoch seconds; with an offset, local time plus `+HH:00`; <0 is none."""
        seconds = np.asarray(seconds, dtype=np.int64)
        shift = np.zeros_like(seconds) if offset_hours is None else np.asarray(offset_hours) * 3600
        text = pl.from_epoch(pl.Series(seconds + shift), time_unit="s").dt.strftime(
            "%Y-%m-%dT%H:%M:%S"
        )
        if offset_hours is not None and np.any(shift):
            suffix = pl.Series([f"+{h:02d}:00" if h else "" for h in np.asarray(offset_hours)])
            text = text + suffix
        return text.set(pl.Series(seconds < 0), None) if (seconds < 0).any() else text


def working_second(rng: np.random.Generator, centre_hour, size: int) -> np.ndarray:
    """Seconds of the day around working hours (`centre_hour` UTC, scalar or per item)."""
    t = np.abs(rng.normal(np.asarray(centre_hour) * 3600, 2.2 * 3600, size))
    return np.where(t > 86_399, 2 * 86_399 - t, t).astype(np.int64)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th given weekday of a month (n = -1 for the last)."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(y: int) -> date:
    """Easter Sunday (the Gregorian computus)."""
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 19 * l) // 433
    month = (h + l - 7 * m + 90) // 25
    return date(y, month, (h + l - 7 * m + 33 * month + 19) % 32)


def _southern(years: range) -> list[Holiday]:
    """A southern-hemisphere year: the long summer break, Easter, Anzac Day."""
    out = []
    for y in years:
        out.append(Holiday("summer_break", date(y, 12, 22), date(y + 1, 1, 12), 0.3))
        easter = _easter(y)
        out.append(Holiday("easter", easter - timedelta(days=2), easter + timedelta(days=1), 0.35))
        out.append(Holiday("anzac_day", date(y, 4, 25), date(y, 4, 25), 0.5))
    return out


def _holidays(profile: Profile, years: range) -> list[Holiday]:
    """The profile's public holidays in the given years."""
    if profile.holidays == "anz":
        return _southern(years)
    out: list[Holiday] = []
    for y in years:
        out.append(Holiday("year_end", date(y, 12, 24), date(y + 1, 1, 1), 0.22))
        if profile.august_dip:
            out.append(
                Holiday("august_break", date(y, 8, 1), date(y, 8, 31), 1 - profile.august_dip)
            )
            out.append(Holiday("may_day", date(y, 5, 1), date(y, 5, 1), 0.55))
        else:
            thanks = _nth_weekday(y, 11, 3, 4)
            out.append(
                Holiday(
                    "thanksgiving_week",
                    thanks - timedelta(days=3),
                    thanks + timedelta(days=3),
                    0.55,
                )
            )
            out.append(
                Holiday("memorial_day", _nth_weekday(y, 5, 0, -1), _nth_weekday(y, 5, 0, -1), 0.55)
            )
            out.append(Holiday("independence_day", date(y, 7, 4), date(y, 7, 4), 0.5))
            out.append(
                Holiday("labor_day", _nth_weekday(y, 9, 0, 1), _nth_weekday(y, 9, 0, 1), 0.55)
            )
    return out


def build_calendar(profile: Profile, end: date) -> Calendar:
    """The daily shared factor over ~`profile.years` years ending on `end`."""
    first = end - timedelta(days=round(profile.years * 365.25))
    start = first - timedelta(days=first.weekday())
    n = (end - start).days + 1
    days = np.arange(n)
    weekday = (days % 7).astype(int)
    doy = np.array([(start + timedelta(days=int(d))).timetuple().tm_yday for d in days])
    factor = WEEKDAY[weekday] * (1 + profile.season_amp * np.sin(2 * np.pi * (doy - 80) / 365.25))
    holidays = []
    for h in _holidays(profile, range(start.year - 1, end.year + 1)):
        lo, hi = max(h.start, start), min(h.end, end)
        if lo > hi:
            continue
        holidays.append(h)
        a, b = (lo - start).days, (hi - start).days + 1
        if h.name == "thanksgiving_week":
            # The US week winds down towards Thursday and Friday.
            shape = np.array([0.85, 0.8, 0.6, 0.2, 0.3, 1.0, 1.0])
            idx = np.arange((h.start - start).days, (h.end - start).days + 1)
            keep = (idx >= 0) & (idx < n)
            factor[idx[keep]] *= shape[keep]
        else:
            factor[a:b] *= h.factor
    return Calendar(start, end, factor.astype(np.float64), tuple(holidays))
