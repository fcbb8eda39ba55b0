"""Data files: more years and regions without code changes; malformed files refused clearly."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followup.calendar import (
    BusinessCalendar,
    CalendarDataError,
    default_calendar,
    end_of_working_days,
    holiday_care_deadline_date,
    load_year,
)

SH = ZoneInfo("Asia/Shanghai")
DATA = Path(__file__).resolve().parents[1] / "data"
CAL = default_calendar()

# A test fixture shaped like an official notice; NOT the real 2027 schedule: Mid-Autumn
# (Wednesday 09-15) with Tuesday 09-14 bridged and Saturday 09-11 worked instead.
CN_2027_FIXTURE = {
    "region": "CN",
    "year": 2027,
    "source": "test fixture",
    "holidays": {"2027-09-14": "Mid-autumn Festival", "2027-09-15": "Mid-autumn Festival"},
    "workdays": {"2027-09-11": "Mid-autumn Festival"},
}


def write(path: Path, doc: object) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def test_loading_a_2027_file_makes_2027_official_and_changes_its_deadlines(tmp_path: Path) -> None:
    cal = CAL.with_data_file(write(tmp_path / "cn-2027.json", CN_2027_FIXTURE))
    assert cal.is_official(2027) and not CAL.is_official(2027)
    assert cal.is_working_day(date(2027, 9, 11))  # the make-up Saturday
    assert not cal.is_working_day(date(2027, 9, 14))  # the bridged Tuesday
    friday = datetime(2027, 9, 10, 17, tzinfo=SH)
    before = end_of_working_days(friday, 1, SH, CAL)
    after = end_of_working_days(friday, 1, SH, cal)
    assert before.provisional and before.at.date() == date(2027, 9, 13)
    assert not after.provisional and after.at.date() == date(2027, 9, 11)
    # holiday_care: the day before the festival without data; before the holiday with it.
    assert holiday_care_deadline_date(date(2027, 9, 15), CAL) == date(2027, 9, 14)
    assert holiday_care_deadline_date(date(2027, 9, 15), cal) == date(2027, 9, 13)


def test_a_file_replaces_the_library_data_of_its_year(tmp_path: Path) -> None:
    doc = {"region": "CN", "year": 2026, "holidays": {"2026-03-02": "Correction"}}
    cal = BusinessCalendar.load([write(tmp_path / "cn-2026.json", doc)])
    assert not cal.is_working_day(date(2026, 3, 2))
    assert cal.is_working_day(date(2026, 2, 17))  # the whole year comes from the file


def test_the_shipped_examples_load_for_their_fictitious_region() -> None:
    cal = BusinessCalendar.load([DATA], region="XX")
    assert cal.years_official() == {2027, 2028}
    assert cal.holiday_name(date(2027, 2, 5)) == "Example Festival"
    assert cal.is_working_day(date(2027, 2, 13))  # a make-up Saturday
    assert not cal.is_working_day(date(2028, 3, 1))
    assert cal.is_working_day(date(2028, 3, 4))  # listed as a plain date in TOML
    # The directory holds no mainland China data, so CN is untouched.
    assert BusinessCalendar.load([DATA]).years_official() == CAL.years_official()


def test_a_toml_file_may_write_dates_bare(tmp_path: Path) -> None:
    path = tmp_path / "xx-2029.toml"
    path.write_text(
        'region = "XX"\nyear = 2029\nworkdays = [2029-03-03]\n\n'
        '[holidays]\n2029-03-01 = "Example Day"\n'
    )
    data = load_year(path)
    assert data.holidays == {date(2029, 3, 1): "Example Day"}
    assert data.workdays == {date(2029, 3, 3): "Make-up working day"}


def test_a_file_named_for_another_region_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "xx.json", {"region": "XX", "year": 2027, "holidays": {}})
    with pytest.raises(CalendarDataError, match="region: 'XX', but the calendar is for 'CN'"):
        CAL.with_data_file(path)


def test_two_files_for_the_same_year_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "a.json", CN_2027_FIXTURE)
    write(tmp_path / "b.json", CN_2027_FIXTURE)
    with pytest.raises(CalendarDataError, match=r"b\.json: year: 2027 of CN is also in .*a\.json"):
        BusinessCalendar.load([tmp_path])


OK = {"region": "CN", "year": 2027}


@pytest.mark.parametrize(
    ("doc", "field", "problem"),
    [
        ("{not json", "(file)", "not valid JSON"),
        ([1, 2], "(document)", "must be an object"),
        ({**OK, "holidays": {"2027-13-01": "x"}}, "holidays[2027-13-01]", "not a date"),
        ({**OK, "holidays": {"2027-2-5": "x"}}, "holidays[2027-2-5]", "write YYYY-MM-DD"),
        ({**OK, "holidays": {"2028-01-01": "x"}}, "holidays[2028-01-01]", "outside the declared"),
        (
            {**OK, "holidays": {"2027-02-06": "x"}, "workdays": ["2027-02-06"]},
            "workdays[2027-02-06]",
            "also a holiday",
        ),
        ({**OK, "holiday": {}}, "holiday", "unknown key"),
        ({"year": 2027, "holidays": {}}, "region", "required"),
        ({**OK, "region": "cn", "holidays": {}}, "region", "not a region code"),
        ({**OK, "year": "2027", "holidays": {}}, "year", "not a year"),
        ({**OK, "holidays": {}, "workdays": ["2027-02-08"]}, "workdays[2027-02-08]", "a Monday"),
        ({**OK, "holidays": "2027-02-06"}, "holidays", "must map dates"),
        ({**OK, "holidays": {"2027-02-06": ""}}, "holidays[2027-02-06]", "non-empty string"),
        ({**OK, "holidays": ["2027-02-06", "2027-02-06"]}, "holidays[2027-02-06]", "twice"),
        (
            '{"region": "CN", "year": 2027, "holidays": {"2027-02-06": "a", "2027-02-06": "b"}}',
            "'2027-02-06'",
            "appears twice",
        ),
    ],
)
def test_a_malformed_file_is_refused_naming_the_file_the_field_and_the_problem(
    tmp_path: Path, doc: object, field: str, problem: str
) -> None:
    path = write(tmp_path / "cn-2027.json", doc)
    with pytest.raises(CalendarDataError) as err:
        load_year(path)
    assert err.value.origin == str(path)
    assert err.value.field == field
    assert problem in err.value.problem
    assert str(err.value).startswith(f"{path}: {field}: ")


def test_a_broken_toml_file_is_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cn-2027.toml"
    path.write_text('region = "CN"\nyear = = 2027\n')
    with pytest.raises(CalendarDataError, match=r"not valid TOML: .*line 2"):
        load_year(path)


def test_a_missing_file_or_another_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalendarDataError, match="cannot read"):
        load_year(tmp_path / "missing.json")
    with pytest.raises(CalendarDataError, match="unsupported file type"):
        load_year(write(tmp_path / "cn-2027.yaml", "region: CN"))
