"""Official calendar data for more years and regions, read from files (no code change needed).

One file holds one region-year; JSON, or the same keys in TOML (README.md has the full format):

    {"region": "CN", "year": 2027, "source": "State Council notice ...",
     "holidays": {"2027-02-05": "Spring Festival", ...},
     "workdays": {"2027-02-07": "Spring Festival", ...}}

`holidays` are the days off, `workdays` the Saturdays and Sundays declared working days (调休);
either may be an object (date -> name) or a list of dates. Every problem is refused with the
file, the field and what is wrong: a typo must not silently shift deadlines.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

REQUIRED_KEYS = frozenset({"region", "year", "holidays"})
OPTIONAL_KEYS = frozenset({"workdays", "source"})
SUFFIXES = (".json", ".toml")
# Names given to the days of a plain list of dates.
LISTED_HOLIDAY = "Public holiday"
LISTED_WORKDAY = "Make-up working day"

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Upper case on purpose: a directory file for "cn" would otherwise be skipped without a word.
_REGION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


@dataclass(frozen=True)
class YearData:
    """One region-year of official data: its holidays and make-up working days, with names."""

    region: str
    year: int
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    source: str = ""


class CalendarDataError(ValueError):
    """Calendar data that cannot be used; the message names the file, the field and the problem."""

    def __init__(self, origin: str | Path, field: str, problem: str) -> None:
        self.origin, self.field, self.problem = str(origin), field, problem
        super().__init__(f"{origin}: {field}: {problem}")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; a date listed twice is a mistake to report.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def load_year(path: str | Path) -> YearData:
    """Reads and checks one region-year file (.json or .toml)."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise CalendarDataError(
            path, "(file)", f"unsupported file type; use {' or '.join(SUFFIXES)}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarDataError(path, "(file)", f"cannot read: {exc}") from None
    try:
        raw: Any = (
            tomllib.loads(text)
            if path.suffix == ".toml"
            else json.loads(text, object_pairs_hook=_no_duplicates)
        )
    except _DuplicateKey as dup:
        raise CalendarDataError(path, repr(dup.key), "the key appears twice") from None
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError, with line and column
        raise CalendarDataError(
            path, "(file)", f"not valid {path.suffix[1:].upper()}: {exc}"
        ) from None
    return parse_year(raw, str(path))


def parse_year(raw: Any, origin: str = "<data>") -> YearData:
    """Checks a decoded document (a dict) and returns its YearData."""

    def fail(field: str, problem: str) -> CalendarDataError:
        return CalendarDataError(origin, field, problem)

    if not isinstance(raw, dict):
        raise fail("(document)", "must be an object with region, year and holidays")
    unknown = sorted(set(raw) - REQUIRED_KEYS - OPTIONAL_KEYS)
    if unknown:
        allowed = ", ".join(sorted(REQUIRED_KEYS | OPTIONAL_KEYS))
        raise fail(", ".join(unknown), f"unknown key; the keys are {allowed}")
    missing = sorted(REQUIRED_KEYS - set(raw))
    if missing:
        raise fail(", ".join(missing), "required")
    region = raw["region"]
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise fail("region", f"{region!r} is not a region code such as 'CN' or 'CN-SH'")
    year = raw["year"]
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2199:
        raise fail("year", f"{year!r} is not a year (an integer 1900..2199)")
    source = raw.get("source", "")
    if not isinstance(source, str):
        raise fail("source", "must be a string")

    holidays = _days(raw["holidays"], "holidays", year, LISTED_HOLIDAY, fail)
    workdays = _days(raw.get("workdays", {}), "workdays", year, LISTED_WORKDAY, fail)
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise fail(f"workdays[{both[0].isoformat()}]", "the same day is also a holiday")
    for d in sorted(workdays):
        if d.weekday() < 5:
            raise fail(
                f"workdays[{d.isoformat()}]",
                f"a {d:%A}: a make-up working day must be a Saturday or a Sunday",
            )
    return YearData(region, year, holidays, workdays, source or origin)


def _days(
    value: Any,
    field: str,
    year: int,
    listed_name: str,
    fail: Callable[[str, str], CalendarDataError],
) -> dict[date, str]:
    if isinstance(value, list):
        pairs: list[tuple[Any, Any]] = [(item, listed_name) for item in value]
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise fail(field, "must map dates (YYYY-MM-DD) to names, or be a list of dates")
    out: dict[date, str] = {}
    for key, name in pairs:
        d = _date(key)
        label = f"{field}[{key}]"
        if d is None:
            raise fail(label, "not a date; write YYYY-MM-DD")
        if d.year != year:
            raise fail(label, f"outside the declared year {year}")
        if d in out:
            raise fail(label, "listed twice")
        if not isinstance(name, str) or not name.strip():
            raise fail(label, "the name must be a non-empty string")
        out[d] = name
    return out


def _date(value: Any) -> date | None:
    # TOML writes bare dates as date values; JSON and TOML keys are strings.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def data_files_in(directory: str | Path) -> list[Path]:
    """The .json and .toml files of a directory, in name order (hidden files skipped)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CalendarDataError(directory, "(directory)", "not a directory")
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith(".")
    )


def load_region_years(paths: Iterable[str | Path], region: str) -> list[YearData]:
    """The years of `region` in the given files and directories, each year from one file only."""
    # A directory may hold several regions' files and each calendar takes its own; a file named
    # on its own must be of `region` (asking for it and getting nothing would hide a mistake).
    found: dict[int, tuple[YearData, Path]] = {}
    for given in paths:
        given = Path(given)
        explicit = not given.is_dir()
        for path in [given] if explicit else data_files_in(given):
            data = load_year(path)
            if data.region != region:
                if explicit:
                    raise CalendarDataError(
                        path, "region", f"{data.region!r}, but the calendar is for {region!r}"
                    )
                continue
            if data.year in found:
                raise CalendarDataError(
                    path, "year", f"{data.year} of {region} is also in {found[data.year][1]}"
                )
            found[data.year] = (data, path)
    return [found[y][0] for y in sorted(found)]
