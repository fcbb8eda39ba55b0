"""Instants given in a query: an RFC 3339 instant, a datetime without an offset, or a date.

Without an offset, a time is read in the service's default zone; a date is its day there, and
as the end of a range it includes that day (the range ends at the next midnight). Comparing a
naive time with the stored, zone-aware ones would fail, so none leaves here naive.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from followup.core.problems import Problem


def parse_instant(value: str, zone: ZoneInfo, *, end: bool, name: str) -> datetime:
    """A `from` (end=False) or `to` (end=True) bound in `zone`; 422 when it is neither a date
    (YYYY-MM-DD) nor an ISO 8601 datetime."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            return midnight + timedelta(days=1) if end else midnight
        t = datetime.fromisoformat(value)
    except ValueError:
        raise Problem(
            422, f"{name} must be a date (YYYY-MM-DD) or an RFC 3339 instant", value=value
        ) from None
    return t if t.tzinfo is not None else t.replace(tzinfo=zone)
