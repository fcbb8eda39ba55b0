"""Business calendar: mainland China holidays and make-up working days, provisional years, and
the deadline counting rules of SPEC §2 (pure; reads a data file only when asked)."""

from followup.calendar.calendar import (
    BusinessCalendar,
    YearData,
    chinese_calendar_years,
    default_calendar,
    provisional_holidays,
)
from followup.calendar.data_file import CalendarDataError, load_year, parse_year
from followup.calendar.deadlines import (
    Deadline,
    add_months_clamped,
    add_working_seconds,
    end_of_calendar_days,
    end_of_day,
    end_of_working_days,
    holiday_care_deadline_date,
    merge_intervals,
    next_working_day_at,
    shift_deadline_by_working_time,
    working_seconds_between,
)
from followup.calendar.festivals import (
    dragon_boat,
    lunar_to_solar,
    mid_autumn,
    qingming,
    spring_festival,
    spring_festival_eve,
)

__all__ = [
    "BusinessCalendar",
    "CalendarDataError",
    "Deadline",
    "YearData",
    "add_months_clamped",
    "add_working_seconds",
    "chinese_calendar_years",
    "default_calendar",
    "dragon_boat",
    "end_of_calendar_days",
    "end_of_day",
    "end_of_working_days",
    "holiday_care_deadline_date",
    "load_year",
    "lunar_to_solar",
    "merge_intervals",
    "mid_autumn",
    "next_working_day_at",
    "parse_year",
    "provisional_holidays",
    "qingming",
    "shift_deadline_by_working_time",
    "spring_festival",
    "spring_festival_eve",
    "working_seconds_between",
]
