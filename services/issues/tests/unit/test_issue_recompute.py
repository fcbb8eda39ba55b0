"""Loading an official calendar year moves the deadlines of clocks still open, and only those:
finished clocks and escalated breaches keep what they had."""

from __future__ import annotations

from datetime import date, datetime

from issue_builders import accepted, at, end_of, then

from followup.calendar import BusinessCalendar, YearData, default_calendar
from followup.events import IssueRaised, IssueReopened
from followup.issues.domain.clocks import detect_breaches, recompute_deadlines
from followup.issues.domain.lifecycle import (
    AssignIssue,
    ResolveIssue,
    decide_assign,
    decide_resolve,
)
from followup.issues.domain.model import Clock, DeadlinesRecomputed, Issue, open_issue
from followup.issues.domain.raising import RaiseComplaint, raise_complaint
from followup.issues.domain.views import view_issue

OFFICIAL = default_calendar()
# As before the State Council published 2026: weekends and lunar festivals, no make-up days.
PROVISIONAL_2026 = BusinessCalendar.load(library=False)


def raised_on(cal: BusinessCalendar, raised_at: datetime) -> Issue:
    command = RaiseComplaint(
        customer_id="C-000123", category="fault", severity="general", description="no picture"
    )
    raised = raise_complaint(command, "I-1", raised_at, cal)
    assert isinstance(raised, IssueRaised)
    return open_issue(raised)


def before_spring_festival() -> Issue:
    """Fri 2026-02-13 18:05 on the provisional calendar: Sat 14 is a plain weekend day and the
    festival runs Feb 16–23, so handover is Tue 24 and resolution Thu 26."""
    issue = raised_on(PROVISIONAL_2026, at(2026, 2, 13, 18, 5))
    assert (issue.handover_by, issue.current_round.deadline) == (
        end_of(2026, 2, 24),
        end_of(2026, 2, 26),
    )
    return issue


def test_the_official_year_moves_open_clocks_to_the_make_up_saturday() -> None:
    issue = before_spring_festival()

    moved = recompute_deadlines(issue, OFFICIAL, at(2026, 2, 13, 20))

    assert moved == DeadlinesRecomputed(
        issue_id="I-1",
        customer_id=issue.customer_id,
        recomputed_at=at(2026, 2, 13, 20),
        handover_by=end_of(2026, 2, 14),
        previous_handover_by=end_of(2026, 2, 24),
        resolve_by=end_of(2026, 2, 25),
        previous_resolve_by=end_of(2026, 2, 26),
        round=1,
    )
    issue = then(issue, moved)
    view = view_issue(issue, at(2026, 2, 13, 20), OFFICIAL)
    assert [c.deadline for c in view.clocks] == [
        end_of(2026, 2, 14),
        at(2026, 2, 14, 18, 5),  # hour-based: never moves
        end_of(2026, 2, 25),
    ]
    assert view.timeline[-1].kind == "deadlines_recomputed"


def test_a_clock_that_already_ended_keeps_its_deadline() -> None:
    issue = before_spring_festival()
    issue = then(issue, accepted(decide_assign(issue, AssignIssue("E-17"), at(2026, 2, 13, 19))))

    moved = recompute_deadlines(issue, OFFICIAL, at(2026, 2, 13, 20))

    assert moved is not None
    assert (moved.handover_by, moved.resolve_by) == (None, end_of(2026, 2, 25))
    assert then(issue, moved).handover_by == end_of(2026, 2, 24)


def test_a_resolved_issue_keeps_all_its_results() -> None:
    issue = before_spring_festival()
    issue = then(issue, accepted(decide_assign(issue, AssignIssue("E-17"), at(2026, 2, 13, 19))))
    resolved = decide_resolve(
        issue, ResolveIssue("fixed"), "E-17", at(2026, 2, 13, 19, 30), OFFICIAL
    )
    issue = then(issue, accepted(resolved))

    assert recompute_deadlines(issue, OFFICIAL, at(2026, 2, 14)) is None


def test_a_reopened_round_moves_its_own_deadline_and_keeps_the_first_result() -> None:
    issue = before_spring_festival()
    issue = then(issue, accepted(decide_assign(issue, AssignIssue("E-17"), at(2026, 2, 13, 19))))
    first = decide_resolve(
        issue, ResolveIssue("fixed"), "E-17", at(2026, 2, 13, 19), PROVISIONAL_2026
    )
    issue = then(issue, accepted(first))
    issue = then(issue, IssueReopened(
        issue_id="I-1", customer_id="C-000123", reopened_at=at(2026, 2, 13, 21),
        reason="not confirmed", resolve_by=end_of(2026, 2, 26),
    ))  # fmt: skip

    moved = recompute_deadlines(issue, OFFICIAL, at(2026, 2, 13, 22))

    assert moved is not None
    assert (moved.round, moved.resolve_by) == (2, end_of(2026, 2, 25))
    issue = then(issue, moved)
    assert [r.deadline for r in issue.rounds] == [end_of(2026, 2, 26), end_of(2026, 2, 25)]
    assert issue.rounds[0].resolved == first


def test_an_escalated_breach_is_not_undone_by_a_new_calendar() -> None:
    issue = before_spring_festival()
    # Nobody took it by the provisional handover deadline; the breach was escalated.
    issue = then(issue, *detect_breaches(issue, at(2026, 2, 25), cal=PROVISIONAL_2026, managers={}))
    assert [b.clock for b in issue.breaches] == [Clock.HANDOVER, Clock.FIRST_RESPONSE]

    moved = recompute_deadlines(issue, OFFICIAL, at(2026, 2, 25, 1))

    assert moved is not None
    assert (moved.handover_by, moved.resolve_by) == (None, end_of(2026, 2, 25))


def test_nothing_moves_when_the_new_calendar_agrees() -> None:
    issue = raised_on(OFFICIAL, at(2026, 3, 6, 19, 30))

    assert recompute_deadlines(issue, OFFICIAL, at(2026, 3, 7)) is None


def test_a_deadline_counted_into_an_unpublished_year_is_provisional_until_that_year_loads() -> None:
    # Thu 2026-12-31: 2027 is provisional, with New Year's Day off (Fri Jan 1).
    issue = raised_on(OFFICIAL, at(2026, 12, 31, 10))
    before = view_issue(issue, at(2026, 12, 31, 11), OFFICIAL)
    # A schedule for 2027 (made up for this test) that also gives Mon Jan 4 off.
    published = OFFICIAL.with_year(
        YearData(
            "CN",
            2027,
            holidays={date(2027, 1, 1): "New Year's Day", date(2027, 1, 4): "New Year's Day"},
            workdays={},
        )
    )

    moved = recompute_deadlines(issue, published, at(2027, 1, 1))
    after = view_issue(then(issue, accepted_move(moved)), at(2027, 1, 1), published)

    assert [(c.deadline, c.provisional) for c in before.clocks] == [
        (end_of(2027, 1, 4), True),
        (at(2027, 1, 1, 10), False),
        (end_of(2027, 1, 6), True),
    ]
    assert [(c.deadline, c.provisional) for c in after.clocks] == [
        (end_of(2027, 1, 5), False),
        (at(2027, 1, 1, 10), False),
        (end_of(2027, 1, 7), False),
    ]


def accepted_move(moved: DeadlinesRecomputed | None) -> DeadlinesRecomputed:
    assert moved is not None
    return moved
