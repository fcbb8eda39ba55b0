"""Business calendar: mainland China holidays and make-up working days, provisional years, and
the deadline counting rules of SPEC §2 and §4 (pure; reads a data file only when asked)."""

from followup.calendar.calendar import (
    CALENDAR_DIR_ENV,
    DEFAULT_REGION,
    BusinessCalendar,
    default_calendar,
)
from followup.calendar.data_file import (
    CalendarDataError,
    YearData,
    data_files_in,
    load_region_years,
    load_year,
    parse_year,
)
from followup.calendar.deadlines import (
    Deadline,
    add_months_clamped,
    add_months_to_date,
    end_of_calendar_days,
    end_of_day,
    end_of_next_working_day,
    end_of_working_days,
    next_working_day_at,
)
from followup.calendar.festivals import (
    dragon_boat,
    lunar_to_solar,
    mid_autumn,
    qingming,
    spring_festival,
    spring_festival_eve,
)
from followup.calendar.holiday_care import festival_holiday_start, holiday_care_deadline_date
from followup.calendar.official import chinese_calendar_years
from followup.calendar.pauses import (
    Pause,
    add_working_seconds,
    extend_by_pauses,
    merge_intervals,
    paused_working_seconds,
    shift_deadline_by_working_time,
    working_seconds_between,
)
from followup.calendar.provisional import cn_provisional_holidays, provisional_holidays

__all__ = [
    "CALENDAR_DIR_ENV",
    "DEFAULT_REGION",
    "BusinessCalendar",
    "CalendarDataError",
    "Deadline",
    "Pause",
    "YearData",
    "add_months_clamped",
    "add_months_to_date",
    "add_working_seconds",
    "chinese_calendar_years",
    "cn_provisional_holidays",
    "data_files_in",
    "default_calendar",
    "dragon_boat",
    "end_of_calendar_days",
    "end_of_day",
    "end_of_next_working_day",
    "end_of_working_days",
    "extend_by_pauses",
    "festival_holiday_start",
    "holiday_care_deadline_date",
    "load_region_years",
    "load_year",
    "lunar_to_solar",
    "merge_intervals",
    "mid_autumn",
    "next_working_day_at",
    "parse_year",
    "paused_working_seconds",
    "provisional_holidays",
    "qingming",
    "shift_deadline_by_working_time",
    "spring_festival",
    "spring_festival_eve",
    "working_seconds_between",
]
