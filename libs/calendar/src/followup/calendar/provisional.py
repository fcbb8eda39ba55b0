"""The provisional calendar: holidays of a year whose official schedule is not published yet.

Mainland China (region "CN") follows the pattern of the recent official schedules (2020–2026,
and both years since the 2025 reform of the statutory holidays):

- New Year's Day: January 1;
- Spring Festival: New Year's Eve (除夕) through lunar 1/7, eight days;
- Qingming: the solar-term day (April 4, 5 or 6);
- Labour Day: May 1 to May 5;
- Dragon Boat Festival: lunar 5/5;
- Mid-Autumn Festival: lunar 8/15;
- National Day: October 1 to October 7;
- a one-day holiday (New Year's Day, Qingming, Dragon Boat, Mid-Autumn) on a Saturday or Sunday
  also gives the following Monday off, unless that Monday is a holiday already.

There are no make-up working days in a provisional year, and no bridging days (a Tuesday
festival's Monday) either: the official schedule pays for each bridging day with a make-up
Saturday, so leaving both out keeps the number of working days right. The two golden weeks
and the Spring Festival week are taken whole because every recent schedule closes them, and a
deadline should not land on a day when the office is shut.

Other regions have no provisional holidays: weekends only, until a data file is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import cache

from followup.calendar.festivals import (
    dragon_boat,
    mid_autumn,
    qingming,
    spring_festival_eve,
)

# The same English names chinese-calendar uses, so official and provisional days read alike.
NEW_YEAR = "New Year's Day"
SPRING_FESTIVAL = "Spring Festival"
QINGMING = "Tomb-sweeping Day"
LABOUR_DAY = "Labour Day"
DRAGON_BOAT = "Dragon Boat Festival"
MID_AUTUMN = "Mid-autumn Festival"
NATIONAL_DAY = "National Day"

SPRING_FESTIVAL_LAST_LUNAR_DAY = 7
LABOUR_DAY_DAYS = 5
NATIONAL_DAY_DAYS = 7


def cn_provisional_holidays(year: int) -> dict[date, str]:
    """Mainland China's provisional holidays of `year` (the rules in this module's docstring)."""
    days: dict[date, str] = {}

    def block(first: date, length: int, name: str) -> None:
        for i in range(length):
            days[first + timedelta(days=i)] = name

    block(date(year, 1, 1), 1, NEW_YEAR)
    block(spring_festival_eve(year), SPRING_FESTIVAL_LAST_LUNAR_DAY + 1, SPRING_FESTIVAL)
    block(date(year, 5, 1), LABOUR_DAY_DAYS, LABOUR_DAY)
    block(date(year, 10, 1), NATIONAL_DAY_DAYS, NATIONAL_DAY)
    single = {
        qingming(year): QINGMING,
        dragon_boat(year): DRAGON_BOAT,
        mid_autumn(year): MID_AUTUMN,
    }
    # The festival day keeps its own name inside a golden week (as chinese-calendar does for
    # Mid-Autumn 2025 inside National Day).
    days.update(single)
    for day, name in {date(year, 1, 1): NEW_YEAR, **single}.items():
        if day.weekday() >= 5:
            monday = day + timedelta(days=7 - day.weekday())
            days.setdefault(monday, name)
    # Every day lies in `year`: Spring Festival's eve is never before January 20.
    return dict(sorted(days.items()))


def no_provisional_holidays(year: int) -> dict[date, str]:
    """A region with no known rules: weekends only."""
    return {}


PROVISIONAL_RULES: Mapping[str, Callable[[int], dict[date, str]]] = {
    "CN": cn_provisional_holidays,
}


@cache
def _cached(region: str, year: int) -> Mapping[date, str]:
    return PROVISIONAL_RULES.get(region, no_provisional_holidays)(year)


def provisional_holidays(year: int, region: str = "CN") -> dict[date, str]:
    """The provisional holidays of a region-year (a copy; see the module docstring)."""
    return dict(_cached(region, year))


def provisional_holiday_name(d: date, region: str = "CN") -> str | None:
    """The provisional holiday on `d`, if any (cached per region-year)."""
    return _cached(region, d.year).get(d)
