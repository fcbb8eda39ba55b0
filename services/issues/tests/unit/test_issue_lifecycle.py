"""An issue's life: raised → assigned → resolved → closed, or reopened when the customer does not
confirm the fix; pauses stop the resolution clock; every wrong move is refused with a reason."""

from __future__ import annotations

from datetime import datetime

import pytest
from issue_builders import CAL, SH, accepted, assign, at, end_of, then

from followup.calendar import add_working_seconds
from followup.core.problems import STATUS_BY_KIND
from followup.core.rejections import Rejection, RejectionKind
from followup.events import (
    IssueAssigned,
    IssueClosed,
    IssuePaused,
    IssueRaised,
    IssueReopened,
    IssueResolved,
    IssueResumed,
    VisitLogged,
)
from followup.issues.domain.lifecycle import (
    AssignIssue,
    PauseResolution,
    ResolveIssue,
    ResumeResolution,
    current_status,
    decide_assign,
    decide_follow_up,
    decide_pause,
    decide_resolve,
    decide_resume,
)
from followup.issues.domain.model import Issue, IssueStatus, fold, open_issue
from followup.issues.domain.raising import RaiseComplaint, raise_complaint

HOUR = 3600


def refused(decision: object) -> Rejection:
    assert isinstance(decision, Rejection), decision
    return decision


def raised_issue(raised_at: datetime, severity: str = "general") -> Issue:
    command = RaiseComplaint(
        customer_id="C-000123", category="fault", severity=severity, description="no picture"
    )
    raised = raise_complaint(command, "I-1", raised_at, CAL)
    assert isinstance(raised, IssueRaised)
    return open_issue(raised)


def pause(issue: Issue, who: str, now: datetime, reason: str = "waiting for the customer") -> Issue:
    return then(issue, accepted(decide_pause(issue, PauseResolution(reason), who, now)))


def resume(issue: Issue, who: str, now: datetime, pause_no: int | None = None) -> Issue:
    return then(issue, accepted(decide_resume(issue, ResumeResolution(pause_no), who, now)))


def resolve(issue: Issue, now: datetime, who: str = "E-17") -> IssueResolved:
    return accepted(decide_resolve(issue, ResolveIssue("replaced the HDMI board"), who, now, CAL))


def follow_up(
    confirmed: bool | None, logged_at: datetime, outcome: str = "completed"
) -> VisitLogged:
    return VisitLogged.model_validate(
        {
            "visit_id": "V-5",
            "customer_id": "C-000123",
            "agent_id": "A-007",
            "channel": "phone",
            "outcome": outcome,
            "logged_at": logged_at,
            "satisfaction": 4 if outcome == "completed" else None,
            "issue_id": "I-1",
            "issue_confirmed": confirmed,
        }
    )


# Raised Wed 2026-03-04 10:00, general: resolve by the end of Mon 03-09 (Thu, Fri, Mon).
WEDNESDAY = at(2026, 3, 4, 10)


def owned_issue() -> Issue:
    return assign(raised_issue(WEDNESDAY), "E-17", at(2026, 3, 4, 11))


def test_assigning_a_raised_issue_names_its_owner_and_keeps_the_category_department() -> None:
    issue = raised_issue(WEDNESDAY)

    assigned = accepted(decide_assign(issue, AssignIssue("E-17"), at(2026, 3, 4, 11)))
    issue = then(issue, assigned)

    assert assigned == IssueAssigned(
        issue_id="I-1",
        customer_id="C-000123",
        assignee_id="E-17",
        department="after_sales",
        assigned_at=at(2026, 3, 4, 11),
    )
    assert (issue.status, issue.owner_id) == (IssueStatus.ASSIGNED, "E-17")


def test_an_issue_can_be_reassigned_and_moved_to_another_department_before_resolution() -> None:
    issue = assign(owned_issue(), "T-3", at(2026, 3, 5, 9), department="technical")

    assert (issue.owner_id, issue.department) == ("T-3", "technical")
    assert issue.first_assigned_at == at(2026, 3, 4, 11)  # the clocks it ended stay ended


def test_assigning_the_current_owner_again_is_a_conflict() -> None:
    rejection = refused(decide_assign(owned_issue(), AssignIssue("E-17"), at(2026, 3, 5, 9)))

    assert (rejection.kind, current_status(rejection), STATUS_BY_KIND[rejection.kind]) == (
        RejectionKind.CONFLICT,
        IssueStatus.ASSIGNED,
        409,
    )


def test_a_resolved_issue_cannot_be_reassigned_and_the_answer_carries_its_state() -> None:
    issue = then(owned_issue(), resolve(owned_issue(), at(2026, 3, 5, 16)))

    rejection = refused(decide_assign(issue, AssignIssue("E-2"), at(2026, 3, 6, 9)))

    assert (rejection.kind, current_status(rejection)) == (
        RejectionKind.CONFLICT,
        IssueStatus.RESOLVED,
    )


