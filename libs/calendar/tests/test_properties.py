"""Properties that hold for every start, zone and count (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from followup.calendar import (
    add_months_clamped,
    add_working_seconds,
    default_calendar,
    end_of_calendar_days,
    end_of_working_days,
    merge_intervals,
    shift_deadline_by_working_time,
    working_seconds_between,
)

CAL = default_calendar()
ZONES = st.sampled_from(
    [ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")]
)
INSTANTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2029, 12, 31), timezones=st.just(UTC)
)


@given(INSTANTS, st.integers(min_value=1, max_value=20), ZONES)
def test_working_day_deadlines_follow_the_start_grow_with_n_and_end_a_working_day(
    start: datetime, n: int, tz: ZoneInfo
) -> None:
    d_n = end_of_working_days(start, n, tz, CAL)
    d_next = end_of_working_days(start, n + 1, tz, CAL)
    assert d_n.at >= start
    assert d_next.at > d_n.at
    assert CAL.is_working_day(d_n.at.date())
    assert d_n.at.time() == time(23, 59, 59) and d_n.at.tzinfo is tz
    assert d_next.provisional >= d_n.provisional  # more days counted, never less provisional


@given(INSTANTS, st.integers(min_value=0, max_value=30), ZONES)
def test_calendar_day_deadlines_never_precede_the_start_and_end_a_working_day(
    start: datetime, days: int, tz: ZoneInfo
) -> None:
    d = end_of_calendar_days(start, days, tz, CAL)
    assert d.at >= start
    assert d.at.date() >= start.astimezone(tz).date() + timedelta(days=days)
    assert CAL.is_working_day(d.at.date())


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)), st.integers(0, 48))
def test_months_never_overshoot_the_anchor_day(d: date, months: int) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    out = add_months_clamped(datetime.combine(d, time(10), tz), months, tz)
    assert out.day <= d.day
    assert (out.year * 12 + out.month) - (d.year * 12 + d.month) == months
    assert out.time() == time(10)
    if d.day <= 28:
        assert out.day == d.day


@given(st.lists(st.tuples(INSTANTS, st.integers(0, 10 * 86400)), max_size=8))
def test_merged_intervals_are_sorted_disjoint_and_cover_every_input(
    raw: list[tuple[datetime, int]],
) -> None:
    intervals = [(s, s + timedelta(seconds=n)) for s, n in raw]
    merged = merge_intervals(intervals)
    assert all(a[1] < b[0] for a, b in pairwise(merged))
    for s, e in intervals:
        assert s == e or any(ms <= s and e <= me for ms, me in merged)


@settings(deadline=None)
@given(INSTANTS, st.integers(0, 20 * 86400), ZONES)
def test_adding_working_seconds_then_counting_them_gives_them_back(
    start: datetime, seconds: int, tz: ZoneInfo
) -> None:
    end = add_working_seconds(start, seconds, tz, CAL)
    assert end >= start
    assert working_seconds_between(start, end, tz, CAL) == seconds


@settings(deadline=None)
@given(INSTANTS, st.integers(0, 10 * 86400), st.integers(0, 10 * 86400))
def test_more_paused_time_never_makes_a_deadline_earlier(start: datetime, a: int, b: int) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    deadline = end_of_working_days(start, 3, tz, CAL)
    small = shift_deadline_by_working_time(deadline.at, min(a, b), tz, CAL)
    large = shift_deadline_by_working_time(deadline.at, max(a, b), tz, CAL)
    assert deadline.at <= small.at <= large.at
    assert CAL.is_working_day(large.at.date())
