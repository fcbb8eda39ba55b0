"""Official calendar data for more years and regions, loaded from a file (no code change).

Format (JSON, or the same keys in TOML):

    {"region": "CN", "year": 2027,
     "holidays": {"2027-02-05": "Spring Festival", ...},
     "workdays": {"2027-02-07": "Spring Festival", ...}}

`holidays` are days off, `workdays` weekend days declared working days (调休). Every date must
lie in `year`; a day cannot be both; unknown keys are refused (a typo must not pass silently).
"""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from followup.calendar.calendar import YearData

_KEYS = {"region", "year", "holidays", "workdays", "source"}


class CalendarDataError(ValueError):
    """A calendar data file that cannot be used; the message names the file and the field."""


def load_year(path: Path) -> YearData:
    """Reads and checks one region-year file."""
    try:
        text = path.read_text(encoding="utf-8")
        raw: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CalendarDataError(f"{path}: cannot read: {exc}") from None
    return parse_year(raw, str(path))


def parse_year(raw: Any, origin: str = "<data>") -> YearData:
    """Checks a decoded document and returns its YearData."""

    def fail(field: str, problem: str) -> CalendarDataError:
        return CalendarDataError(f"{origin}: {field}: {problem}")

    if not isinstance(raw, dict):
        raise fail("(document)", "must be an object with region, year, holidays, workdays")
    unknown = set(raw) - _KEYS
    if unknown:
        raise fail(", ".join(sorted(unknown)), f"unknown key(s); allowed: {sorted(_KEYS)}")
    region = raw.get("region")
    if not isinstance(region, str) or not region:
        raise fail("region", "required, a non-empty string such as 'CN'")
    year = raw.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2199:
        raise fail("year", "required, an integer year")

    def days(field: str) -> dict[date, str]:
        value = raw.get(field, {})
        if isinstance(value, list):
            value = {d: field for d in value}
        if not isinstance(value, dict):
            raise fail(field, "must map ISO dates to names (or be a list of ISO dates)")
        out: dict[date, str] = {}
        for key, name in value.items():
            try:
                d = date.fromisoformat(str(key))
            except ValueError:
                raise fail(f"{field}.{key}", "not an ISO date (YYYY-MM-DD)") from None
            if d.year != year:
                raise fail(f"{field}.{key}", f"outside the declared year {year}")
            if not isinstance(name, str):
                raise fail(f"{field}.{key}", "the name must be a string")
            out[d] = name
        return out

    holidays, workdays = days("holidays"), days("workdays")
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise fail("workdays", f"{both[0].isoformat()} is also a holiday")
    for d in workdays:
        if d.weekday() < 5:
            raise fail(f"workdays.{d.isoformat()}", "a make-up working day must be a weekend day")
    return YearData(region, year, holidays, workdays, str(raw.get("source", origin)))
