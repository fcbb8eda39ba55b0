"""The breach schedule: the narrow rows the sweep decides from (domain.breach_schedule, kept by
the projections after each event) and the rule over them (domain.breaches_due). Whatever the
issue's history, deciding from the rows gives the breaches the fold gives (detect_breaches)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from issue_builders import (
    CAL,
    MANAGERS,
    accepted,
    assign,
    at,
    end_of,
    friday_evening_issue,
    take,
    then,
)

from followup.events import VisitLogged
from followup.issues.domain.clocks import (
    ScheduledClock,
    breach_schedule,
    breaches_due,
    detect_breaches,
)
from followup.issues.domain.lifecycle import (
    PauseResolution,
    ResolveIssue,
    ResumeResolution,
    decide_follow_up,
    decide_pause,
    decide_resolve,
    decide_resume,
)
from followup.issues.domain.model import Breach, Clock, Issue


def resolve(issue: Issue, now: datetime) -> Issue:
    return then(issue, accepted(decide_resolve(issue, ResolveIssue("fixed"), "E-17", now, CAL)))


def reopen(issue: Issue, logged_at: datetime) -> Issue:
    visit = VisitLogged.model_validate(
        {
            "visit_id": "V-5",
            "customer_id": "C-000123",
            "agent_id": "A-007",
            "channel": "phone",
            "outcome": "completed",
            "logged_at": logged_at,
            "satisfaction": 2,
            "issue_id": "I-1",
            "issue_confirmed": False,
        }
    )
    return then(issue, accepted(decide_follow_up(issue, visit, CAL)))


def schedule(issue: Issue, now: datetime) -> list[tuple[Clock, int, datetime, str, str | None]]:
    return [
        (s.clock, s.round, s.deadline, s.department, s.owner_id)
        for s in breach_schedule(issue, now, CAL)
    ]


def due(issue: Issue, written_at: datetime, now: datetime) -> list[Breach]:
    """The sweep at `now` over the rows the projections wrote at `written_at`."""
    return breaches_due(breach_schedule(issue, written_at, CAL), now, MANAGERS)


def test_an_unassigned_issue_has_all_three_clocks_scheduled_with_nobody_in_charge() -> None:
    issue = friday_evening_issue()

    assert schedule(issue, at(2026, 3, 6, 20)) == [
        (Clock.HANDOVER, 1, end_of(2026, 3, 9), "after_sales", None),
        (Clock.FIRST_RESPONSE, 1, at(2026, 3, 7, 19, 30), "after_sales", None),
        (Clock.RESOLUTION, 1, end_of(2026, 3, 11), "after_sales", None),
    ]
    [first] = breach_schedule(issue, at(2026, 3, 6, 20), CAL)[:1]
    assert first == ScheduledClock(
        issue_id="I-1",
        customer_id="C-000123",
        clock=Clock.HANDOVER,
        round=1,
        deadline=end_of(2026, 3, 9),
        department="after_sales",
        owner_id=None,
        timezone="Asia/Shanghai",
    )


def test_a_scheduled_clock_breaches_only_after_its_last_second() -> None:
    issue = friday_evening_issue()
    written = at(2026, 3, 6, 20)

    assert due(issue, written, at(2026, 3, 7, 19, 30)) == []
    assert [b.clock for b in due(issue, written, at(2026, 3, 7, 19, 30, 1))] == ["first_response"]
    # In the order the fold records them: handover, first response.
    assert [b.clock for b in due(issue, written, at(2026, 3, 10))] == [
        "handover",
        "first_response",
    ]


def test_the_rows_give_the_breach_the_fold_gives_with_its_escalation() -> None:
    issue = friday_evening_issue()

    found = due(issue, at(2026, 3, 6, 20), at(2026, 3, 10))

    assert found == detect_breaches(issue, at(2026, 3, 10), cal=CAL, managers=MANAGERS)
    assert found[0] == Breach(
        issue_id="I-1",
        customer_id="C-000123",
        clock="handover",
        deadline=end_of(2026, 3, 9),
        department="after_sales",
        owner_id=None,
        escalate_to="M-AS",
        round=1,
    )
    # The deadline keeps the customer's zone, as in the fold's event.
    assert found[0].deadline.utcoffset() == timedelta(hours=8)


def test_taking_and_calling_ends_handover_and_first_response_and_credits_the_owner() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))

    assert schedule(issue, at(2026, 3, 7, 10)) == [
        (Clock.RESOLUTION, 1, end_of(2026, 3, 11), "after_sales", "E-17"),
    ]


def test_a_reassignment_after_the_deadline_keeps_the_credit_with_the_owner_at_it() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    # The sweep missed Wednesday night; on Thursday the issue moves to technical.
    issue = assign(issue, "T-3", at(2026, 3, 12, 9), department="technical")

    assert schedule(issue, at(2026, 3, 12, 9)) == [
        (Clock.RESOLUTION, 1, end_of(2026, 3, 11), "after_sales", "E-17"),
    ]
    [breach] = due(issue, at(2026, 3, 12, 9), at(2026, 3, 12, 10))
    assert (breach.department, breach.owner_id, breach.escalate_to) == (
        "after_sales",
        "E-17",
        "M-AS",
    )


def test_clocks_that_ended_late_stay_scheduled_until_the_sweep_records_them() -> None:
    # Taken on Tuesday, after both deadlines passed unseen.
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 10, 9))

    assert schedule(issue, at(2026, 3, 10, 9)) == [
        (Clock.HANDOVER, 1, end_of(2026, 3, 9), "after_sales", None),
        (Clock.FIRST_RESPONSE, 1, at(2026, 3, 7, 19, 30), "after_sales", None),
        (Clock.RESOLUTION, 1, end_of(2026, 3, 11), "after_sales", "E-17"),
    ]
    found = due(issue, at(2026, 3, 10, 9), at(2026, 3, 10, 10))
    assert [(b.clock, b.owner_id) for b in found] == [("handover", None), ("first_response", None)]


def test_a_recorded_breach_takes_its_clock_off_the_schedule() -> None:
    issue = friday_evening_issue()
    issue = then(issue, *due(issue, at(2026, 3, 6, 20), at(2026, 3, 8)))

    assert [s[0] for s in schedule(issue, at(2026, 3, 8))] == [Clock.HANDOVER, Clock.RESOLUTION]
    assert due(issue, at(2026, 3, 8), at(2026, 3, 8, 1)) == []


def test_a_paused_clock_is_not_scheduled_and_comes_back_with_its_moved_deadline() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    issue = then(issue, accepted(
        decide_pause(issue, PauseResolution("customer abroad"), "E-17", at(2026, 3, 11, 20))
    ))  # fmt: skip

    assert schedule(issue, at(2026, 3, 11, 20)) == []

    issue = then(issue, accepted(
        decide_resume(issue, ResumeResolution(), "E-17", at(2026, 3, 12, 8))
    ))  # fmt: skip
    # 4 h on Wed + 8 h on Thu paused: the end of Wed moves exactly 12 h, to Thu 11:59:59.
    assert schedule(issue, at(2026, 3, 12, 8)) == [
        (Clock.RESOLUTION, 1, at(2026, 3, 12, 11, 59, 59), "after_sales", "E-17"),
    ]
    assert due(issue, at(2026, 3, 12, 8), at(2026, 3, 12, 11, 59, 59)) == []
    assert [b.clock for b in due(issue, at(2026, 3, 12, 8), at(2026, 3, 12, 12))] == ["resolution"]


def test_a_pause_begun_after_the_deadline_does_not_save_the_clock() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    issue = then(issue, accepted(
        decide_pause(issue, PauseResolution("too late"), "E-17", at(2026, 3, 12, 9))
    ))  # fmt: skip

    assert schedule(issue, at(2026, 3, 12, 9)) == [
        (Clock.RESOLUTION, 1, end_of(2026, 3, 11), "after_sales", "E-17"),
    ]


def test_a_reopened_round_is_scheduled_and_breaches_as_round_two() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    issue = resolve(issue, at(2026, 3, 10, 15))  # met
    assert schedule(issue, at(2026, 3, 10, 15)) == []

    issue = reopen(issue, at(2026, 3, 11, 10))

    assert schedule(issue, at(2026, 3, 11, 10)) == [
        (Clock.RESOLUTION, 2, end_of(2026, 3, 16), "after_sales", "E-17"),
    ]
    [breach] = due(issue, at(2026, 3, 11, 10), at(2026, 3, 17))
    assert (breach.clock, breach.round) == ("resolution", 2)


def test_resolution_breached_in_the_first_round_is_never_scheduled_again() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    issue = then(issue, *due(issue, at(2026, 3, 7, 10), at(2026, 3, 12)))
    issue = resolve(issue, at(2026, 3, 12, 10))
    issue = reopen(issue, at(2026, 3, 13, 10))

    assert schedule(issue, at(2026, 3, 13, 10)) == []


def test_a_first_round_resolved_late_is_scheduled_before_the_reopened_one() -> None:
    # Resolved Thursday, after Wednesday's deadline, with no sweep in between; then reopened.
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    issue = resolve(issue, at(2026, 3, 12, 10))
    issue = reopen(issue, at(2026, 3, 13, 10))

    assert schedule(issue, at(2026, 3, 13, 10)) == [
        (Clock.RESOLUTION, 1, end_of(2026, 3, 11), "after_sales", "E-17"),
    ]


def test_a_department_without_a_manager_escalates_to_nobody() -> None:
    rows = breach_schedule(friday_evening_issue(), at(2026, 3, 6, 20), CAL)

    assert [b.escalate_to for b in breaches_due(rows, at(2026, 3, 10), {})] == [None, None]


def test_a_row_read_twice_breaches_once() -> None:
    rows = breach_schedule(friday_evening_issue(), at(2026, 3, 6, 20), CAL)

    assert len(breaches_due([*rows, *rows], at(2026, 3, 8), MANAGERS)) == 1


@pytest.mark.parametrize("hours", [0, 23, 24, 25, 80, 100, 130, 200])
def test_deciding_from_the_rows_matches_the_fold_at_any_later_instant(hours: int) -> None:
    start = at(2026, 3, 6, 20)
    # (the issue, when its last event happened: the projections wrote its rows then)
    histories = [
        (friday_evening_issue(), start),
        (take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10)), at(2026, 3, 7, 10)),
        (take(friday_evening_issue(), "E-17", at(2026, 3, 10, 9)), at(2026, 3, 10, 9)),
        (reopen(resolve(take(friday_evening_issue(), "E-1", start), start), start), start),
    ]

    for issue, written in histories:
        now = written + timedelta(hours=hours, seconds=1)
        assert due(issue, written, now) == detect_breaches(
            issue, now, cal=CAL, managers=MANAGERS
        ), (issue.history, now)
