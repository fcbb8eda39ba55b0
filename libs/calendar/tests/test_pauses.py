"""Paused resolution clocks: paused working time extends the deadline, overlaps count once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from followup.calendar import (
    BusinessCalendar,
    Deadline,
    YearData,
    add_working_seconds,
    default_calendar,
    end_of_day,
    end_of_working_days,
    extend_by_pauses,
    merge_intervals,
    paused_working_seconds,
    shift_deadline_by_working_time,
    working_seconds_between,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
CAL = default_calendar()
HOUR = 3600.0


def at(y: int, m: int, d: int, h: int = 10, minute: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=tz)


def official(d: date) -> Deadline:
    return Deadline(end_of_day(d, SH), provisional=False)


# An issue raised Mon 2026-03-02 10:00, general: resolved within 3 working days, by Thu 03-05.
RAISED = at(2026, 3, 2)
RESOLUTION = end_of_working_days(RAISED, 3, SH, CAL)


def test_the_resolution_deadline_without_pauses_is_thursday() -> None:
    assert official(date(2026, 3, 5)) == RESOLUTION
    assert extend_by_pauses(RESOLUTION, [], at(2026, 3, 3), SH, CAL) == RESOLUTION


def test_overlapping_pauses_count_once() -> None:
    a = (at(2026, 3, 3, 9), at(2026, 3, 3, 15))
    b = (at(2026, 3, 3, 12), at(2026, 3, 3, 18))
    assert merge_intervals([b, a]) == [(a[0], b[1])]
    assert paused_working_seconds([a, b], at(2026, 3, 4), SH, CAL) == 9 * HOUR


def test_touching_pauses_merge_and_empty_ones_vanish() -> None:
    a = (at(2026, 3, 3, 9), at(2026, 3, 3, 10))
    b = (at(2026, 3, 3, 10), at(2026, 3, 3, 11))
    empty = (at(2026, 3, 3, 12), at(2026, 3, 3, 12))
    assert merge_intervals([empty, b, a]) == [(a[0], b[1])]


def test_a_pause_within_a_working_day_extends_the_deadline_by_one_working_day() -> None:
    pauses = [(at(2026, 3, 3, 9), at(2026, 3, 3, 18))]
    assert extend_by_pauses(RESOLUTION, pauses, at(2026, 3, 4), SH, CAL) == official(
        date(2026, 3, 6)
    )


def test_24_paused_working_hours_move_the_deadline_by_exactly_one_working_day() -> None:
    whole_tuesday = [(at(2026, 3, 3, 0), at(2026, 3, 4, 0))]
    assert extend_by_pauses(RESOLUTION, whole_tuesday, at(2026, 3, 4), SH, CAL) == official(
        date(2026, 3, 6)
    )
    a_second_more = [(at(2026, 3, 3, 0), at(2026, 3, 4, 0) + timedelta(seconds=1))]
    # Friday is full, so the next working day is Monday.
    assert extend_by_pauses(RESOLUTION, a_second_more, at(2026, 3, 5), SH, CAL) == official(
        date(2026, 3, 9)
    )


def test_a_pause_over_the_weekend_costs_only_its_working_hours() -> None:
    # Paused Fri 18:00 to Mon 06:00: 6 h on Friday + 6 h on Monday.
    seconds = working_seconds_between(at(2026, 3, 6, 18), at(2026, 3, 9, 6), SH, CAL)
    assert seconds == 12 * HOUR
    assert add_working_seconds(at(2026, 3, 6, 18), 12 * HOUR, SH, CAL) == at(2026, 3, 9, 6)
    weekend_only = [(at(2026, 3, 7, 0), at(2026, 3, 9, 0))]
    assert extend_by_pauses(RESOLUTION, weekend_only, at(2026, 3, 9), SH, CAL) == RESOLUTION


def test_a_running_pause_counts_until_now() -> None:
    running = [(at(2026, 3, 3, 9), None)]
    assert paused_working_seconds(running, at(2026, 3, 3, 11), SH, CAL) == 2 * HOUR
    assert paused_working_seconds(running, at(2026, 3, 5, 9), SH, CAL) == 48 * HOUR
    extended = extend_by_pauses(RESOLUTION, running, at(2026, 3, 5, 9), SH, CAL)
    assert extended == official(date(2026, 3, 9))  # Fri and Mon


def test_paused_time_moves_a_deadline_over_spring_festival_counting_the_make_up_saturday() -> None:
    friday = end_of_day(date(2026, 2, 13), SH)
    assert shift_deadline_by_working_time(friday, 24 * HOUR, SH, CAL) == official(date(2026, 2, 14))
    assert shift_deadline_by_working_time(friday, 48 * HOUR, SH, CAL) == official(date(2026, 2, 24))
    assert shift_deadline_by_working_time(friday, 0, SH, CAL) == official(date(2026, 2, 13))


def test_working_time_counted_across_spring_festival_skips_the_holiday() -> None:
    # Thu 12:00 .. Wed 25 00:00: Thu 12 h, Fri 24 h, make-up Sat 24 h, Tue 24 24 h.
    seconds = working_seconds_between(at(2026, 2, 12, 12), at(2026, 2, 25, 0), SH, CAL)
    assert seconds == 84 * HOUR


def test_an_extension_into_a_provisional_year_is_provisional() -> None:
    thursday = Deadline(end_of_day(date(2026, 12, 31), SH), provisional=False)
    pauses = [(at(2026, 12, 30, 9), at(2026, 12, 30, 10))]
    extended = extend_by_pauses(thursday, pauses, at(2027, 1, 1), SH, CAL)
    assert extended == Deadline(end_of_day(date(2027, 1, 4), SH), provisional=True)


def test_a_working_day_that_loses_an_hour_to_daylight_saving_counts_23_hours() -> None:
    # A region that works Sunday 2026-03-08, the day New York springs forward.
    cal = BusinessCalendar("XX").with_year(YearData("XX", 2026, {}, {date(2026, 3, 8): "Test"}))
    sunday = working_seconds_between(at(2026, 3, 8, 0, tz=NY), at(2026, 3, 9, 0, tz=NY), NY, cal)
    assert sunday == 23 * HOUR
    assert add_working_seconds(at(2026, 3, 8, 0, tz=NY), 23 * HOUR, NY, cal) == at(
        2026, 3, 9, 0, tz=NY
    )


def test_non_finite_or_naive_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        add_working_seconds(RAISED, float("inf"), SH, CAL)
    with pytest.raises(ValueError, match="aware"):
        paused_working_seconds([], datetime(2026, 3, 3), SH, CAL)
