"""Pauses are exact (SPEC §10): a pause moves the resolution deadline by exactly the working time
it paused, to an instant (not the end of a day); working time is the whole of each working day,
so weekends and holidays cost nothing and a make-up working day counts; overlapping pauses
count once; a pause needs a reason."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from issue_builders import CAL, accepted, assign, at, end_of, friday_evening_issue, then

from followup.core.rejections import Rejection, RejectionKind
from followup.events import IssueRaised
from followup.issues.domain.clocks import resolution_in_force
from followup.issues.domain.lifecycle import (
    PauseResolution,
    ResolveIssue,
    ResumeResolution,
    decide_pause,
    decide_resolve,
    decide_resume,
)
from followup.issues.domain.model import Issue, SlaPolicy, open_issue
from followup.issues.domain.raising import RaiseComplaint, raise_complaint


def owned(raised_at: datetime) -> Issue:
    command = RaiseComplaint(
        customer_id="C-000123", category="fault", severity="general", description="no picture"
    )
    raised = raise_complaint(command, "I-1", raised_at, CAL)
    assert isinstance(raised, IssueRaised)
    return assign(open_issue(raised), "E-17", raised_at)


def paused(issue: Issue, *pauses: tuple[str, datetime, datetime]) -> Issue:
    for who, start, _ in pauses:
        issue = then(issue, accepted(decide_pause(issue, PauseResolution("away"), who, start)))
    for who, _, end in sorted(pauses, key=lambda p: p[2]):
        issue = then(issue, accepted(decide_resume(issue, ResumeResolution(), who, end)))
    return issue


def deadline_after(issue: Issue, now: datetime) -> tuple[datetime, int]:
    in_force = resolution_in_force(issue, issue.current_round, now, CAL)
    return in_force.deadline.at, in_force.paused_seconds


# Raised Wed 2026-03-04 10:00, general: resolve by the end of Mon 03-09 (23:59:59).
WEDNESDAY = at(2026, 3, 4, 10)


def test_a_one_second_pause_moves_the_deadline_by_one_second() -> None:
    issue = paused(owned(WEDNESDAY), ("E-17", at(2026, 3, 5, 10), at(2026, 3, 5, 10, 0, 1)))

    assert deadline_after(issue, at(2026, 3, 5, 11)) == (at(2026, 3, 10, 0, 0, 0), 1)


def test_a_one_hour_pause_moves_the_deadline_by_one_hour_not_to_the_end_of_a_day() -> None:
    issue = paused(owned(WEDNESDAY), ("E-17", at(2026, 3, 5, 10), at(2026, 3, 5, 11)))

    assert deadline_after(issue, at(2026, 3, 5, 12)) == (at(2026, 3, 10, 0, 59, 59), 3600)


def test_a_pause_across_a_weekend_costs_only_its_working_hours() -> None:
    # Fri 03-06 18:00 to Mon 03-09 10:00: Fri 6 h + Mon 10 h; Saturday and Sunday cost nothing.
    issue = paused(owned(WEDNESDAY), ("E-17", at(2026, 3, 6, 18), at(2026, 3, 9, 10)))

    assert deadline_after(issue, at(2026, 3, 9, 11)) == (at(2026, 3, 10, 15, 59, 59), 16 * 3600)


def test_a_pause_on_a_make_up_saturday_counts_and_the_festival_after_it_does_not() -> None:
    # Raised Fri 2026-02-13 10:00: resolve by the end of Wed 02-25 (Sat 14, Tue 24, Wed 25).
    assert CAL.is_make_up_workday(date(2026, 2, 14))
    issue = owned(at(2026, 2, 13, 10))
    issue = paused(issue, ("E-17", at(2026, 2, 14, 12), at(2026, 2, 16, 12)))

    # Sat 12 h paused (a working day); Sun 15 and Mon 16 are Spring Festival: nothing.
    assert deadline_after(issue, at(2026, 2, 24, 9)) == (at(2026, 2, 26, 11, 59, 59), 12 * 3600)


def test_a_moved_deadline_lands_on_a_make_up_saturday_when_it_crosses_friday() -> None:
    # Raised Tue 2026-02-24 10:00: resolve by the end of Fri 02-27; Sat 02-28 is a make-up day.
    assert CAL.is_make_up_workday(date(2026, 2, 28))
    issue = paused(owned(at(2026, 2, 24, 10)), ("E-17", at(2026, 2, 25, 10), at(2026, 2, 25, 22)))

    assert deadline_after(issue, at(2026, 2, 26, 9)) == (at(2026, 2, 28, 11, 59, 59), 12 * 3600)


def test_overlapping_pauses_count_their_union_once() -> None:
    # E-17 10:00-14:00 and CS-4 12:00-16:00 on Thu 03-05: 6 h, not 8.
    issue = paused(
        owned(WEDNESDAY),
        ("E-17", at(2026, 3, 5, 10), at(2026, 3, 5, 14)),
        ("CS-4", at(2026, 3, 5, 12), at(2026, 3, 5, 16)),
    )

    assert deadline_after(issue, at(2026, 3, 5, 17)) == (at(2026, 3, 10, 5, 59, 59), 6 * 3600)


def test_the_resolution_records_the_exact_deadline_in_force() -> None:
    issue = paused(owned(WEDNESDAY), ("E-17", at(2026, 3, 5, 10), at(2026, 3, 5, 10, 0, 2)))

    resolved = accepted(
        decide_resolve(issue, ResolveIssue("fixed"), "E-17", at(2026, 3, 10, 0, 0, 1), CAL)
    )

    # Two seconds paused: the end of Monday plus 2 s; resolved 1 s after midnight, so met.
    assert (resolved.resolve_by, resolved.paused_seconds) == (at(2026, 3, 10, 0, 0, 1), 2)
    assert resolved.resolved_at <= resolved.resolve_by


def test_a_pause_that_is_still_open_moves_the_deadline_as_time_goes_by() -> None:
    issue = owned(WEDNESDAY)
    issue = then(
        issue, accepted(decide_pause(issue, PauseResolution("away"), "E-17", end_of(2026, 3, 9)))
    )

    assert deadline_after(issue, at(2026, 3, 10, 1)) == (at(2026, 3, 10, 1, 0, 0), 3601)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_pause_needs_a_reason(reason: str | None) -> None:
    issue = assign(friday_evening_issue(), "E-17", at(2026, 3, 7, 9))

    rejection = decide_pause(issue, PauseResolution(reason), "E-17", at(2026, 3, 7, 10))

    assert isinstance(rejection, Rejection) and rejection.kind == RejectionKind.INVALID
    assert [e.field for e in rejection.errors] == ["reason"]


def test_the_policy_may_cap_the_pauses_of_an_issue_and_by_default_does_not() -> None:
    issue = paused(
        owned(WEDNESDAY),
        ("E-17", at(2026, 3, 5, 10), at(2026, 3, 5, 11)),
        ("CS-4", at(2026, 3, 5, 12), at(2026, 3, 5, 13)),
    )
    capped = SlaPolicy(max_pauses=2)

    third = decide_pause(issue, PauseResolution("again"), "E-17", at(2026, 3, 5, 14), capped)
    uncapped = decide_pause(issue, PauseResolution("again"), "E-17", at(2026, 3, 5, 14))

    assert isinstance(third, Rejection) and third.kind == RejectionKind.CONFLICT
    assert "2 pause(s)" in third.detail
    assert accepted(uncapped).pause_no == 3
