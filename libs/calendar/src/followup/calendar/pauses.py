"""Paused SLA clocks (SPEC §4): paused time does not count, overlapping pauses count once.

The rule: the deadline in force is the original working-day deadline moved later by the total
paused working time, where
- the pauses are merged first, so time covered by two pauses counts once;
- working time is the whole 24 hours of each working day (days are the unit of these clocks,
  not office hours): a pause over a weekend or a holiday costs nothing;
- the move goes forward over working days only, and the result is the end (23:59:59 local) of
  the working day it lands in. A deadline at 23:59:59 is taken to end at the next midnight, so
  24 paused working hours move it by exactly one working day and any shorter pause by one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from followup.calendar._time import (
    END_OF_DAY,
    Zone,
    after,
    aware,
    elapsed,
    end_of_day_in,
    local,
    start_of_day,
    zone,
)
from followup.calendar.calendar import BusinessCalendar, default_calendar
from followup.calendar.deadlines import Deadline

Interval = tuple[datetime, datetime]
Pause = tuple[datetime, datetime | None]
"""A pause from its start to its end; None while it is still running."""


def _cal(cal: BusinessCalendar | None) -> BusinessCalendar:
    return default_calendar() if cal is None else cal


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Overlapping or touching intervals merged and sorted; empty ones dropped."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def working_seconds_between(
    start: datetime, end: datetime, tz: Zone = None, cal: BusinessCalendar | None = None
) -> float:
    """Real seconds of [start, end) that fall on working days (whole local days)."""
    zi, c = zone(tz), _cal(cal)
    cursor, stop = local(start, zi), local(end, zi)
    total = timedelta()  # summed exactly, in microseconds, not in floats
    while cursor < stop:
        midnight = start_of_day(cursor.date() + timedelta(days=1), zi)
        piece_end = min(midnight, stop)
        if c.is_working_day(cursor.date()):
            total += elapsed(cursor, piece_end)
        cursor = piece_end
    return total.total_seconds()


def add_working_seconds(
    at: datetime, seconds: float, tz: Zone = None, cal: BusinessCalendar | None = None
) -> datetime:
    """The instant `seconds` of working-day time after `at`, skipping non-working days."""
    if not math.isfinite(seconds):
        raise ValueError(f"seconds must be finite, not {seconds}")
    zi, c = zone(tz), _cal(cal)
    cursor, left = local(at, zi), seconds
    while left > 0:
        midnight = start_of_day(cursor.date() + timedelta(days=1), zi)
        if c.is_working_day(cursor.date()):
            room = elapsed(cursor, midnight).total_seconds()
            if left < room:
                return after(cursor, left, zi)
            left -= room
        cursor = midnight
    return cursor


def shift_deadline_by_working_time(
    deadline_at: datetime, seconds: float, tz: Zone = None, cal: BusinessCalendar | None = None
) -> Deadline:
    """A day-based deadline moved later by `seconds` of working time, to the end of its new day."""
    zi, c = zone(tz), _cal(cal)
    current = local(deadline_at, zi)
    if seconds <= 0:
        return Deadline(current, c.is_provisional(current.date()))
    # 23:59:59 stands for the whole day: count from the midnight that really ends it.
    begin = current
    if current.time() == END_OF_DAY:
        begin = start_of_day(current.date() + timedelta(days=1), zi)
    landed = add_working_seconds(begin, seconds, zi, c)
    day = landed.date()
    if landed == start_of_day(day, zi):
        # Landing exactly on a midnight uses up the day before, a working day, and no more.
        day -= timedelta(days=1)
    return Deadline(end_of_day_in(day, zi), c.any_provisional(current.date(), day))


def paused_working_seconds(
    pauses: Iterable[Pause], now: datetime, tz: Zone = None, cal: BusinessCalendar | None = None
) -> float:
    """Working seconds covered by the pauses up to `now` (a running pause ends at `now`)."""
    zi, c = zone(tz), _cal(cal)
    return sum(working_seconds_between(s, e, zi, c) for s, e in _merged_until(pauses, now))


def extend_by_pauses(
    deadline: Deadline,
    pauses: Iterable[Pause],
    now: datetime,
    tz: Zone = None,
    cal: BusinessCalendar | None = None,
) -> Deadline:
    """The deadline in force: `deadline` moved later by the paused working time up to `now`."""
    zi, c = zone(tz), _cal(cal)
    merged = _merged_until(pauses, now)
    seconds = sum(working_seconds_between(s, e, zi, c) for s, e in merged)
    shifted = shift_deadline_by_working_time(deadline.at, seconds, zi, c)
    # The paused seconds were judged on the pause days, so those days' status counts too.
    paused_provisional = any(
        c.any_provisional(local(s, zi).date(), local(e, zi).date()) for s, e in merged
    )
    return Deadline(
        shifted.at,
        deadline.provisional or (seconds > 0 and shifted.provisional) or paused_provisional,
    )


def _merged_until(pauses: Iterable[Pause], now: datetime) -> list[Interval]:
    aware(now)
    closed = [(start, now if end is None else min(end, now)) for start, end in pauses]
    return merge_intervals(closed)
