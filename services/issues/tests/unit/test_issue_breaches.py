"""Breaches: each clock breaches at most once, a clock that ended in time never does, and the
breach names who was in charge at the deadline and the department manager to escalate to."""

from __future__ import annotations

from datetime import datetime

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

from followup.core.rejections import Rejection
from followup.events import IssueClosed, IssueReopened, VisitLogged
from followup.issues.domain.clocks import detect_breaches, next_breach_at
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
    decision = decide_resolve(issue, ResolveIssue("board replaced"), "E-17", now, CAL)
    return then(issue, accepted(decision))


def breaches(issue: Issue, now: datetime) -> list[Breach]:
    return detect_breaches(issue, now, cal=CAL, managers=MANAGERS)


def clocks(found: list[Breach]) -> list[Clock]:
    return [b.clock for b in found]


def test_nothing_breaches_up_to_the_last_second_of_a_deadline() -> None:
    issue = friday_evening_issue()

    assert breaches(issue, at(2026, 3, 7, 19, 30)) == []


def test_an_unassigned_issue_breaches_first_response_then_handover_each_at_its_deadline() -> None:
    issue = friday_evening_issue()

    saturday_night = breaches(issue, at(2026, 3, 7, 19, 30, 1))
    monday_midnight = breaches(issue, at(2026, 3, 10, 0, 0))

    assert clocks(saturday_night) == [Clock.FIRST_RESPONSE]
    assert clocks(monday_midnight) == [Clock.HANDOVER, Clock.FIRST_RESPONSE]
    assert monday_midnight[0] == Breach(
        issue_id="I-1",
        customer_id="C-000123",
        clock="handover",
        deadline=end_of(2026, 3, 9),
        department="after_sales",
        owner_id=None,  # nobody had taken it: that is the breach
        escalate_to="M-AS",
        round=1,
    )


def test_each_clock_breaches_only_once_however_often_the_sweep_runs() -> None:
    issue = friday_evening_issue()
    issue = then(issue, *breaches(issue, at(2026, 3, 7, 20)))
    issue = then(issue, *breaches(issue, at(2026, 3, 10, 1)))

    later = breaches(issue, at(2026, 3, 10, 2))
    much_later = breaches(issue, at(2026, 3, 12, 9))
    issue = then(issue, *much_later, *much_later)  # a redelivered breach is dropped

    assert later == []
    assert clocks(much_later) == [Clock.RESOLUTION]
    assert [b.clock for b in issue.breaches] == [
        Clock.FIRST_RESPONSE,
        Clock.HANDOVER,
        Clock.RESOLUTION,
    ]
    assert breaches(issue, at(2026, 4, 1)) == []


def test_clocks_that_ended_in_time_never_breach() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    issue = resolve(issue, end_of(2026, 3, 11))

    assert breaches(issue, at(2026, 6, 1)) == []
    assert next_breach_at(issue, at(2026, 6, 1), CAL) is None


def test_a_clock_that_ended_late_is_still_recorded_when_the_sweep_comes_after_it() -> None:
    # Taken on Tuesday, after both deadlines, before any sweep saw them pass.
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 10, 9))

    found = breaches(issue, at(2026, 3, 10, 10))

    assert [(b.clock, b.deadline, b.owner_id) for b in found] == [
        (Clock.HANDOVER, end_of(2026, 3, 9), None),
        (Clock.FIRST_RESPONSE, at(2026, 3, 7, 19, 30), None),
    ]


def test_the_breach_credits_the_owner_at_the_deadline_not_the_one_after_reassignment() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    # After the resolution deadline (Wed 03-11) it moves to another person and department.
    issue = assign(issue, "T-3", at(2026, 3, 12, 9), department="technical")

    found = breaches(issue, at(2026, 3, 12, 10))

    assert found == [
        Breach(
            issue_id="I-1",
            customer_id="C-000123",
            clock="resolution",
            deadline=end_of(2026, 3, 11),
            department="after_sales",
            owner_id="E-17",
            escalate_to="M-AS",
            round=1,
        )
    ]


