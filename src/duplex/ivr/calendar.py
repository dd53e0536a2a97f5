"""Business hours, holidays and time-of-day conditions in a flow's time zone.

`now` is a POSIX timestamp handed in by the caller; the local wall time comes from zoneinfo, so opening hours
follow daylight-saving changes of the zone (09:00 stays 09:00 local across the switch).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["WEEKDAYS", "is_holiday", "is_open", "local_time", "minutes_of", "valid_timezone", "within"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def minutes_of(hhmm: str) -> int:
    """'09:30' -> 570; '24:00' (end of day) -> 1440. Raises ValueError for anything else."""
    hours, _, minutes = hhmm.partition(":")
    value = int(hours) * 60 + int(minutes)
    if len(hours) != 2 or len(minutes) != 2 or not 0 <= value <= 1440 or int(minutes) > 59:
        raise ValueError(f"{hhmm!r} is not a time of day HH:MM")
    return value


def local_time(now: float, timezone: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, tz=ZoneInfo(timezone))


def within(local: dt.datetime, start: str, end: str) -> bool:
    """Whether `local` falls in [start, end); an end before the start wraps past midnight (22:00-06:00)."""
    minute = local.hour * 60 + local.minute
    lo, hi = minutes_of(start), minutes_of(end)
    if lo <= hi:
        return lo <= minute < hi
    return minute >= lo or minute < hi


def is_holiday(local: dt.datetime, holidays: Sequence[str]) -> bool:
    return local.date().isoformat() in holidays


def is_open(local: dt.datetime, schedule: Mapping[str, Sequence[Sequence[str]]]) -> bool:
    """Whether one of today's [from, to) ranges of `schedule` (weekday -> ranges) holds `local`."""
    ranges = schedule.get(WEEKDAYS[local.weekday()], ())
    return any(within(local, start, end) for start, end in ranges)
