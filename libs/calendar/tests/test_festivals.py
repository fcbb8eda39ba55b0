"""Lunar festivals and Qingming, computed for any year 1900–2099."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest

from followup.calendar import (
    dragon_boat,
    lunar_to_solar,
    mid_autumn,
    qingming,
    spring_festival,
    spring_festival_eve,
)


def test_spring_festival_and_mid_autumn_fall_on_lunar_1_1_and_8_15() -> None:
    assert spring_festival(2026) == date(2026, 2, 17)
    assert spring_festival(2027) == date(2027, 2, 6)
    assert mid_autumn(2027) == date(2027, 9, 15)
    assert spring_festival(2030) == date(2030, 2, 3)
    assert mid_autumn(2030) == date(2030, 9, 12)
    assert dragon_boat(2027) == date(2027, 6, 9)
    assert spring_festival(1900) == date(1900, 1, 31)
    assert mid_autumn(2099) == date(2099, 9, 29)


def test_new_years_eve_is_the_last_day_of_the_lunar_year_whether_29th_or_30th() -> None:
    assert spring_festival_eve(2027) == date(2027, 2, 5)
    assert lunar_to_solar(2026, 12, 29) == date(2027, 2, 5)  # a 29-day twelfth month
    assert spring_festival_eve(2030) == date(2030, 2, 2)
    assert lunar_to_solar(2029, 12, 30) == date(2030, 2, 2)  # a 30-day twelfth month


def test_qingming_matches_published_dates() -> None:
    assert qingming(2026) == date(2026, 4, 5)
    assert qingming(2027) == date(2027, 4, 5)
    assert qingming(2028) == date(2028, 4, 4)
    assert qingming(2008) == date(2008, 4, 4)
    assert qingming(1996) == date(1996, 4, 4)  # a 20th-century leap year
    assert qingming(1900) == date(1900, 4, 5)


def test_years_outside_1900_to_2099_are_refused() -> None:
    for year in (1899, 2100):
        with pytest.raises(ValueError, match=r"1900\.\.2099"):
            spring_festival(year)
        with pytest.raises(ValueError, match=r"1900\.\.2099"):
            qingming(year)


def _sun_longitude(when: datetime) -> float:
    # Meeus, Astronomical Algorithms ch. 25, low accuracy (about 0.01°, some 15 minutes).
    t = ((when - datetime(2000, 1, 1, 12)).total_seconds() / 86400) / 36525
    mean = 280.46646 + 36000.76983 * t + 0.0003032 * t * t
    m = math.radians(357.52911 + 35999.05029 * t - 0.0001537 * t * t)
    centre = (
        (1.914602 - 0.004817 * t - 0.000014 * t * t) * math.sin(m)
        + (0.019993 - 0.000101 * t) * math.sin(2 * m)
        + 0.000289 * math.sin(3 * m)
    )
    omega = math.radians(125.04 - 1934.136 * t)
    return (mean + centre - 0.00569 - 0.00478 * math.sin(omega)) % 360


def _qingming_instant_beijing(year: int) -> datetime:
    lo, hi = datetime(year, 3, 30), datetime(year, 4, 10)  # UTC, longitude 9° .. 20°
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        lo, hi = (lo, mid) if _sun_longitude(mid) >= 15 else (mid, hi)
    return lo + timedelta(hours=8)


def test_the_qingming_formula_agrees_with_the_sun_for_every_year_1900_to_2099() -> None:
    checked = 0
    for year in range(1900, 2100):
        instant = _qingming_instant_beijing(year)
        from_midnight = instant - datetime.combine(instant.date(), datetime.min.time())
        if min(from_midnight, timedelta(days=1) - from_midnight) < timedelta(minutes=20):
            continue  # too close to midnight for a 15-minute method (1910, 1943, 1976, 2071)
        assert qingming(year) == instant.date(), year
        checked += 1
    assert checked == 196
