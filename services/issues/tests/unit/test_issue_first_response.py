"""First response is a contact (SPEC §10): the clock ends at the first IssueResponded, or at the
first resolution if that comes first; naming an owner no longer ends it. Issues raised before
contacts were recorded keep their rule (first assignment)."""

from __future__ import annotations

from datetime import datetime

from issue_builders import (
    CAL,
    MANAGERS,
    accepted,
    assign,
    at,
    friday_evening_issue,
    respond,
    then,
)

from followup.core.rejections import Rejection, RejectionKind
from followup.events import IssueResponded
from followup.issues.domain.clocks import ClockState, clock_spans, detect_breaches
from followup.issues.domain.lifecycle import (
    ResolveIssue,
    RespondToIssue,
    current_status,
    decide_resolve,
    decide_respond,
)
from followup.issues.domain.model import Clock, Issue, open_issue
from followup.issues.domain.views import view_issue

# friday_evening_issue: raised Fri 2026-03-06 19:30, first response due Sat 03-07 19:30.


def first_response(
    issue: Issue, now: datetime = at(2026, 3, 9)
) -> tuple[ClockState, datetime | None]:
    span = next(s for s in clock_spans(issue, now, CAL) if s.clock == Clock.FIRST_RESPONSE)
    return span.state(now), span.ended_at


def test_the_first_contact_ends_first_response_and_the_assignment_does_not() -> None:
    issue = assign(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    assert first_response(issue, at(2026, 3, 7, 12)) == (ClockState.RUNNING, None)

    issue = respond(issue, "E-17", at(2026, 3, 7, 15))

    assert first_response(issue) == (ClockState.MET, at(2026, 3, 7, 15))


def test_an_owner_who_never_calls_breaches_first_response_24_hours_after_raising() -> None:
    issue = assign(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))

    breaches = detect_breaches(issue, at(2026, 3, 7, 19, 31), cal=CAL, managers=MANAGERS)

    assert [(b.clock, b.deadline, b.owner_id) for b in breaches] == [
        ("first_response", at(2026, 3, 7, 19, 30), "E-17")
    ]


def test_a_contact_before_anyone_owns_the_issue_ends_first_response_but_not_handover() -> None:
    issue = respond(friday_evening_issue(), "CS-4", at(2026, 3, 6, 20))

    spans = {s.clock: s for s in clock_spans(issue, at(2026, 3, 7), CAL)}

    assert spans[Clock.FIRST_RESPONSE].ended_at == at(2026, 3, 6, 20)
    assert spans[Clock.HANDOVER].ended_at is None


def test_a_resolution_before_any_contact_ends_first_response() -> None:
    issue = assign(friday_evening_issue(), "E-17", at(2026, 3, 7, 10))
    fixed = accepted(
        decide_resolve(issue, ResolveIssue("reset remotely"), "E-17", at(2026, 3, 7, 11), CAL)
    )

    assert first_response(then(issue, fixed)) == (ClockState.MET, at(2026, 3, 7, 11))


def test_a_later_contact_does_not_move_the_end_of_first_response() -> None:
    issue = respond(friday_evening_issue(), "E-17", at(2026, 3, 7, 9))
    issue = respond(issue, "E-17", at(2026, 3, 8, 9), channel="onsite")

    assert first_response(issue) == (ClockState.MET, at(2026, 3, 7, 9))
    assert len(issue.responses) == 2


def test_an_issue_raised_before_contacts_were_recorded_keeps_assignment_as_first_response() -> None:
    before = friday_evening_issue()
    legacy = open_issue(before.raised.model_copy(update={"first_response": None}))

    legacy = assign(legacy, "E-17", at(2026, 3, 7, 10))

    assert first_response(legacy) == (ClockState.MET, at(2026, 3, 7, 10))


def test_a_response_names_its_actor_channel_and_time_and_shows_in_the_timeline() -> None:
    issue = friday_evening_issue()

    responded = accepted(
        decide_respond(
            issue, RespondToIssue("message", "sent the arrival window"), "E-17", at(2026, 3, 7, 9)
        )
    )
    view = view_issue(then(issue, responded), at(2026, 3, 7, 10), CAL)

    assert responded == IssueResponded(
        issue_id="I-1",
        customer_id="C-000123",
        responded_by="E-17",
        responded_at=at(2026, 3, 7, 9),
        channel="message",
        note="sent the arrival window",
    )
    entry = view.timeline[-1]
    assert (entry.kind, entry.actor, entry.details["channel"]) == ("responded", "E-17", "message")


def test_a_response_needs_a_known_channel_an_open_issue_and_a_known_issue() -> None:
    now = at(2026, 3, 7, 9)
    issue = assign(friday_evening_issue(), "E-17", at(2026, 3, 7, 8))
    resolved = then(issue, accepted(decide_resolve(issue, ResolveIssue("done"), "E-17", now, CAL)))

    bad = decide_respond(issue, RespondToIssue("fax"), "E-17", now)
    missing = decide_respond(issue, RespondToIssue(), "E-17", now)
    late = decide_respond(resolved, RespondToIssue("phone"), "E-17", now)
    unknown = decide_respond(None, RespondToIssue("phone"), "E-17", now)

    assert isinstance(bad, Rejection) and isinstance(missing, Rejection)
    assert [e.field for e in bad.errors] == ["channel"] == [e.field for e in missing.errors]
    assert isinstance(late, Rejection) and late.kind == RejectionKind.CONFLICT
    assert current_status(late) == "resolved"
    assert isinstance(unknown, Rejection) and unknown.kind == RejectionKind.NOT_FOUND