def test_an_issue_without_a_named_owner_cannot_be_resolved() -> None:
    rejection = refused(
        decide_resolve(raised_issue(WEDNESDAY), ResolveIssue("fixed"), "E-17", WEDNESDAY, CAL)
    )

    assert (rejection.kind, current_status(rejection)) == (
        RejectionKind.CONFLICT,
        IssueStatus.RAISED,
    )
    assert "named owner" in rejection.detail


def test_commands_on_an_unknown_issue_are_not_found() -> None:
    now = at(2026, 3, 5, 9)
    decisions = [
        decide_assign(None, AssignIssue("E-1"), now),
        decide_pause(None, PauseResolution("waiting"), "E-1", now),
        decide_resume(None, ResumeResolution(), "E-1", now),
        decide_resolve(None, ResolveIssue("done"), "E-1", now, CAL),
        decide_follow_up(None, follow_up(True, now), CAL),
    ]

    assert {STATUS_BY_KIND[refused(d).kind] for d in decisions} == {404}


def test_invalid_input_is_judged_before_the_state_and_lists_every_field() -> None:
    closed = then(owned_issue(), resolve(owned_issue(), at(2026, 3, 5, 16)))

    rejection = refused(decide_assign(closed, AssignIssue(" ", "sales"), at(2026, 3, 6, 9)))

    assert rejection.kind == RejectionKind.INVALID
    assert [e.field for e in rejection.errors] == ["assignee_id", "department"]


def test_a_pause_needs_a_reason() -> None:
    rejection = refused(decide_pause(owned_issue(), PauseResolution(""), "E-17", WEDNESDAY))

    assert [(e.field, e.message) for e in rejection.errors] == [("reason", "must not be blank")]


def test_two_people_may_each_hold_a_pause_but_one_person_only_one() -> None:
    issue = pause(owned_issue(), "E-17", at(2026, 3, 5, 10))
    issue = pause(issue, "CS-4", at(2026, 3, 5, 11), reason="waiting for a spare part")

    again = refused(
        decide_pause(issue, PauseResolution("still waiting"), "E-17", at(2026, 3, 5, 12))
    )

    assert [(p.pause_no, p.paused_by) for p in issue.open_pauses] == [(1, "E-17"), (2, "CS-4")]
    assert issue.is_paused
    assert again.kind == RejectionKind.CONFLICT


def test_resuming_without_an_open_pause_is_a_conflict() -> None:
    rejection = refused(decide_resume(owned_issue(), ResumeResolution(), "E-17", WEDNESDAY))

    assert (rejection.kind, current_status(rejection), rejection.detail) == (
        RejectionKind.CONFLICT,
        IssueStatus.ASSIGNED,
        "no pause is open",
    )


def test_resume_ends_the_callers_own_pause_or_the_one_named() -> None:
    issue = pause(owned_issue(), "E-17", at(2026, 3, 5, 10))
    issue = pause(issue, "CS-4", at(2026, 3, 5, 11))

    ambiguous = refused(decide_resume(issue, ResumeResolution(), "SUP-1", at(2026, 3, 5, 12)))
    own = accepted(decide_resume(issue, ResumeResolution(), "CS-4", at(2026, 3, 5, 12)))
    named = accepted(decide_resume(issue, ResumeResolution(1), "SUP-1", at(2026, 3, 5, 12)))
    gone = refused(decide_resume(issue, ResumeResolution(7), "SUP-1", at(2026, 3, 5, 12)))

    assert "name one in pause_no" in ambiguous.detail
    assert (own.pause_no, named.pause_no) == (2, 1)
    assert gone.kind == RejectionKind.CONFLICT
    assert not then(issue, own, named).is_paused


def test_an_issue_without_a_named_owner_cannot_be_paused() -> None:
    rejection = refused(
        decide_pause(raised_issue(WEDNESDAY), PauseResolution("waiting"), "CS-4", WEDNESDAY)
    )

    assert (rejection.kind, current_status(rejection)) == (
        RejectionKind.CONFLICT,
        IssueStatus.RAISED,
    )


def test_a_resolved_issue_has_no_clock_to_pause() -> None:
    issue = then(owned_issue(), resolve(owned_issue(), at(2026, 3, 5, 16)))

    rejection = refused(decide_pause(issue, PauseResolution("waiting"), "E-17", at(2026, 3, 6)))

    assert (rejection.kind, current_status(rejection)) == (
        RejectionKind.CONFLICT,
        IssueStatus.RESOLVED,
    )


def paused_between(*pauses: tuple[str, datetime, datetime | None]) -> Issue:
    issue = owned_issue()
    for who, start, _ in pauses:
        issue = pause(issue, who, start)
    for who, _, end in sorted(pauses, key=lambda p: p[2] or p[1]):
        if end is not None:
            issue = resume(issue, who, end)
    return issue


