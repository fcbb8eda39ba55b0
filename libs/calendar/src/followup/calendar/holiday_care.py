"""The holiday_care deadline (SPEC §2): the last working day before the festival's public
holiday begins, or the day before the festival where no holiday data exists."""

from __future__ import annotations

from datetime import date, timedelta

from followup.calendar.calendar import BusinessCalendar, default_calendar


def festival_holiday_start(festival: date, cal: BusinessCalendar | None = None) -> date | None:
    """The first day of the official run of days off containing `festival`, else None."""
    # None without official data, or (never seen so far) when the festival day is worked. The
    # run includes the weekend days joined to the holiday, as the notices count them
    # ("放假调休，共8天").
    c = cal if cal is not None else default_calendar()
    if c.is_provisional(festival) or c.is_working_day(festival):
        return None
    return c.holiday_block_start(festival)


def holiday_care_deadline_date(festival: date, cal: BusinessCalendar | None = None) -> date:
    """The last working day before the festival's holiday begins; without data, the day before."""
    c = cal if cal is not None else default_calendar()
    start = festival_holiday_start(festival, c)
    if start is None:
        # SPEC §2's own fallback; the provisional blocks are a guess and are not used here.
        return festival - timedelta(days=1)
    return c.previous_working_day(start)
