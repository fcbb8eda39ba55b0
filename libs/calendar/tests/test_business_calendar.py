"""Which days are working days: official mainland China data, make-up days, regions, defaults."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from followup.calendar import (
    CALENDAR_DIR_ENV,
    BusinessCalendar,
    CalendarDataError,
    YearData,
    default_calendar,
    dragon_boat,
    mid_autumn,
    qingming,
    spring_festival,
)

CAL = default_calendar()


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_spring_festival_2026_is_off_from_february_15_to_23() -> None:
    assert spring_festival(2026) == date(2026, 2, 17)
    holiday = days(date(2026, 2, 15), date(2026, 2, 23))
    assert all(CAL.holiday_name(d) == "Spring Festival" for d in holiday)
    assert not any(CAL.is_working_day(d) for d in holiday)
    assert CAL.is_working_day(date(2026, 2, 13)) and CAL.is_working_day(date(2026, 2, 24))


def test_the_saturdays_before_and_after_spring_festival_2026_are_make_up_working_days() -> None:
    for saturday in (date(2026, 2, 14), date(2026, 2, 28)):
        assert saturday.weekday() == 5
        assert CAL.is_make_up_workday(saturday) and CAL.is_working_day(saturday)
        assert not CAL.is_holiday(saturday)
    assert not CAL.is_working_day(date(2026, 3, 1))  # an ordinary Sunday stays off


def test_a_make_up_sunday_is_a_working_day() -> None:
    assert date(2026, 1, 4).weekday() == 6
    assert CAL.is_working_day(date(2026, 1, 4))
    assert CAL.is_working_day(date(2026, 9, 20))


def test_official_data_covers_2004_to_2026_from_chinese_calendar() -> None:
    assert CAL.years_official() == set(range(2004, 2027))
    assert CAL.is_official(2026) and not CAL.is_official(2027) and not CAL.is_official(2003)
    assert CAL.is_provisional(date(2027, 1, 1)) and not CAL.is_provisional(date(2026, 12, 31))
    data = CAL.year_data(2026)
    assert data is not None and data.source.startswith("chinese-calendar")


def test_the_computed_festivals_are_official_holidays_in_every_official_year() -> None:
    # lunardate and the Qingming formula agree with every schedule the State Council published
    # (Qingming, Dragon Boat and Mid-Autumn became public holidays in 2008; chinese-calendar
    # leaves out some weekend days inside a holiday, e.g. Saturday 2012-06-23, so: not working).
    for year in sorted(CAL.years_official()):
        assert CAL.holiday_name(spring_festival(year)) == "Spring Festival", year
        for festival in (qingming, dragon_boat, mid_autumn):
            assert year < 2008 or not CAL.is_working_day(festival(year)), (festival.__name__, year)


def test_an_ordinary_week_works_monday_to_friday() -> None:
    week = days(date(2026, 3, 2), date(2026, 3, 8))
    assert [CAL.is_working_day(d) for d in week] == [True] * 5 + [False] * 2
    assert CAL.next_working_day(date(2026, 3, 6)) == date(2026, 3, 9)
    assert CAL.previous_working_day(date(2026, 3, 9)) == date(2026, 3, 6)


def test_the_run_of_days_off_starts_at_the_first_day_after_the_last_working_day() -> None:
    assert CAL.holiday_block_start(date(2026, 2, 20)) == date(2026, 2, 15)
    assert CAL.holiday_block_start(date(2026, 3, 10)) == date(2026, 3, 10)  # a working day
    assert CAL.holiday_block_start(date(2026, 3, 8)) == date(2026, 3, 7)  # a weekend


def test_a_calendar_never_changes_once_built() -> None:
    official: dict[int, YearData] = {}
    cal = BusinessCalendar("XX", official)
    official[2027] = YearData("XX", 2027, {date(2027, 3, 1): "Test Day"}, {})
    assert not cal.is_official(2027)
    newer = cal.with_year(official[2027])
    assert newer.is_holiday(date(2027, 3, 1)) and not cal.is_holiday(date(2027, 3, 1))
    with pytest.raises(ValueError, match="region XX"):
        BusinessCalendar("CN").with_year(official[2027])


def test_a_region_with_no_data_works_every_weekday() -> None:
    cal = BusinessCalendar("XX")
    assert cal.is_working_day(date(2027, 10, 1)) and cal.is_working_day(date(2027, 2, 8))
    assert not cal.is_working_day(date(2027, 10, 2))  # a Saturday


def test_the_default_calendar_adds_the_files_in_the_calendar_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A test fixture, not the real 2027 schedule.
    (tmp_path / "cn-2027.json").write_text(
        json.dumps({"region": "CN", "year": 2027, "holidays": {"2027-03-01": "Test Day"}})
    )
    (tmp_path / "xx-2027.json").write_text(
        json.dumps({"region": "XX", "year": 2027, "holidays": {"2027-03-02": "Other Region"}})
    )
    monkeypatch.setenv(CALENDAR_DIR_ENV, str(tmp_path))
    cal = default_calendar()
    assert cal.years_official() == set(range(2004, 2028))
    assert cal.holiday_name(date(2027, 3, 1)) == "Test Day"
    assert cal.is_working_day(date(2027, 3, 2))  # the other region's file is not ours
    assert default_calendar() is cal  # cached
    monkeypatch.delenv(CALENDAR_DIR_ENV)
    assert not default_calendar().is_official(2027)


def test_a_calendar_directory_that_does_not_exist_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CALENDAR_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(CalendarDataError, match=f"{CALENDAR_DIR_ENV}: not a directory"):
        default_calendar()


def test_reload_rereads_the_calendar_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CALENDAR_DIR_ENV, str(tmp_path))
    assert not default_calendar().is_official(2027)
    (tmp_path / "cn-2027.json").write_text(
        json.dumps({"region": "CN", "year": 2027, "holidays": {"2027-03-01": "Test Day"}})
    )
    assert not default_calendar().is_official(2027)
    assert default_calendar(reload=True).is_official(2027)


def test_next_year_is_reported_provisional_only_from_november_1() -> None:
    cal = BusinessCalendar.load()
    assert not cal.is_official(2099)
    assert cal.next_year_reported_official(date(2098, 10, 31))
    assert not cal.next_year_reported_official(date(2098, 11, 1))
    assert not cal.next_year_reported_official(date(2098, 12, 31))
    official = sorted(cal.years_official())[-1]
    assert cal.next_year_reported_official(date(official - 1, 11, 1))