# Raised Wed 03-04 10:00, general: the deadline before pauses is the end of Mon 03-09.
RESOLUTIONS = [
    pytest.param(
        (), at(2026, 3, 9, 17), end_of(2026, 3, 9), 0,
        id="no pause: the deadline as raised",
    ),
    pytest.param(
        (("E-17", at(2026, 3, 6, 18), at(2026, 3, 9, 10)),),
        at(2026, 3, 10, 15), at(2026, 3, 10, 15, 59, 59), 16 * HOUR,
        id="a pause across a weekend costs only Fri 18-24h and Mon 0-10h",
    ),
    pytest.param(
        (("E-17", at(2026, 3, 9, 10), at(2026, 3, 9, 14)),
         ("CS-4", at(2026, 3, 9, 12), at(2026, 3, 9, 16))),
        at(2026, 3, 10, 5), at(2026, 3, 10, 5, 59, 59), 6 * HOUR,
        id="overlapping pauses by two people count once: 10-16h is 6 hours, not 8",
    ),
    pytest.param(
        (("E-17", at(2026, 3, 6, 9), None),),
        at(2026, 3, 9, 9), end_of(2026, 3, 10), 24 * HOUR,
        id="a pause still open ends with the resolution: Fri 9-24h + Mon 0-9h is one day",
    ),
    pytest.param(
        (("E-17", at(2026, 3, 10, 9), at(2026, 3, 11, 9)),),
        at(2026, 3, 11, 10), end_of(2026, 3, 9), 0,
        id="a pause after the deadline moves nothing: the clock had already run out",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("pauses", "resolved_at", "resolve_by", "paused_seconds"), RESOLUTIONS)
def test_the_resolution_carries_the_deadline_in_force_after_pauses(
    pauses: tuple[tuple[str, datetime, datetime | None], ...],
    resolved_at: datetime,
    resolve_by: datetime,
    paused_seconds: int,
) -> None:
    issue = paused_between(*pauses)

    resolved = resolve(issue, resolved_at)

    assert (resolved.resolve_by, resolved.paused_seconds) == (resolve_by, paused_seconds)
    # The deadline in force is the raised deadline moved by exactly the paused working time.
    assert add_working_seconds(end_of(2026, 3, 9), paused_seconds, SH, CAL) == resolve_by


def test_a_pause_across_spring_festival_costs_only_the_working_hours() -> None:
    # Raised Fri 02-13 10:00: resolve by Wed 02-25 (Sat 14, Tue 24, Wed 25).
    issue = assign(raised_issue(at(2026, 2, 13, 10)), "E-17", at(2026, 2, 13, 11))
    issue = pause(issue, "E-17", at(2026, 2, 14, 12))  # the make-up Saturday: a working day
    issue = resume(issue, "E-17", at(2026, 2, 24, 12))  # nine days off in between cost nothing

    resolved = resolve(issue, at(2026, 2, 26, 15))

    assert resolved.paused_seconds == 24 * HOUR  # Sat 12-24h + Tue 0-12h
    assert resolved.resolve_by == end_of(2026, 2, 26)
    assert resolved.resolved_at <= resolved.resolve_by


def test_a_pause_on_the_make_up_saturday_counts_as_paused_working_time() -> None:
    # Raised Thu 02-26 09:00: resolve by Mon 03-02 (Fri 27, Sat 28 works, Mon 2).
    issue = assign(raised_issue(at(2026, 2, 26, 9)), "E-17", at(2026, 2, 26, 10))
    issue = pause(issue, "E-17", at(2026, 2, 28, 0))
    issue = resume(issue, "E-17", at(2026, 3, 1, 0))

    resolved = resolve(issue, at(2026, 3, 3, 12))

    assert (resolved.paused_seconds, resolved.resolve_by) == (24 * HOUR, end_of(2026, 3, 3))


def test_resolving_ends_every_open_pause_and_the_resolver_defaults_to_the_caller() -> None:
    issue = pause(owned_issue(), "E-17", at(2026, 3, 5, 10))
    resolved = accepted(
        decide_resolve(issue, ResolveIssue("cable replaced"), "SUP-1", at(2026, 3, 5, 12), CAL)
    )

    issue = then(issue, resolved)

    assert resolved.resolved_by == "SUP-1"
    assert issue.status == IssueStatus.RESOLVED
    assert [p.ended_at for p in issue.pauses] == [at(2026, 3, 5, 12)]
    assert not issue.is_paused


def verdict(issue: Issue, visit: VisitLogged) -> IssueClosed | IssueReopened:
    decision = decide_follow_up(issue, visit, CAL)
    assert not isinstance(decision, Rejection), decision
    return decision


def resolved_issue() -> Issue:
    # Raised Fri 02-13 18:05, assigned on the make-up Saturday, resolved on the first day back.
    issue = assign(raised_issue(at(2026, 2, 13, 18, 5)), "E-17", at(2026, 2, 14, 9))
    return then(issue, resolve(issue, at(2026, 2, 24, 16)))


def test_a_confirmed_fix_closes_the_issue() -> None:
    verdict = decide_follow_up(resolved_issue(), follow_up(True, at(2026, 2, 25, 10, 45)), CAL)

    assert verdict == IssueClosed(
        issue_id="I-1",
        customer_id="C-000123",
        closed_at=at(2026, 2, 25, 10, 45),
        confirmed_by_visit_id="V-5",
    )
    assert then(resolved_issue(), verdict).status == IssueStatus.CLOSED


@pytest.mark.parametrize(
    ("severity", "resolve_by"),
    [
        pytest.param("general", end_of(2026, 2, 28), id="general: Thu 26, Fri 27, Sat 28 works"),
        pytest.param("complex", end_of(2026, 3, 5), id="complex: Feb 26-28, Mar 2-5"),
    ],
)
def test_a_fix_not_confirmed_reopens_the_issue_with_a_deadline_from_the_visit(
    severity: str, resolve_by: datetime
) -> None:
    issue = assign(raised_issue(at(2026, 2, 13, 18, 5), severity), "E-17", at(2026, 2, 14, 9))
    issue = then(issue, resolve(issue, at(2026, 2, 24, 16)))

    verdict = decide_follow_up(issue, follow_up(False, at(2026, 2, 25, 10, 45)), CAL)

    assert isinstance(verdict, IssueReopened)
    assert verdict.reopened_at == at(2026, 2, 25, 10, 45)
    assert verdict.resolve_by == resolve_by
    assert "V-5" in verdict.reason
    reopened = then(issue, verdict)
    assert reopened.status == IssueStatus.REOPENED
    assert [r.number for r in reopened.rounds] == [1, 2]
    assert reopened.rounds[0].resolved is not None  # the first resolution is kept


def test_a_reopened_issue_can_be_reassigned_and_resolved_again() -> None:
    issue = resolved_issue()
    issue = then(issue, verdict(issue, follow_up(False, at(2026, 2, 25))))
    issue = assign(issue, "E-2", at(2026, 2, 25, 11))

    again = resolve(issue, at(2026, 2, 27, 15), who="E-2")
    issue = then(issue, again)

    assert issue.status == IssueStatus.RESOLVED
    assert again.resolve_by == end_of(2026, 2, 28)
    assert [r.resolved.resolved_by for r in issue.rounds if r.resolved] == ["E-17", "E-2"]


def test_a_follow_up_that_does_not_fit_the_issue_is_refused() -> None:
    open_issue_ = owned_issue()
    closed = then(resolved_issue(), verdict(resolved_issue(), follow_up(True, at(2026, 2, 25))))

    not_resolved = refused(decide_follow_up(open_issue_, follow_up(True, at(2026, 3, 6)), CAL))
    twice = refused(decide_follow_up(closed, follow_up(True, at(2026, 2, 26)), CAL))
    before_fix = refused(
        decide_follow_up(resolved_issue(), follow_up(False, at(2026, 2, 24, 15)), CAL)
    )
    unreachable = refused(
        decide_follow_up(resolved_issue(), follow_up(None, at(2026, 2, 25), "unreachable"), CAL)
    )

    assert (not_resolved.kind, current_status(not_resolved)) == (
        RejectionKind.CONFLICT,
        IssueStatus.ASSIGNED,
    )
    assert (twice.kind, current_status(twice)) == (RejectionKind.CONFLICT, IssueStatus.CLOSED)
    assert before_fix.kind == RejectionKind.CONFLICT
    assert unreachable.kind == RejectionKind.INVALID


def test_a_repeated_event_changes_nothing() -> None:
    issue = owned_issue()
    paused = accepted(decide_pause(issue, PauseResolution("waiting"), "E-17", at(2026, 3, 5, 10)))

    once = then(issue, paused)
    twice = then(once, paused)

    assert twice == once
    assert len(twice.pauses) == 1


def test_folding_the_events_rebuilds_the_same_issue() -> None:
    issue = pause(owned_issue(), "E-17", at(2026, 3, 5, 10))
    issue = resume(issue, "E-17", at(2026, 3, 5, 15))
    issue = then(issue, resolve(issue, at(2026, 3, 6, 10)))

    assert fold(issue.history) == issue
    assert fold([e for e in issue.history if not isinstance(e, IssueRaised)]) is None
    assert [type(e) for e in issue.history] == [
        IssueRaised,
        IssueAssigned,
        IssuePaused,
        IssueResumed,
        IssueResolved,
    ]
