"""The business calendar: which days are working days, per region, official or provisional."""

from __future__ import annotations

import hashlib
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


class _DayMemo:
    """Answers a calendar has already worked out, keyed by proleptic ordinal.

    Planning asks the same few hundred days the same questions for every customer (is it a
    working day, which is the next one, the Nth after it); a dict lookup per question instead
    of holiday tables, provisional rules and date arithmetic each time is what makes planning
    thousands of customers a second possible. Only ever filled from the calendar's own
    (immutable) data, so it can never disagree with it.
    """

    __slots__ = (
        "fingerprints",
        "next_working",
        "nth_after",
        "on_or_after",
        "working",
        "years",
    )

    def __init__(self) -> None:
        self.working: dict[int, bool] = {}  # ordinal -> working day?
        self.years: set[int] = set()  # years whose days are all in `working`
        self.next_working: dict[int, date] = {}  # ordinal -> first working day after it
        self.on_or_after: dict[int, date] = {}  # ordinal -> first working day from it on
        self.nth_after: dict[tuple[int, int], date] = {}  # (ordinal, n) -> Nth working after
        self.fingerprints: dict[int, str] | None = None


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days of one region: years with official data as published, the rest provisional.

    Weekends and public holidays are off; official make-up working days (调休) are on.
    Immutable: every `with_...` method returns a new calendar.
    """

    region: str = DEFAULT_REGION
    official: Mapping[int, YearData] = field(default_factory=dict, repr=False)
    _memo: _DayMemo = field(default_factory=_DayMemo, init=False, repr=False, compare=False)

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

    def official_fingerprints(self) -> dict[int, str]:
        """Per official year, a digest of its days off and make-up working days.

        Names and sources are left out: only which days work can change a deadline. A service
        stores these next to its deadlines to notice, after a restart, that official data was
        loaded or corrected, and recompute what was counted on the old days.
        """
        memo = self._memo
        if memo.fingerprints is None:
            out = {}
            for year, data in sorted(self.official.items()):
                text = "holidays:" + ",".join(d.isoformat() for d in sorted(data.holidays))
                text += ";workdays:" + ",".join(d.isoformat() for d in sorted(data.workdays))
                out[year] = hashlib.sha256(text.encode()).hexdigest()[:32]
            memo.fingerprints = out
        return dict(memo.fingerprints)

    def year_data(self, year: int) -> YearData | None:
        """The official data of `year`, if any."""
        return self.official.get(year)

    def is_official(self, year: int) -> bool:
        """Whether `year` has official data."""
        return year in self.official

    def next_year_reported_official(self, today: date) -> bool:
        """What `followup_calendar_next_year_official` reports on `today`: False only from
        November 1 while next year has no official data (SPEC §11), when it should be out."""
        return today.month < 11 or self.is_official(today.year + 1)

    def is_provisional(self, d: date) -> bool:
        """Whether `d` is judged on the provisional calendar (its year has no official data)."""
        return d.year not in self.official

    def any_provisional(self, first: date, last: date) -> bool:
        """Whether any day from `first` to `last` (inclusive) is provisional."""
        if first.year == last.year:  # nearly always: deadlines are days, not years, away
            return first.year not in self.official
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

    def _judge_day(self, d: date) -> bool:
        # The rule itself; is_working_day reads its answers from the per-year memo.
        if self.is_make_up_workday(d):
            return True
        return d.weekday() < 5 and not self.is_holiday(d)

    def _working_ordinal(self, o: int) -> bool:
        memo = self._memo
        found = memo.working.get(o)
        if found is None:
            year = date.fromordinal(o).year
            if year in memo.years:  # pragma: no cover - every day of a judged year is stored
                raise AssertionError(f"day {o} missing from judged year {year}")
            first = date(year, 1, 1)
            judged = {}
            try:
                for i in range((date(year + 1, 1, 1) - first).days):
                    day = first + timedelta(days=i)
                    judged[day.toordinal()] = self._judge_day(day)
            except ValueError:
                # A year the provisional rules cannot compute (outside 1900..2099): judge the
                # one day asked, so a weekend still answers and a weekday raises as it always did.
                return self._judge_day(date.fromordinal(o))
            memo.working.update(judged)
            memo.years.add(year)
            found = judged[o]
        return found

    def is_working_day(self, d: date) -> bool:
        """Weekends and holidays are off; official make-up working days are on."""
        return self._working_ordinal(d.toordinal())

    def next_working_day(self, d: date) -> date:
        """The first working day after `d`."""
        o = d.toordinal()
        found = self._memo.next_working.get(o)
        if found is None:
            n = o + 1
            while not self._working_ordinal(n):
                n += 1
            found = self._memo.next_working[o] = date.fromordinal(n)
        return found

    def working_day_on_or_after(self, d: date) -> date:
        """`d` if it is a working day, else the first working day after it."""
        o = d.toordinal()
        found = self._memo.on_or_after.get(o)
        if found is None:
            found = d if self._working_ordinal(o) else self.next_working_day(d)
            self._memo.on_or_after[o] = found
        return found

    def nth_working_day_after(self, d: date, n: int) -> date:
        """The Nth working day after `d` (`d` itself not counted); n >= 1."""
        key = (d.toordinal(), n)
        found = self._memo.nth_after.get(key)
        if found is None:
            found = d
            for _ in range(n):
                found = self.next_working_day(found)
            self._memo.nth_after[key] = found
        return found

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
