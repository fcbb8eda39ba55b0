"""The business calendar and the SPEC §2 counting rules, with concrete dates."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup.calendar import (
    BusinessCalendar,
    CalendarDataError,
    add_months_clamped,
    add_working_seconds,
    default_calendar,
    end_of_calendar_days,
    end_of_day,
    end_of_working_days,
    holiday_care_deadline_date,
    load_year,
    merge_intervals,
    mid_autumn,
    next_working_day_at,
    qingming,
    shift_deadline_by_working_time,
    spring_festival,
    working_seconds_between,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
CAL = default_calendar()
DATA = Path(__file__).resolve().parents[1] / "data"


def at(y: int, m: int, d: int, h: int = 10, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, m, d, h, tzinfo=tz)


def test_spring_festival_2026_is_off_and_its_make_up_saturdays_are_on() -> None:
    assert spring_festival(2026) == date(2026, 2, 17)
    assert all(not CAL.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert CAL.is_working_day(date(2026, 2, 14)) and CAL.is_make_up_workday(date(2026, 2, 14))
    assert CAL.is_working_day(date(2026, 2, 28))
    assert not CAL.is_working_day(date(2026, 3, 1))  # an ordinary Sunday
    assert CAL.holiday_name(date(2026, 2, 17)) == "Spring Festival"


def test_within_3_working_days_of_a_friday_evening_skips_the_weekend() -> None:
    d = end_of_working_days(at(2026, 3, 6, 19), 3, SH, CAL)
    assert d.at == end_of_day(date(2026, 3, 11), SH) and not d.provisional


def test_working_days_counted_across_spring_festival_include_the_make_up_saturday() -> None:
    # Thu 02-12: Fri 13, Sat 14 (make-up), then the holiday until Mon 23, then Tue 24.
    assert end_of_working_days(at(2026, 2, 12), 3, SH, CAL).at == end_of_day(date(2026, 2, 24), SH)


def test_a_calendar_day_deadline_on_a_holiday_moves_to_the_end_of_the_next_working_day() -> None:
    assert end_of_calendar_days(at(2026, 2, 10), 7, SH, CAL).at == end_of_day(date(2026, 2, 24), SH)
    # On a make-up Saturday it stays.
    assert end_of_calendar_days(at(2026, 2, 7), 7, SH, CAL).at == end_of_day(date(2026, 2, 14), SH)


def test_months_clamp_to_the_month_end_and_stay_anchored() -> None:
    jan31 = at(2026, 1, 31)
    assert [add_months_clamped(jan31, n, SH).date() for n in (1, 3, 6, 12)] == [
        date(2026, 2, 28),
        date(2026, 4, 30),
        date(2026, 7, 31),
        date(2027, 1, 31),
    ]
    assert add_months_clamped(at(2027, 1, 31), 13, SH).date() == date(2028, 2, 29)


def test_local_dates_follow_the_customers_time_zone() -> None:
    # Fri 2026-01-30 20:00 in New York is Sat 01-31 in Shanghai.
    ny = end_of_working_days(at(2026, 1, 30, 20, tz=NY), 1, NY, CAL)
    assert ny.at == end_of_day(date(2026, 2, 2), NY)
    assert ny.at.tzinfo == NY


def test_retry_time_is_9_on_the_next_working_day() -> None:
    assert next_working_day_at(at(2026, 2, 13, 15), time(9), SH, CAL) == at(2026, 2, 14, 9)


def test_years_without_official_data_are_provisional_and_flag_their_deadlines() -> None:
    assert spring_festival(2027) == date(2027, 2, 6)
    assert mid_autumn(2027) == date(2027, 9, 15)
    assert qingming(2027) == date(2027, 4, 5)
    assert not CAL.is_official(2027)
    assert not CAL.is_working_day(date(2027, 2, 5))  # Spring Festival eve (provisional)
    assert not CAL.is_working_day(date(2027, 9, 15))
    d = end_of_working_days(at(2026, 12, 30), 3, SH, CAL)
    assert d.provisional
    assert not end_of_working_days(at(2026, 3, 2), 3, SH, CAL).provisional


def test_loading_official_data_for_2027_makes_it_official_and_changes_deadlines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cn-2027.json"
    path.write_text(
        json.dumps(
            {
                "region": "CN",
                "year": 2027,
                "holidays": {"2027-09-16": "Mid-autumn Festival"},
                "workdays": {"2027-09-18": "Mid-autumn Festival"},
            }
        )
    )
    before = end_of_working_days(at(2027, 9, 14), 1, SH, CAL)
    cal = CAL.with_data_files([path])
    after = end_of_working_days(at(2027, 9, 14), 1, SH, cal)
    assert before.provisional and not after.provisional
    assert before.at == end_of_day(date(2027, 9, 16), SH)  # provisional: 09-15 is off
    assert after.at == end_of_day(date(2027, 9, 15), SH)  # official: 09-15 works, 16 is off
    assert cal.is_working_day(date(2027, 9, 18))  # a make-up Saturday


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("not json", "cannot read"),
        ({"region": "CN", "year": 2027, "holidays": {"2027-13-01": "x"}}, "holidays.2027-13-01"),
        (
            {"region": "CN", "year": 2027, "holidays": {"2028-01-01": "x"}},
            "outside the declared year",
        ),
        (
            {
                "region": "CN",
                "year": 2027,
                "holidays": {"2027-02-06": "x"},
                "workdays": {"2027-02-06": "x"},
            },
            "also a holiday",
        ),
        ({"region": "CN", "year": 2027, "holiday": {}}, "unknown key"),
        ({"year": 2027}, "region"),
        ({"region": "CN", "year": 2027, "workdays": ["2027-02-08"]}, "weekend day"),
    ],
)
def test_a_malformed_data_file_is_refused_with_the_file_and_the_field(
    tmp_path: Path, doc: object, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(CalendarDataError) as err:
        load_year(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_the_shipped_example_file_loads_for_its_own_region() -> None:
    data = load_year(DATA / "example-XX-2027.json")
    cal = BusinessCalendar("XX").with_year(data)
    assert not cal.is_working_day(date(2027, 2, 5))
    assert cal.is_working_day(date(2027, 2, 13))


def test_holiday_care_is_due_by_the_last_working_day_before_the_holiday_begins() -> None:
    assert holiday_care_deadline_date(date(2026, 2, 17), CAL) == date(2026, 2, 14)
    assert holiday_care_deadline_date(date(2026, 9, 25), CAL) == date(2026, 9, 24)
    # No official data: the day before the festival.
    assert holiday_care_deadline_date(date(2027, 2, 6), CAL) == date(2027, 2, 5)


def test_overlapping_pauses_count_once() -> None:
    a = (at(2026, 3, 2, 9), at(2026, 3, 2, 12))
    b = (at(2026, 3, 2, 11), at(2026, 3, 2, 14))
    assert merge_intervals([b, a]) == [(a[0], b[1])]


def test_paused_time_over_a_weekend_counts_only_working_days() -> None:
    # Paused Fri 18:00 to Mon 06:00: 6 h on Friday + 6 h on Monday.
    seconds = working_seconds_between(at(2026, 3, 6, 18), at(2026, 3, 9, 6), SH, CAL)
    assert seconds == 12 * 3600
    assert add_working_seconds(at(2026, 3, 6, 18), 12 * 3600, SH, CAL) == at(2026, 3, 9, 6)
    moved = shift_deadline_by_working_time(end_of_day(date(2026, 3, 11), SH), 12 * 3600, SH, CAL)
    assert moved.at == end_of_day(date(2026, 3, 12), SH)


@given(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2029, 12, 31)),
    st.integers(min_value=1, max_value=20),
)
def test_working_day_deadlines_grow_with_n_and_never_precede_the_start(
    naive: datetime, n: int
) -> None:
    start = naive.replace(tzinfo=SH)
    d_n = end_of_working_days(start, n, SH, CAL).at
    assert d_n > start
    assert end_of_working_days(start, n + 1, SH, CAL).at > d_n
    assert end_of_calendar_days(start, n, SH, CAL).at >= start + timedelta(days=n - 1)


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(min_value=0, max_value=48),
)
def test_month_arithmetic_never_overshoots_the_anchor_day(d: date, months: int) -> None:
    out = add_months_clamped(datetime.combine(d, time(10), SH), months, SH)
    assert out.day <= d.day
    assert (out.year * 12 + out.month) - (d.year * 12 + d.month) == months
