"""Lunar festivals and the Qingming solar term for any year 1900–2099: computed, never tabled."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

from lunardate import LunarDate

# lunardate's tables cover lunar years 1900..2099; the Qingming formula is checked for the same.
FIRST_YEAR = 1900
LAST_YEAR = 2099


def _check_year(year: int, what: str) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"{what} is computed for {FIRST_YEAR}..{LAST_YEAR}, not {year}")


# Cached: planning asks for the same few festivals of the same years again and again.
@cache
def lunar_to_solar(year: int, month: int, day: int) -> date:
    """The Gregorian date of lunar month/day (not a leap month) in lunar year `year`."""
    _check_year(year, "the lunar calendar")
    solar: date = LunarDate(year, month, day).to_solar_date()
    return solar


def spring_festival(year: int) -> date:
    """Spring Festival (春节): lunar 1/1 of `year`."""
    return lunar_to_solar(year, 1, 1)


def spring_festival_eve(year: int) -> date:
    """New Year's Eve (除夕): the day before lunar 1/1, whether lunar 12/29 or 12/30."""
    return spring_festival(year) - timedelta(days=1)


def dragon_boat(year: int) -> date:
    """Dragon Boat Festival (端午): lunar 5/5 of `year`."""
    return lunar_to_solar(year, 5, 5)


def mid_autumn(year: int) -> date:
    """Mid-Autumn Festival (中秋): lunar 8/15 of `year`."""
    return lunar_to_solar(year, 8, 15)


@cache
def qingming(year: int) -> date:
    """Qingming (清明), the day the sun reaches 15° longitude in Beijing time: April 4, 5 or 6."""
    _check_year(year, "Qingming")
    # The usual [Y*D + C] - L formula. L counts the leap years of the century so far, Y // 4
    # for a term after February (2000 and 1900 are counted by C). Checked against an
    # astronomical computation for every year 1900..2099 (see tests).
    y = year % 100
    c = 4.81 if year >= 2000 else 5.59
    return date(year, 4, int(y * 0.2422 + c) - y // 4)
