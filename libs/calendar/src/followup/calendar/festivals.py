"""Lunar festivals and solar terms for any year (1900–2099): computed, never looked up."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

from lunardate import LunarDate


@cache
def lunar_to_solar(year: int, month: int, day: int) -> date:
    """The Gregorian date of a lunar date in the (lunar) year."""
    solar: date = LunarDate(year, month, day).to_solar_date()
    return solar


def spring_festival(year: int) -> date:
    """Lunar 1/1 of `year`."""
    return lunar_to_solar(year, 1, 1)


def spring_festival_eve(year: int) -> date:
    """The day before lunar 1/1 (除夕), whether lunar 12/29 or 12/30."""
    return spring_festival(year) - timedelta(days=1)


def dragon_boat(year: int) -> date:
    """Lunar 5/5 of `year`."""
    return lunar_to_solar(year, 5, 5)


def mid_autumn(year: int) -> date:
    """Lunar 8/15 of `year`."""
    return lunar_to_solar(year, 8, 15)


@cache
def qingming(year: int) -> date:
    """Qingming (清明) solar term: April 4, 5 or 6; the common 'Y*D+C-L' formula."""
    if not 1900 <= year <= 2099:
        raise ValueError(f"qingming is computed for 1900..2099, not {year}")
    y = year % 100
    c = 4.81 if year >= 2000 else 5.59
    leap_corr = y // 4 if year >= 2000 else (y - 1) // 4
    return date(year, 4, int(y * 0.2422 + c) - leap_corr)
