"""What the API shows: each clock's deadline, whether it is met, breached, paused or running,
the working time left or overdue at `now`, and the full timeline."""

from __future__ import annotations

from datetime import datetime

from issue_builders import CAL, accepted, at, end_of, friday_evening_issue, take, then

from followup.core.rejections import Rejection
from followup.events import IssueClosed, IssueReopened, VisitLogged, topics
from followup.issues.deps import issues_deps
from followup.issues.domain.clocks import ClockState, detect_breaches
from followup.issues.domain.lifecycle import (
    AssignIssue,
    PauseResolution,
    ResolveIssue,
    ResumeResolution,
    decide_assign,
    decide_follow_up,
    decide_pause,
    decide_resolve,
    decide_resume,
)
from followup.issues.domain.model import FOLDED_TYPES, Clock, Issue, IssueStatus
from followup.issues.domain.views import ClockView, view_issue, without_free_text
from followup.issues.subscriptions import issues_subscription

HOUR = 3600


def clock(issue: Issue, now: datetime, which: Clock) -> ClockView:
    return next(c for c in view_issue(issue, now, CAL).clocks if c.clock == which)


def test_on_monday_morning_an_untaken_weekend_issue_shows_each_clock() -> None:
    issue = friday_evening_issue()
    now = at(2026, 3, 9, 10)

    view = view_issue(issue, now, CAL)
    handover, first_response, resolution = view.clocks

    assert (view.status, view.owner_id, view.department) == (
        IssueStatus.RAISED,
        None,
        "after_sales",
    )
    assert (handover.state, handover.deadline) == (ClockState.RUNNING, end_of(2026, 3, 9))
    assert handover.working_seconds_to_deadline == 14 * HOUR - 1
    # Overdue since Sat 19:30, but the weekend is not working time: only Mon 00-10h counts.
    assert first_response.state == ClockState.BREACHED
    assert first_response.working_seconds_to_deadline == -10 * HOUR
    assert first_response.seconds_to_deadline == -(38 * HOUR + 30 * 60)
    assert first_response.breach is None  # overdue, not yet recorded by a sweep
    assert resolution.state == ClockState.RUNNING
    assert resolution.working_seconds_to_deadline == (14 + 48) * HOUR - 1
    assert not view.breached


def test_a_recorded_breach_shows_on_its_clock_and_on_the_issue() -> None:
    issue = friday_evening_issue()
    issue = then(issue, *detect_breaches(issue, at(2026, 3, 8), cal=CAL, managers={}))

    view = view_issue(issue, at(2026, 3, 8), CAL)

    assert view.breached
    assert [c.breach is not None for c in view.clocks] == [False, True, False]


def test_clocks_that_ended_show_the_margin_they_ended_with() -> None:
    issue = take(friday_evening_issue(), "E-17", at(2026, 3, 9, 8))

    handover = clock(issue, at(2026, 3, 20), Clock.HANDOVER)
    first_response = clock(issue, at(2026, 3, 20), Clock.FIRST_RESPONSE)

    assert (handover.state, handover.ended_at) == (ClockState.MET, at(2026, 3, 9, 8))
    assert handover.working_seconds_to_deadline == 16 * HOUR - 1
    assert first_response.state == ClockState.BREACHED
    assert first_response.working_seconds_to_deadline == -8 * HOUR


def test_a_paused_resolution_clock_shows_paused_with_its_deadline_moving_on() -> None:
    issue = friday_evening_issue()
    issue = then(issue, accepted(decide_assign(issue, AssignIssue("E-17"), at(2026, 3, 7, 9))))
    waiting = PauseResolution("waiting for the customer")
    issue = then(issue, accepted(decide_pause(issue, waiting, "E-17", at(2026, 3, 11, 12))))

    wednesday = clock(issue, at(2026, 3, 11, 18), Clock.RESOLUTION)
    friday = clock(issue, at(2026, 3, 13, 18), Clock.RESOLUTION)

    assert view_issue(issue, at(2026, 3, 11, 18), CAL).paused
    # Wed 12-18h paused: 6 h; by Fri 18h: Wed 12 h + Thu 24 h + Fri 18 h, over the weekend.
    assert (wednesday.state, wednesday.deadline) == (ClockState.PAUSED, at(2026, 3, 12, 5, 59, 59))
    assert (friday.state, friday.deadline) == (ClockState.PAUSED, at(2026, 3, 16, 5, 59, 59))


def follow_up(confirmed: bool, logged_at: datetime) -> VisitLogged:
    return VisitLogged.model_validate(
        {
            "visit_id": "V-5",
            "customer_id": "C-000123",
            "agent_id": "A-007",
            "channel": "phone",
            "outcome": "completed",
            "logged_at": logged_at,
            "satisfaction": 5 if confirmed else 2,
            "issue_id": "I-1",
            "issue_confirmed": confirmed,
        }
    )


