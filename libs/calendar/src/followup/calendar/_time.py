"""Time-zone plumbing shared by the deadline modules (private)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"
END_OF_DAY = time(23, 59, 59)

Zone = ZoneInfo | str | None
"""A zone: a ZoneInfo, an IANA name, or None for Asia/Shanghai."""


def zone(tz: Zone) -> ZoneInfo:
    """The ZoneInfo meant by `tz` (built on use, never at import)."""
    if isinstance(tz, ZoneInfo):
        return tz
    return ZoneInfo(tz or DEFAULT_ZONE)


def aware(dt: datetime) -> datetime:
    """`dt` itself; a naive datetime is refused rather than read as the server's local time."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, got naive {dt.isoformat()}")
    return dt


def local(dt: datetime, tz: ZoneInfo) -> datetime:
    """`dt` in `tz` (it must be aware)."""
    return aware(dt).astimezone(tz)


def start_of_day(d: date, tz: ZoneInfo) -> datetime:
    """00:00 local on `d`."""
    return datetime.combine(d, time(), tz)


def end_of_day_in(d: date, tz: ZoneInfo) -> datetime:
    """23:59:59 local on `d`."""
    return datetime.combine(d, END_OF_DAY, tz)


def elapsed(a: datetime, b: datetime) -> timedelta:
    """The real time from `a` to `b`.

    Python subtracts two datetimes of the same tzinfo on their wall clocks, which is wrong
    across a DST change; going through UTC counts the hours that really passed.
    """
    return b.astimezone(UTC) - a.astimezone(UTC)


def after(a: datetime, seconds: float, tz: ZoneInfo) -> datetime:
    """The instant `seconds` of real time after `a`, in `tz`."""
    return (a.astimezone(UTC) + timedelta(seconds=seconds)).astimezone(tz)
