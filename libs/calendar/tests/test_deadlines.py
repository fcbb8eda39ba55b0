"""SPEC §2 counting rules, each stated as the rule says, with concrete dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from followup.calendar import (
    Deadline,
    add_months_clamped,
    default_calendar,
    end_of_calendar_days,
    end_of_day,
    end_of_next_working_day,
    end_of_working_days,
    festival_holiday_start,
    holiday_care_deadline_date,
    mid_autumn,
    next_working_day_at,
    spring_festival,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
CAL = default_calendar()


def at(y: int, m: int, d: int, h: int = 10, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, m, d, h, tzinfo=tz)


def official(d: date, tz: ZoneInfo = SH) -> Deadline:
    return Deadline(end_of_day(d, tz), provisional=False)


# "Within N working days of X" ends at the end (23:59:59 local) of the Nth working day after
# X's local date, not counting X's own day; a make-up working Saturday counts.


def test_within_3_working_days_of_a_friday_evening_skips_the_weekend() -> None:
    assert end_of_working_days(at(2026, 3, 6, 19), 3, SH, CAL) == official(date(2026, 3, 11))


def test_the_start_day_is_not_counted_even_in_its_first_minute() -> None:
    assert end_of_working_days(at(2026, 3, 2, 0), 1, SH, CAL) == official(date(2026, 3, 3))


def test_a_deadline_may_land_on_a_make_up_working_saturday() -> None:
    # Thu 2026-02-12: Fri 13, Sat 14 (worked before Spring Festival).
    assert end_of_working_days(at(2026, 2, 12), 2, SH, CAL) == official(date(2026, 2, 14))


def test_a_deadline_may_land_on_a_make_up_working_sunday() -> None:
    # Wed 2025-12-31: New Year's Day 2026 is off Thu to Sat, Sunday 01-04 is worked.
    assert end_of_working_days(at(2025, 12, 31), 1, SH, CAL) == official(date(2026, 1, 4))


def test_working_days_counted_across_spring_festival_2026_count_the_make_up_saturday() -> None:
    # Thu 02-12: Fri 13, Sat 14, then the holiday 15..23, then Tue 24.
    assert end_of_working_days(at(2026, 2, 12), 3, SH, CAL) == official(date(2026, 2, 24))


def test_zero_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        end_of_working_days(at(2026, 3, 2), 0, SH, CAL)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        end_of_working_days(datetime(2026, 3, 2, 10), 1, SH, CAL)


# A deadline counted in calendar days that falls on a non-working day moves to the end of the
# next working day. Due times never move.


def test_7_days_landing_in_spring_festival_move_to_the_first_working_day_after_it() -> None:
    assert end_of_calendar_days(at(2026, 2, 10), 7, SH, CAL) == official(date(2026, 2, 24))


def test_7_days_landing_on_a_make_up_saturday_stay_there() -> None:
    assert end_of_calendar_days(at(2026, 2, 7), 7, SH, CAL) == official(date(2026, 2, 14))


def test_days_landing_on_an_ordinary_saturday_move_to_monday() -> None:
    assert end_of_calendar_days(at(2026, 3, 2), 5, SH, CAL) == official(date(2026, 3, 9))
    assert end_of_calendar_days(at(2026, 3, 2), 4, SH, CAL) == official(date(2026, 3, 6))


# Months are anchored to the delivery date, never to the previous visit, and clamp to the
# month's end (delivered Jan 31 -> due Feb 28, Apr 30, Jul 31, next Jan 31).


def test_months_from_january_31_clamp_to_each_months_end() -> None:
    jan31 = at(2026, 1, 31, 15)
    due = [add_months_clamped(jan31, n, SH) for n in (1, 2, 3, 6, 12)]
    assert due == [
        at(2026, 2, 28, 15),
        at(2026, 3, 31, 15),  # anchored: not Feb 28 + 1 month
        at(2026, 4, 30, 15),
        at(2026, 7, 31, 15),
        at(2027, 1, 31, 15),
    ]


def test_months_clamp_to_february_29_in_a_leap_year() -> None:
    assert add_months_clamped(at(2028, 1, 31), 1, SH) == at(2028, 2, 29)
    assert add_months_clamped(at(2027, 1, 31), 13, SH) == at(2028, 2, 29)
    assert add_months_clamped(at(2028, 2, 29), 12, SH) == at(2029, 2, 28)


def test_months_are_anchored_to_the_local_date_of_the_anchor() -> None:
    # 2026-01-31 20:00 UTC is Feb 1 04:00 in Shanghai and Jan 31 15:00 in New York.
    instant = datetime(2026, 1, 31, 20, tzinfo=UTC)
    assert add_months_clamped(instant, 1, SH) == datetime(2026, 3, 1, 4, tzinfo=SH)
    assert add_months_clamped(instant, 1, NY) == datetime(2026, 2, 28, 15, tzinfo=NY)


# Local dates follow the customer's time zone.


def test_the_same_instant_counts_from_different_local_dates_in_new_york_and_shanghai() -> None:
    # Thu 2026-03-05 20:00 in New York is Fri 03-06 09:00 in Shanghai.
    instant = at(2026, 3, 5, 20, tz=NY)
    in_ny = end_of_working_days(instant, 1, NY, CAL)
    in_sh = end_of_working_days(instant, 1, SH, CAL)
    assert in_ny == official(date(2026, 3, 6), NY) and in_ny.at.tzinfo is NY
    assert in_sh == official(date(2026, 3, 9), SH)
    assert in_ny.at == datetime(2026, 3, 7, 4, 59, 59, tzinfo=UTC)  # EST, before DST


def test_a_zone_may_be_given_by_name_and_defaults_to_shanghai() -> None:
    assert end_of_day(date(2026, 3, 6)) == datetime(2026, 3, 6, 23, 59, 59, tzinfo=SH)
    assert end_of_day(date(2026, 3, 6), "America/New_York").utcoffset() is not None
    assert end_of_working_days(at(2026, 3, 6, 19), 3) == official(date(2026, 3, 11))


# Retries: 09:00 local on the next working day, due by the end of the working day after that.


def test_a_retry_is_at_9_on_the_next_working_day_and_due_the_working_day_after() -> None:
    due = next_working_day_at(at(2026, 3, 6, 15), time(9), SH, CAL)
    assert due == at(2026, 3, 9, 9)
    assert end_of_next_working_day(due, SH, CAL) == official(date(2026, 3, 10))


def test_a_retry_before_spring_festival_uses_the_make_up_saturday_then_waits_out_the_holiday() -> (
    None
):
    due = next_working_day_at(at(2026, 2, 13, 15), time(9), SH, CAL)
    assert due == at(2026, 2, 14, 9)
    assert end_of_next_working_day(due, SH, CAL) == official(date(2026, 2, 24))


# Provisional years.


def test_a_deadline_counted_into_2027_is_provisional() -> None:
    # Wed 2026-12-30: Thu 31, then (provisionally) New Year's Day, the weekend, Mon 4, Tue 5.
    d = end_of_working_days(at(2026, 12, 30), 3, SH, CAL)
    assert d == Deadline(end_of_day(date(2027, 1, 5), SH), provisional=True)
    assert not end_of_working_days(at(2026, 12, 30), 1, SH, CAL).provisional


def test_a_calendar_day_deadline_moved_through_a_provisional_holiday_is_provisional() -> None:
    # 2026-12-25 + 7 = Fri 2027-01-01, provisionally New Year's Day: to Mon 01-04.
    d = end_of_calendar_days(at(2026, 12, 25), 7, SH, CAL)
    assert d == Deadline(end_of_day(date(2027, 1, 4), SH), provisional=True)


def test_deadlines_inside_a_provisional_year_are_provisional_and_skip_its_spring_festival() -> None:
    # Thu 2027-02-04: the provisional Spring Festival runs Fri 02-05 to Fri 02-12.
    d = end_of_working_days(at(2027, 2, 4), 1, SH, CAL)
    assert d == Deadline(end_of_day(date(2027, 2, 15), SH), provisional=True)
    assert end_of_working_days(at(2030, 9, 11), 1, SH, CAL).at.date() == date(2030, 9, 13)


def test_the_start_day_of_a_provisional_year_does_not_make_the_deadline_provisional() -> None:
    # 2003 has no official data, but X's own day is not counted: 1 working day after
    # 2003-12-31 is Fri 2004-01-02, judged on 2004's official data.
    assert end_of_working_days(at(2003, 12, 31), 1, SH, CAL) == official(date(2004, 1, 2))


# holiday_care: the last working day before the festival's public holiday begins (the day
# before the festival where no holiday data exists).


def test_holiday_care_for_spring_festival_2026_is_due_by_the_make_up_saturday_before_it() -> None:
    festival = spring_festival(2026)
    assert festival_holiday_start(festival, CAL) == date(2026, 2, 15)
    assert holiday_care_deadline_date(festival, CAL) == date(2026, 2, 14)


def test_holiday_care_for_mid_autumn_2026_is_due_the_thursday_before() -> None:
    festival = mid_autumn(2026)
    assert festival == date(2026, 9, 25)
    assert holiday_care_deadline_date(festival, CAL) == date(2026, 9, 24)


def test_holiday_care_for_mid_autumn_inside_national_day_2025_is_due_before_october_1() -> None:
    festival = mid_autumn(2025)
    assert festival == date(2025, 10, 6)
    assert festival_holiday_start(festival, CAL) == date(2025, 10, 1)
    assert holiday_care_deadline_date(festival, CAL) == date(2025, 9, 30)


def test_holiday_care_without_official_data_is_due_the_day_before_the_festival() -> None:
    assert festival_holiday_start(spring_festival(2027), CAL) is None
    assert holiday_care_deadline_date(spring_festival(2027), CAL) == date(2027, 2, 5)
    assert holiday_care_deadline_date(mid_autumn(2027), CAL) == date(2027, 9, 14)
