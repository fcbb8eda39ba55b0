"""Deadline counting (SPEC §2), stated exactly as the rules say:

- "Within N working days of X" ends at 23:59:59 local of the Nth working day after X's local
  date, X's own day not counted; a make-up working Saturday counts.
- A deadline counted in calendar days that falls on a non-working day moves to the end of the
  next working day. Due times never move.
- Months are anchored to the original date (never chained) and clamp to the month's end.
- Every day-based deadline is the end (23:59:59 local) of its day.
A deadline is provisional when any day it was counted over lies in a year without official data.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from followup.calendar.calendar import BusinessCalendar

END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class Deadline:
    """When something is due by, and whether a provisional calendar decided it."""

    at: datetime
    provisional: bool


def end_of_day(d: date, tz: ZoneInfo) -> datetime:
    """23:59:59 local on `d`."""
    return datetime.combine(d, END_OF_DAY, tz)


def _any_provisional(cal: BusinessCalendar, start: date, end: date) -> bool:
    return cal.is_provisional(start) or cal.is_provisional(end)


def end_of_working_days(start: datetime, n: int, tz: ZoneInfo, cal: BusinessCalendar) -> Deadline:
    """The end of the Nth working day after `start`'s local date (its own day not counted)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    day = start.astimezone(tz).date()
    first = day
    for _ in range(n):
        day = cal.next_working_day(day)
    return Deadline(end_of_day(day, tz), _any_provisional(cal, first, day))


def end_of_calendar_days(
    start: datetime, days: int, tz: ZoneInfo, cal: BusinessCalendar
) -> Deadline:
    """`start`'s local date + `days`; off a non-working day to the end of the next working day."""
    first = start.astimezone(tz).date()
    day = first + timedelta(days=days)
    if not cal.is_working_day(day):
        day = cal.next_working_day(day)
    return Deadline(end_of_day(day, tz), _any_provisional(cal, first, day))


def add_months_clamped(anchor: datetime, months: int, tz: ZoneInfo) -> datetime:
    """The same local wall time `months` after `anchor`, clamped to the month's last day."""
    local = anchor.astimezone(tz)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, _stdlib_calendar.monthrange(year, month)[1])
    return datetime.combine(date(year, month, day), local.timetz().replace(tzinfo=None), tz)


def next_working_day_at(after: datetime, at: time, tz: ZoneInfo, cal: BusinessCalendar) -> datetime:
    """`at` local on the first working day after `after`'s local date."""
    return datetime.combine(cal.next_working_day(after.astimezone(tz).date()), at, tz)


def holiday_care_deadline_date(festival: date, cal: BusinessCalendar) -> date:
    """The last working day before the festival's public holiday begins.

    Where the year has no official schedule, the day before the festival (SPEC §2).
    """
    if cal.is_provisional(festival):
        return festival - timedelta(days=1)
    start = cal.holiday_block_start(festival)
    day = start - timedelta(days=1)
    while not cal.is_working_day(day):
        day -= timedelta(days=1)
    return day


def merge_intervals(
    intervals: Iterable[tuple[datetime, datetime]],
) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching intervals merged, so overlapping pauses count once."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def working_seconds_between(
    start: datetime, end: datetime, tz: ZoneInfo, cal: BusinessCalendar
) -> float:
    """Seconds of [start, end) that fall on working days (whole 24-hour local days)."""
    if end <= start:
        return 0.0
    total = 0.0
    cursor = start.astimezone(tz)
    stop = end.astimezone(tz)
    while cursor < stop:
        next_midnight = datetime.combine(cursor.date() + timedelta(days=1), time(), tz)
        piece_end = min(next_midnight, stop)
        if cal.is_working_day(cursor.date()):
            total += (piece_end - cursor).total_seconds()
        cursor = piece_end
    return total


def add_working_seconds(
    at: datetime, seconds: float, tz: ZoneInfo, cal: BusinessCalendar
) -> datetime:
    """The instant `seconds` of working-day time after `at` (non-working days skipped)."""
    cursor = at.astimezone(tz)
    left = seconds
    while left > 0:
        if not cal.is_working_day(cursor.date()):
            cursor = datetime.combine(cursor.date() + timedelta(days=1), time(), tz)
            continue
        next_midnight = datetime.combine(cursor.date() + timedelta(days=1), time(), tz)
        room = (next_midnight - cursor).total_seconds()
        if left < room:
            return cursor + timedelta(seconds=left)
        left -= room
        cursor = next_midnight
    return cursor


def shift_deadline_by_working_time(
    deadline_at: datetime, seconds: float, tz: ZoneInfo, cal: BusinessCalendar
) -> Deadline:
    """A day-based deadline moved later by paused working time: the end of the day it lands on."""
    if seconds <= 0:
        d = deadline_at.astimezone(tz).date()
        return Deadline(deadline_at, cal.is_provisional(d))
    landed = add_working_seconds(deadline_at, seconds, tz, cal)
    day = landed.date()
    if not cal.is_working_day(day):
        day = cal.next_working_day(day)
    first = deadline_at.astimezone(tz).date()
    return Deadline(end_of_day(day, tz), _any_provisional(cal, first, day))
