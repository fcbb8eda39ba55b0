"""The business calendar: which days are working days, per region, official or provisional."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from followup.calendar.festivals import (
    dragon_boat,
    mid_autumn,
    qingming,
    spring_festival_eve,
)


def provisional_holidays(year: int) -> dict[date, str]:
    """The statutory holidays of a year with no published schedule (SPEC §2).

    Only the statutory days themselves: New Year's Day, Spring Festival eve and lunar 1/1–1/3,
    Qingming, Labour Day 5/1–5/2, Dragon Boat, Mid-Autumn, National Day 10/1–10/3. The bridging
    days and make-up working days of an official schedule are not guessed.
    """
    days: dict[date, str] = {date(year, 1, 1): "New Year's Day"}
    eve = spring_festival_eve(year)
    for i in range(4):
        days[eve + timedelta(days=i)] = "Spring Festival"
    days[qingming(year)] = "Tomb-sweeping Day"
    days[date(year, 5, 1)] = days[date(year, 5, 2)] = "Labour Day"
    days[dragon_boat(year)] = "Dragon Boat Festival"
    days[mid_autumn(year)] = "Mid-autumn Festival"
    for d in (1, 2, 3):
        days[date(year, 10, d)] = "National Day"
    # The eve of a Spring Festival falling on Jan 1..2 belongs to the previous year.
    return {d: name for d, name in days.items() if d.year == year}


@dataclass(frozen=True)
class YearData:
    """One region-year of official data: holidays and make-up working days."""

    region: str
    year: int
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    source: str = ""


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days of one region: official years from data, other years provisional."""

    region: str = "CN"
    official: Mapping[int, YearData] = field(default_factory=dict)

    def with_year(self, data: YearData) -> BusinessCalendar:
        """A calendar where `data` is the official schedule of its year."""
        if data.region != self.region:
            raise ValueError(f"data for region {data.region}, calendar is {self.region}")
        return BusinessCalendar(self.region, {**self.official, data.year: data})

    def with_data_files(self, paths: Iterable[Path]) -> BusinessCalendar:
        """A calendar with each file's year made official (see data_file.load_year)."""
        from followup.calendar.data_file import load_year

        cal = self
        for path in paths:
            data = load_year(path)
            if data.region == self.region:
                cal = cal.with_year(data)
        return cal

    def years_official(self) -> set[int]:
        """The years with official data."""
        return set(self.official)

    def is_official(self, year: int) -> bool:
        """Whether `year` has a published schedule."""
        return year in self.official

    def is_provisional(self, d: date) -> bool:
        """Whether `d` is judged on the provisional calendar."""
        return d.year not in self.official

    def holiday_name(self, d: date) -> str | None:
        """The public holiday on `d`, if any."""
        data = self.official.get(d.year)
        if data is not None:
            return data.holidays.get(d)
        return _provisional(d.year).get(d)

    def is_holiday(self, d: date) -> bool:
        """A public holiday (official or provisional)."""
        return self.holiday_name(d) is not None

    def is_make_up_workday(self, d: date) -> bool:
        """An official weekend day declared a working day (调休)."""
        data = self.official.get(d.year)
        return data is not None and d in data.workdays

    def is_working_day(self, d: date) -> bool:
        """Weekends and holidays are off; official make-up working days are on."""
        if self.is_make_up_workday(d):
            return True
        return d.weekday() < 5 and not self.is_holiday(d)

    def next_working_day(self, d: date) -> date:
        """The first working day after `d`."""
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def holiday_block_start(self, d: date) -> date:
        """The first day of the run of days off that contains `d` (`d` itself if working)."""
        while not self.is_working_day(d - timedelta(days=1)) and not self.is_working_day(d):
            d -= timedelta(days=1)
        return d


@cache
def _provisional(year: int) -> dict[date, str]:
    return provisional_holidays(year)


def chinese_calendar_years() -> list[YearData]:
    """Official mainland China data from the chinese-calendar package, one entry per year."""
    from chinese_calendar.constants import holidays, workdays

    years: dict[int, tuple[dict[date, str], dict[date, str]]] = {}
    for d, name in holidays.items():
        years.setdefault(d.year, ({}, {}))[0][d] = str(name)
    for d, name in workdays.items():
        years.setdefault(d.year, ({}, {}))[1][d] = str(name)
    return [YearData("CN", y, h, w, "chinese-calendar") for y, (h, w) in sorted(years.items())]


@cache
def _default(directory: str | None) -> BusinessCalendar:
    cal = BusinessCalendar("CN")
    for data in chinese_calendar_years():
        cal = cal.with_year(data)
    if directory:
        files = sorted(p for p in Path(directory).iterdir() if p.suffix in (".json", ".toml"))
        cal = cal.with_data_files(files)
    return cal


def default_calendar() -> BusinessCalendar:
    """Mainland China: chinese-calendar's official years plus files in FOLLOWUP_CALENDAR_DIR."""
    return _default(os.environ.get("FOLLOWUP_CALENDAR_DIR") or None)
