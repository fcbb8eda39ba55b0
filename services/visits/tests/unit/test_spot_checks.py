"""Spot checks: a reproducible sample of 3 completed visits per agent and month, and the
VisitSpotChecked a supervisor's re-contact records."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from functools import reduce
from zoneinfo import ZoneInfo

import pytest

from followup.core.rejections import Rejection, RejectionKind
from followup.events import VisitDue, VisitLogged, VisitSpotChecked
from followup.visits.domain.model import Visit, VisitEvent, evolve
from followup.visits.domain.spot_checks import (
    ALREADY_CHECKED,
    NOT_COMPLETED,
    NOTE_MAX_CHARS,
    completed_by_agent_in_month,
    decide_spot_check,
    month_bounds,
    sample_for_spot_check,
)

CST = timezone(timedelta(hours=8))
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 8, 3, 10, 0, tzinfo=CST)
VISITS_OF_JULY = [f"V-2026-07-{n:02d}" for n in range(1, 13)]


def visit_due(visit_id: str = "V-1", agent_id: str | None = "A-7") -> VisitDue:
    return VisitDue.model_validate(
        {
            "visit_id": visit_id,
            "customer_id": "C-000789",
            "kinds": ["routine"],
            "due_at": datetime(2026, 7, 1, 9, 0, tzinfo=CST),
            "deadline": datetime(2026, 7, 8, 23, 59, 59, tzinfo=CST),
            "attempt": 1,
            "agent_id": agent_id,
            "reason": "routine visit 3 months after delivery",
        }
    )


def visit_log(
    outcome: str = "completed",
    agent_id: str = "A-7",
    at: datetime = datetime(2026, 7, 2, 15, 0, tzinfo=CST),
) -> VisitLogged:
    return VisitLogged.model_validate(
        {
            "visit_id": "V-1",
            "customer_id": "C-000789",
            "agent_id": agent_id,
            "channel": "video",
            "outcome": outcome,
            "logged_at": at,
            "satisfaction": 4 if outcome == "completed" else None,
        }
    )


def fold(*events: VisitEvent) -> Visit:
    visit = reduce(evolve, events, None)
    assert visit is not None
    return visit


def check(
    visit: Visit | None, result: str = "verified", note: str | None = None
) -> VisitSpotChecked | Rejection:
    return decide_spot_check(visit, "S-1", result, note, NOW)


# The sample.


def test_the_sample_takes_three_of_an_agents_completed_visits() -> None:
    sample = sample_for_spot_check(VISITS_OF_JULY, "A-7", "2026-07")

    assert len(sample) == 3
    assert set(sample) <= set(VISITS_OF_JULY)


def test_an_agent_with_fewer_than_three_completed_visits_has_all_of_them_checked() -> None:
    assert sample_for_spot_check(["V-b", "V-a"], "A-7", "2026-07") == ["V-a", "V-b"]
    assert sample_for_spot_check([], "A-7", "2026-07") == []


def test_the_sample_is_the_same_whatever_the_order_or_repetition_of_the_visits() -> None:
    expected = sample_for_spot_check(VISITS_OF_JULY, "A-7", "2026-07")

    assert sample_for_spot_check(reversed(VISITS_OF_JULY), "A-7", "2026-07") == expected
    assert sample_for_spot_check(VISITS_OF_JULY * 2, "A-7", "2026-07") == expected


def test_the_sample_is_fixed_by_agent_and_month_so_it_can_be_reproduced_later() -> None:
    # Pinned: a change in how the sample is drawn would silently redraw every past month.
    assert sample_for_spot_check(VISITS_OF_JULY, "A-7", "2026-07") == [
        "V-2026-07-01",
        "V-2026-07-05",
        "V-2026-07-12",
    ]


def test_other_months_and_other_agents_draw_other_samples() -> None:
    samples = {
        tuple(sample_for_spot_check(VISITS_OF_JULY, agent, month))
        for agent, month in itertools.product(["A-7", "A-8"], ["2026-07", "2026-08", "2026-09"])
    }

    assert len(samples) == 6


def test_one_more_visit_turning_up_displaces_at_most_one_pick() -> None:
    before = sample_for_spot_check(VISITS_OF_JULY, "A-7", "2026-07")

    for late in ("V-late-1", "V-late-2", "V-late-3"):
        after = sample_for_spot_check([*VISITS_OF_JULY, late], "A-7", "2026-07")
        assert len(set(before) & set(after)) >= 2


@pytest.mark.parametrize("month", ["2026-7", "2026-13", "July 2026", "2026-07-01"])
def test_a_month_not_written_yyyy_mm_is_refused(month: str) -> None:
    with pytest.raises(ValueError):
        sample_for_spot_check(VISITS_OF_JULY, "A-7", month)
    with pytest.raises(ValueError):
        month_bounds(month, SHANGHAI)


def test_december_ends_where_the_next_january_starts() -> None:
    assert month_bounds("2026-12", SHANGHAI) == (
        datetime(2026, 12, 1, tzinfo=SHANGHAI),
        datetime(2027, 1, 1, tzinfo=SHANGHAI),
    )


def test_a_visit_counts_in_the_month_of_its_completion_in_local_time() -> None:
    # 00:30 on 1 August in Shanghai is still 31 July in UTC.
    visit = fold(visit_due(), visit_log(at=datetime(2026, 8, 1, 0, 30, tzinfo=CST)))

    assert completed_by_agent_in_month(visit, "A-7", "2026-08", SHANGHAI)
    assert not completed_by_agent_in_month(visit, "A-7", "2026-07", SHANGHAI)
    assert completed_by_agent_in_month(visit, "A-7", "2026-07", UTC)


def test_a_visit_counts_for_the_agent_who_completed_it_not_for_one_who_only_tried() -> None:
    visit = fold(visit_due(), visit_log("unreachable", agent_id="A-8"), visit_log(agent_id="A-7"))

    assert completed_by_agent_in_month(visit, "A-7", "2026-07", SHANGHAI)
    assert not completed_by_agent_in_month(visit, "A-8", "2026-07", SHANGHAI)


def test_a_visit_that_failed_its_check_stays_in_its_months_population() -> None:
    failed_check = check(fold(visit_due(), visit_log()), "not_verified")
    assert isinstance(failed_check, VisitSpotChecked)

    failed = fold(visit_due(), visit_log(), failed_check)

    assert failed.completion is None
    assert completed_by_agent_in_month(failed, "A-7", "2026-07", SHANGHAI)


# The check.


def test_a_check_of_a_completed_visit_records_exactly_the_contracts_fields() -> None:
    done = fold(visit_due(), visit_log())

    checked = check(done, "verified", "  customer confirms the video call  ")

    assert isinstance(checked, VisitSpotChecked)
    assert checked.model_dump(mode="json") == {
        "visit_id": "V-1",
        "customer_id": "C-000789",
        "agent_id": "A-7",
        "supervisor_id": "S-1",
        "checked_at": "2026-08-03T10:00:00+08:00",
        "result": "verified",
        "note": "customer confirms the video call",
    }


def test_the_check_is_credited_to_the_agent_who_completed_the_visit_not_the_assignee() -> None:
    logged_by_a_colleague = fold(visit_due(agent_id="A-7"), visit_log(agent_id="A-9"))

    checked = check(logged_by_a_colleague)

    assert isinstance(checked, VisitSpotChecked) and checked.agent_id == "A-9"


def test_a_blank_note_is_dropped() -> None:
    checked = check(fold(visit_due(), visit_log()), note="   ")

    assert isinstance(checked, VisitSpotChecked) and checked.note is None


def test_an_unknown_visit_cannot_be_checked() -> None:
    rejection = check(None)

    assert isinstance(rejection, Rejection) and rejection.kind == RejectionKind.NOT_FOUND


def test_a_visit_not_yet_completed_cannot_be_checked() -> None:
    rejection = check(fold(visit_due(), visit_log("unreachable")))

    assert isinstance(rejection, Rejection) and rejection.reason == NOT_COMPLETED


def test_a_visit_is_checked_only_once() -> None:
    done = fold(visit_due(), visit_log())
    first = check(done)
    assert isinstance(first, VisitSpotChecked)

    rejection = check(fold(visit_due(), visit_log(), first), "not_verified")

    assert isinstance(rejection, Rejection) and rejection.reason == ALREADY_CHECKED


def test_a_visit_redone_after_failing_its_check_is_not_checked_again() -> None:
    failed = check(fold(visit_due(), visit_log()), "not_verified")
    assert isinstance(failed, VisitSpotChecked)
    redone = fold(
        visit_due(), visit_log(), failed, visit_log(at=datetime(2026, 8, 4, 11, 0, tzinfo=CST))
    )

    rejection = check(redone)

    assert isinstance(rejection, Rejection) and rejection.reason == ALREADY_CHECKED


def test_every_invalid_field_of_a_check_is_reported_at_once() -> None:
    rejection = decide_spot_check(
        fold(visit_due(), visit_log()), " ", "maybe", "x" * (NOTE_MAX_CHARS + 1), NOW
    )

    assert isinstance(rejection, Rejection) and rejection.kind == RejectionKind.INVALID
    assert [e.field for e in rejection.errors] == ["supervisor_id", "result", "note"]