def test_a_department_without_a_configured_manager_escalates_to_nobody() -> None:
    issue = friday_evening_issue()

    found = detect_breaches(issue, at(2026, 3, 10), cal=CAL, managers={})

    assert [b.escalate_to for b in found] == [None, None]


def test_a_paused_clock_does_not_breach_while_paused() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    issue = then(issue, accepted(
        decide_pause(issue, PauseResolution("customer abroad"), "E-17", at(2026, 3, 11, 20))
    ))  # fmt: skip

    assert breaches(issue, at(2026, 3, 13, 12)) == []
    assert next_breach_at(issue, at(2026, 3, 13, 12), CAL) is None


def test_after_a_resume_the_deadline_has_moved_by_the_paused_working_time() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    issue = then(issue, accepted(
        decide_pause(issue, PauseResolution("customer abroad"), "E-17", at(2026, 3, 11, 20))
    ))  # fmt: skip
    issue = then(issue, accepted(
        decide_resume(issue, ResumeResolution(), "E-17", at(2026, 3, 12, 8))
    ))  # fmt: skip

    # 4 h on Wed + 8 h on Thu paused: the end of Wed moves exactly 12 h, to Thu 11:59:59.
    assert next_breach_at(issue, at(2026, 3, 12, 9), CAL) == at(2026, 3, 12, 11, 59, 59)
    assert breaches(issue, at(2026, 3, 12, 11, 59, 59)) == []
    assert clocks(breaches(issue, at(2026, 3, 12, 12))) == [Clock.RESOLUTION]


def test_next_breach_at_is_the_earliest_deadline_still_able_to_breach() -> None:
    issue = friday_evening_issue()
    now = at(2026, 3, 6, 20)

    unassigned = next_breach_at(issue, now, CAL)
    assigned = next_breach_at(take(issue, "E-17", now), now, CAL)

    assert unassigned == at(2026, 3, 7, 19, 30)  # first response comes before handover
    assert assigned == end_of(2026, 3, 11)  # only resolution is left


def follow_up(confirmed: bool, logged_at: datetime) -> VisitLogged:
    return VisitLogged.model_validate(
        {
            "visit_id": "V-5",
            "customer_id": "C-000123",
            "agent_id": "A-007",
            "channel": "phone",
            "outcome": "completed",
            "logged_at": logged_at,
            "satisfaction": 2,
            "issue_id": "I-1",
            "issue_confirmed": confirmed,
        }
    )


def verdict(issue: Issue, visit: VisitLogged) -> IssueClosed | IssueReopened:
    decision = decide_follow_up(issue, visit, CAL)
    assert not isinstance(decision, Rejection), decision
    return decision


def reopen(issue: Issue, logged_at: datetime) -> Issue:
    return then(issue, verdict(issue, follow_up(False, logged_at)))


def test_a_reopened_round_that_runs_out_breaches_resolution_once() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    issue = resolve(issue, at(2026, 3, 10, 15))  # first round met
    issue = reopen(issue, at(2026, 3, 11, 10))  # new deadline: Thu 12, Fri 13, Mon 16

    found = breaches(issue, at(2026, 3, 17))

    assert [(b.clock, b.round, b.deadline) for b in found] == [
        (Clock.RESOLUTION, 2, end_of(2026, 3, 16))
    ]
    assert breaches(then(issue, *found), at(2026, 3, 20)) == []


def test_a_resolution_clock_breached_in_the_first_round_is_not_breached_again() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    issue = then(issue, *breaches(issue, at(2026, 3, 12)))  # first round ran out on Wed
    issue = resolve(issue, at(2026, 3, 12, 10))
    issue = reopen(issue, at(2026, 3, 13, 10))

    assert [(b.clock, b.round) for b in issue.breaches] == [(Clock.RESOLUTION, 1)]
    assert breaches(issue, at(2026, 3, 30)) == []
