"""Official mainland China schedules from the chinese-calendar package (2004–2026 in 1.11)."""

from __future__ import annotations

from datetime import date
from importlib.metadata import PackageNotFoundError, version

from followup.calendar.data_file import YearData


def _package_version() -> str:
    try:
        return version("chinese-calendar")
    except PackageNotFoundError:  # pragma: no cover - installed as a dependency
        return "unknown"


def chinese_calendar_years() -> list[YearData]:
    """One YearData per year chinese-calendar publishes, read from its tables."""
    # The years come from the package's own tables, not a fixed range, so upgrading it (each
    # release adds the year the State Council has just published) extends the official range
    # with no change here. Outside its range chinese-calendar raises NotImplementedError; we
    # never ask it about a day, only read its tables.
    from chinese_calendar.constants import holidays, workdays

    source = f"chinese-calendar {_package_version()}"
    years: dict[int, tuple[dict[date, str], dict[date, str]]] = {}
    for d, name in holidays.items():
        years.setdefault(d.year, ({}, {}))[0][d] = str(name)
    for d, name in workdays.items():
        years.setdefault(d.year, ({}, {}))[1][d] = str(name)
    return [YearData("CN", y, h, w, source) for y, (h, w) in sorted(years.items())]
