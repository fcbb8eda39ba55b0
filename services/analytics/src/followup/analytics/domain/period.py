"""What a question is asked over and how its answers count: the period, exact ratios and
nearest-rank percentiles.

Percentiles are nearest-rank: the p-th percentile of n values is the ceil(p/100 * n)-th
smallest (a value that occurred, never an interpolation). Ratios are exact `Fraction`s and are
compared with their targets unrounded; an empty denominator gives None.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Period:
    """The half-open interval [start, end)."""

    start: datetime
    end: datetime

    def holds(self, t: datetime) -> bool:
        """Whether `t` falls in the period."""
        return self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class Ratio:
    """numerator / denominator, kept exact."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        """The exact ratio; None when nothing is in the denominator."""
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    def meets(self, target: Fraction) -> bool | None:
        """Whether the unrounded ratio reaches `target`; None without a denominator."""
        value = self.value
        return None if value is None else value >= target


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Nearest-rank p50 and p90 of durations, in hours; None when there are none."""

    count: int
    p50_hours: float | None
    p90_hours: float | None


def nearest_rank(values: list[float], p: int) -> float | None:
    """The nearest-rank p-th percentile: the ceil(p/100 * n)-th smallest value (1-based)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return ordered[rank - 1]


def percentiles(durations: Iterable[timedelta]) -> Percentiles:
    """p50/p90 of the durations, in hours."""
    hours = [d.total_seconds() / 3600 for d in durations]
    return Percentiles(len(hours), nearest_rank(hours, 50), nearest_rank(hours, 90))


def month_period(year: int, month: int, zone: ZoneInfo) -> Period:
    """The calendar month in the zone."""
    start = datetime(year, month, 1, tzinfo=zone)
    return Period(start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone))


def month_holding(t: datetime, zone: ZoneInfo) -> Period:
    """The calendar month in the zone that holds `t`."""
    local = t.astimezone(zone)
    return month_period(local.year, local.month, zone)


def days_ending_with(t: datetime, days: int, zone: ZoneInfo) -> Period:
    """The `days` local days ending with the day of `t`."""
    local = t.astimezone(zone)
    tomorrow = datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=1)
    return Period(tomorrow - timedelta(days=days), tomorrow)
