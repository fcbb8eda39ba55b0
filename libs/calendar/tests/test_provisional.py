"""Years without official data: the provisional calendar's holidays, exactly."""

from __future__ import annotations

from datetime import date, timedelta

from followup.calendar import (
    BusinessCalendar,
    cn_provisional_holidays,
    default_calendar,
    provisional_holidays,
)

CAL = default_calendar()


def span(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def test_the_provisional_2027_holidays_follow_the_recent_official_pattern() -> None:
    expected = [
        date(2027, 1, 1),
        *span(date(2027, 2, 5), 8),  # New Year's Eve (Fri) to lunar 1/7
        date(2027, 4, 5),  # Qingming, a Monday
        *span(date(2027, 5, 1), 5),
        date(2027, 6, 9),  # Dragon Boat, a Wednesday: no bridging day guessed
        date(2027, 9, 15),  # Mid-Autumn, a Wednesday
        *span(date(2027, 10, 1), 7),
    ]
    assert sorted(cn_provisional_holidays(2027)) == expected
    assert CAL.holiday_name(date(2027, 2, 5)) == "Spring Festival"
    assert CAL.holiday_name(date(2027, 9, 15)) == "Mid-autumn Festival"


def test_the_provisional_2030_spring_festival_runs_from_its_eve_to_lunar_1_7() -> None:
    holidays = cn_provisional_holidays(2030)
    festival = [d for d, name in holidays.items() if name == "Spring Festival"]
    assert festival == span(date(2030, 2, 2), 8)  # lunar 1/1 is Sunday 2030-02-03
    assert holidays[date(2030, 9, 12)] == "Mid-autumn Festival"


def test_a_one_day_holiday_on_a_weekend_gives_the_monday_off() -> None:
    # 2028-01-01 is a Saturday; 2028-05-28 (Dragon Boat) a Sunday.
    assert not CAL.is_working_day(date(2028, 1, 3))
    assert CAL.holiday_name(date(2028, 1, 3)) == "New Year's Day"
    assert CAL.holiday_name(date(2028, 5, 29)) == "Dragon Boat Festival"
    assert CAL.is_working_day(date(2028, 5, 30))


def test_mid_autumn_inside_national_day_keeps_its_name_and_adds_no_day() -> None:
    holidays = cn_provisional_holidays(2028)
    assert holidays[date(2028, 10, 3)] == "Mid-autumn Festival"
    assert [d for d in holidays if d.month == 10] == span(date(2028, 10, 1), 7)


def test_a_provisional_year_has_no_make_up_working_days() -> None:
    weekend_days = [d for d in span(date(2027, 1, 1), 365) if d.weekday() >= 5]
    assert not any(CAL.is_working_day(d) for d in weekend_days)


def test_provisional_rules_are_mainland_chinas_only() -> None:
    assert provisional_holidays(2027, "XX") == {}
    assert BusinessCalendar("XX").is_working_day(date(2027, 10, 4))
    assert not BusinessCalendar("CN").is_working_day(date(2027, 10, 4))


def test_the_provisional_calendar_rarely_works_on_a_day_the_official_one_took_off() -> None:
    # The reason for whole golden weeks: judged against the published 2020–2026 schedules, the
    # provisional rules put at most 2 working days a year on a day the office was shut.
    bare = BusinessCalendar("CN")
    for year in range(2020, 2027):
        year_days = span(date(year, 1, 1), 366 if year % 4 == 0 else 365)
        wrongly_open = [
            d for d in year_days if bare.is_working_day(d) and not CAL.is_working_day(d)
        ]
        assert len(wrongly_open) <= 2, (year, wrongly_open)
