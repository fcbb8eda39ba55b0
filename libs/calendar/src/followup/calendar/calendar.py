"""The business calendar: which days are working days, per region, official or provisional."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType

from followup.calendar.data_file import CalendarDataError, YearData, load_region_years
from followup.calendar.official import chinese_calendar_years
from followup.calendar.provisional import provisional_holiday_name

DEFAULT_REGION = "CN"
CALENDAR_DIR_ENV = "FOLLOWUP_CALENDAR_DIR"


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days of one region: years with official data as published, the rest provisional.

    Weekends and public holidays are off; official make-up working days (调休) are on.
    Immutable: every `with_...` method returns a new calendar.
    """

    region: str = DEFAULT_REGION
    official: Mapping[int, YearData] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for year, data in self.official.items():
            if (data.region, data.year) != (self.region, year):
                raise ValueError(f"{data.region} {data.year} data filed as {self.region} {year}")
        # A private read-only copy: the caller's dict cannot change this calendar later.
        object.__setattr__(self, "official", MappingProxyType(dict(self.official)))

    def __repr__(self) -> str:
        years = sorted(self.official)
        span = f"{years[0]}..{years[-1]}" if years else "none"
        return f"BusinessCalendar(region={self.region!r}, official years {span}: {len(years)})"

    @classmethod
    def load(
        cls,
        paths: Iterable[str | Path] = (),
        region: str = DEFAULT_REGION,
        *,
        library: bool = True,
    ) -> BusinessCalendar:
        """A region's calendar: chinese-calendar's years (CN) overridden by the files given."""
        cal = cls(region)
        if library and region == DEFAULT_REGION:
            cal = cal.with_years(chinese_calendar_years())
        return cal.with_data_files(paths)

    def with_year(self, data: YearData) -> BusinessCalendar:
        """A calendar where `data` is the official schedule of its year (replacing any other)."""
        if data.region != self.region:
            raise ValueError(f"data for region {data.region}, calendar is {self.region}")
        return BusinessCalendar(self.region, {**self.official, data.year: data})

    def with_years(self, years: Iterable[YearData]) -> BusinessCalendar:
        """A calendar with each of `years` made official."""
        official = dict(self.official)
        for data in years:
            if data.region != self.region:
                raise ValueError(f"data for region {data.region}, calendar is {self.region}")
            official[data.year] = data
        return BusinessCalendar(self.region, official)

    def with_data_file(self, path: str | Path) -> BusinessCalendar:
        """A calendar with the year of one data file made official (it must be this region's)."""
        return self.with_data_files([path])

    def with_data_files(self, paths: Iterable[str | Path]) -> BusinessCalendar:
        """A calendar with the years of these files (and of this region's files in directories)."""
        return self.with_years(load_region_years(paths, self.region))

    def years_official(self) -> set[int]:
        """The years with official data."""
        return set(self.official)

    def year_data(self, year: int) -> YearData | None:
        """The official data of `year`, if any."""
        return self.official.get(year)

    def is_official(self, year: int) -> bool:
        """Whether `year` has official data."""
        return year in self.official

    def is_provisional(self, d: date) -> bool:
        """Whether `d` is judged on the provisional calendar (its year has no official data)."""
        return d.year not in self.official

    def any_provisional(self, first: date, last: date) -> bool:
        """Whether any day from `first` to `last` (inclusive) is provisional."""
        return any(y not in self.official for y in range(first.year, last.year + 1))

    def holiday_name(self, d: date) -> str | None:
        """The public holiday on `d` (official, else provisional), or None."""
        data = self.official.get(d.year)
        if data is not None:
            return data.holidays.get(d)
        return provisional_holiday_name(d, self.region)

    def is_holiday(self, d: date) -> bool:
        """Whether `d` is a public holiday (official or provisional)."""
        return self.holiday_name(d) is not None

    def is_make_up_workday(self, d: date) -> bool:
        """Whether `d` is a Saturday or Sunday officially declared a working day (调休)."""
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

    def previous_working_day(self, d: date) -> date:
        """The last working day before `d`."""
        d -= timedelta(days=1)
        while not self.is_working_day(d):
            d -= timedelta(days=1)
        return d

    def holiday_block_start(self, d: date) -> date:
        """The first day of the run of days off that contains `d` (`d` itself if it works)."""
        if self.is_working_day(d):
            return d
        return self.previous_working_day(d) + timedelta(days=1)


@cache
def _default(directory: str | None) -> BusinessCalendar:
    if directory is None:
        return BusinessCalendar.load()
    if not Path(directory).is_dir():
        raise CalendarDataError(directory, CALENDAR_DIR_ENV, "not a directory")
    return BusinessCalendar.load([directory])


def default_calendar(*, reload: bool = False) -> BusinessCalendar:
    """Mainland China: chinese-calendar's years plus the CN files in $FOLLOWUP_CALENDAR_DIR."""
    # The environment is read here, never at import; `reload` re-reads changed files.
    if reload:
        _default.cache_clear()
    return _default(os.environ.get(CALENDAR_DIR_ENV) or None)
