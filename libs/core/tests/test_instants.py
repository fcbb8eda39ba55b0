"""Query bounds: dates and times without an offset are read in the given zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from followup.core.instants import parse_instant
from followup.core.problems import Problem

SH = ZoneInfo("Asia/Shanghai")


def test_a_date_is_its_day_in_the_zone_and_as_an_end_includes_it() -> None:
    assert parse_instant("2027-02-01", SH, end=False, name="from") == datetime(
        2027, 2, 1, tzinfo=SH
    )
    assert parse_instant("2027-02-01", SH, end=True, name="to") == datetime(2027, 2, 2, tzinfo=SH)


def test_a_time_without_offset_is_read_in_the_zone_and_one_with_an_offset_as_given() -> None:
    naive = parse_instant("2027-02-01T09:30:00", SH, end=True, name="to")
    assert naive == datetime(2027, 2, 1, 9, 30, tzinfo=SH)
    aware = parse_instant("2027-02-01T09:30:00Z", SH, end=True, name="to")
    assert aware == datetime(2027, 2, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("value", ["2027-02-30", "soon", "2027-02-01T24:01"])
def test_anything_else_is_a_422_naming_the_bound(value: str) -> None:
    with pytest.raises(Problem) as raised:
        parse_instant(value, SH, end=False, name="from")
    assert raised.value.status == 422
    assert "from must be a date" in str(raised.value)