def verdict(issue: Issue, visit: VisitLogged) -> IssueClosed | IssueReopened:
    decision = decide_follow_up(issue, visit, CAL)
    assert not isinstance(decision, Rejection), decision
    return decision


def full_story() -> Issue:
    issue = friday_evening_issue()
    issue = then(issue, accepted(decide_assign(issue, AssignIssue("E-17"), at(2026, 3, 9, 9))))
    issue = then(issue, *detect_breaches(issue, at(2026, 3, 9, 9), cal=CAL, managers={}))
    issue = then(issue, accepted(
        decide_pause(issue, PauseResolution("customer away"), "E-17", at(2026, 3, 9, 12))
    ))  # fmt: skip
    issue = then(issue, accepted(
        decide_resume(issue, ResumeResolution(note="customer back"), "E-17", at(2026, 3, 10, 9))
    ))  # fmt: skip
    issue = then(issue, accepted(
        decide_resolve(issue, ResolveIssue("board replaced"), "E-17", at(2026, 3, 10, 15), CAL)
    ))  # fmt: skip
    issue = then(issue, verdict(issue, follow_up(False, at(2026, 3, 11, 10))))
    issue = then(issue, accepted(
        decide_resolve(issue, ResolveIssue("remote re-paired"), "E-17", at(2026, 3, 19, 10), CAL)
    ))  # fmt: skip
    issue = then(issue, *detect_breaches(issue, at(2026, 3, 19, 11), cal=CAL, managers={}))
    return then(issue, verdict(issue, follow_up(True, at(2026, 3, 20, 10))))


def test_the_timeline_lists_everything_in_time_order_with_breaches_at_their_deadlines() -> None:
    view = view_issue(full_story(), at(2026, 3, 21), CAL)

    assert [(e.kind, e.at) for e in view.timeline] == [
        ("raised", at(2026, 3, 6, 19, 30)),
        ("breached", at(2026, 3, 7, 19, 30)),  # first response, seen Monday at 09:00
        ("assigned", at(2026, 3, 9, 9)),
        ("paused", at(2026, 3, 9, 12)),
        ("resumed", at(2026, 3, 10, 9)),
        ("resolved", at(2026, 3, 10, 15)),
        ("reopened", at(2026, 3, 11, 10)),
        ("breached", end_of(2026, 3, 16)),  # the reopened round, due Mon 03-16
        ("resolved", at(2026, 3, 19, 10)),
        ("closed", at(2026, 3, 20, 10)),
    ]
    paused, resumed = view.timeline[3], view.timeline[4]
    assert (paused.actor, paused.details["reason"]) == ("E-17", "customer away")
    assert resumed.details == {"pause_no": 1, "note": "customer back"}
    assert view.timeline[1].details["clock"] == "first_response"


def test_a_closed_issue_keeps_its_first_resolution_result_and_ends_at_the_last_one() -> None:
    view = view_issue(full_story(), at(2026, 3, 21), CAL)
    resolution = view.clocks[2]

    assert view.status == IssueStatus.CLOSED
    assert view.first_resolution == ClockState.MET
    assert (resolution.round, resolution.state) == (2, ClockState.BREACHED)
    assert view.resolved_at == at(2026, 3, 19, 10)
    assert view.closed_at == at(2026, 3, 20, 10)
    # Resolved on Thu 03-19 10:00 against Mon 03-16: Tue, Wed and 10 h of Thu overdue.
    assert resolution.working_seconds_to_deadline == -(2 * 24 + 10) * HOUR - 1


def test_an_analyst_sees_every_state_and_number_but_no_words_anyone_wrote() -> None:
    full = view_issue(full_story(), at(2026, 3, 21), CAL)
    redacted = without_free_text(full)

    assert full.description == "no picture" and redacted.description is None
    assert [(e.kind, e.at, e.actor) for e in redacted.timeline] == [
        (e.kind, e.at, e.actor) for e in full.timeline
    ]
    words = {"reason", "resolution", "note"}
    assert any(words & set(e.details) for e in full.timeline)
    assert not any(words & set(e.details) for e in redacted.timeline)
    resolved = [e for e in redacted.timeline if e.kind == "resolved"]
    assert [e.details["met"] for e in resolved] == [True, False]
    assert redacted.clocks == full.clocks and redacted.status == full.status


def test_the_service_reads_back_every_type_it_folds_and_skips_newer_ones() -> None:
    handled = set(issues_subscription(issues_deps(CAL, {})).handlers)
    on_topic = set(topics.types_on(topics.ISSUES))

    assert handled >= FOLDED_TYPES
    assert on_topic - handled == on_topic - FOLDED_TYPES
    assert {"IssueResponded", "IssuePaused", "IssueSlaBreached"} <= FOLDED_TYPES
