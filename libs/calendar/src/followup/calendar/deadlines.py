"""Deadline counting, SPEC §2, stated exactly as the rules say:

- "Within N working days of X" ends at the end (23:59:59 local) of the Nth working day after
  X's local date, not counting X's own day; a make-up working Saturday counts.
- A deadline counted in calendar days that falls on a non-working day moves to the end of the
  next working day. Due times never move.
- Months are anchored to the delivery date, never to the previous visit, and clamp to the
  month's end (delivered Jan 31 -> due Feb 28, Apr 30, Jul 31, next Jan 31).
- Every day-based deadline is the end (23:59:59 local) of its day.

"Local" is the customer's zone (default Asia/Shanghai). A deadline is provisional when any day
whose working status decided it lies in a year without official data. Every function takes
`cal`; None means default_calendar().
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from followup.calendar._time import Zone, end_of_day_in, local, zone
from followup.calendar.calendar import BusinessCalendar, default_calendar


@dataclass(frozen=True, order=True)
class Deadline:
    """When something is due (aware, 23:59:59 local) and whether a provisional year decided it."""

    at: datetime
    provisional: bool


def _cal(cal: BusinessCalendar | None) -> BusinessCalendar:
    return default_calendar() if cal is None else cal


def end_of_day(d: date, tz: Zone = None) -> datetime:
    """23:59:59 local on `d`, aware in `tz`."""
    return end_of_day_in(d, zone(tz))


def end_of_working_days(
    start: datetime, n: int, tz: Zone = None, cal: BusinessCalendar | None = None
) -> Deadline:
    """The end of the Nth working day after `start`'s local date (its own day not counted)."""
    if n < 1:
        raise ValueError(f"n must be at least 1 working day, not {n}")
    zi, c = zone(tz), _cal(cal)
    first = local(start, zi).date()
    day = c.nth_working_day_after(first, n)
    # The days counted are the ones after X's own day, up to the Nth.
    return Deadline(end_of_day_in(day, zi), c.any_provisional(first + timedelta(days=1), day))


def end_of_next_working_day(
    after: datetime, tz: Zone = None, cal: BusinessCalendar | None = None
) -> Deadline:
    """The end of the first working day after `after`'s local date (a retry's deadline)."""
    return end_of_working_days(after, 1, tz, cal)


def end_of_calendar_days(
    start: datetime, days: int, tz: Zone = None, cal: BusinessCalendar | None = None
) -> Deadline:
    """`start`'s local date + `days`; from a non-working day, the end of the next working day."""
    zi, c = zone(tz), _cal(cal)
    landed = local(start, zi).date() + timedelta(days=days)
    day = c.working_day_on_or_after(landed)
    # The days in between are not judged, only the landing day and any days it moves over.
    return Deadline(end_of_day_in(day, zi), c.any_provisional(landed, day))


def add_months_clamped(anchor: datetime, months: int, tz: Zone = None) -> datetime:
    """The anchor's local wall time `months` later, on its local day clamped to the month's end."""
    zi = zone(tz)
    start = local(anchor, zi)
    return datetime.combine(add_months_to_date(start.date(), months), start.time(), zi)


# Days per month of a common year; February of a leap year is handled in add_months_to_date.
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def add_months_to_date(d: date, months: int) -> date:
    """`d` plus `months`, clamped to the month's end (the date part of add_months_clamped)."""
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    last = _MONTH_DAYS[month - 1]
    if month == 2 and _stdlib_calendar.isleap(year):
        last = 29
    return date(year, month, d.day if d.day <= last else last)


def next_working_day_at(
    after: datetime, at: time, tz: Zone = None, cal: BusinessCalendar | None = None
) -> datetime:
    """`at` local time on the first working day after `after`'s local date (e.g. 09:00 retries)."""
    zi = zone(tz)
    return datetime.combine(_cal(cal).next_working_day(local(after, zi).date()), at, zi)
