"""No dead ends (SPEC §10): declined ends a visit, the third unreachable ends it, rescheduled
takes it out of the queue until the customer's time with its deadline unchanged; and a
visit's record reads back every attempt with its logs, free text masked for analysts.

The visit: a routine visit due Monday 1 March 2027 09:00 in Shanghai, by Monday 8 March.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import permutations
from typing import Any

import pytest

from followup.core.rejections import Rejection, RejectionKind
from followup.events import VisitDue, VisitLogged
from followup.visits.domain.lifecycle import decide_back_in_queue, decide_missed
from followup.visits.domain.log_visit import VISIT_ENDED, LogVisit, decide_log_visit
from followup.visits.domain.model import (
    Visit,
    VisitBackInQueue,
    VisitEvent,
    VisitMissed,
    VisitStatus,
    evolve,
)
from followup.visits.domain.views import MASKED, VisitRow, visit_record

CST = timezone(timedelta(hours=8))
DUE_AT = datetime(2027, 3, 1, 9, 0, tzinfo=CST)
DEADLINE = datetime(2027, 3, 8, 23, 59, 59, tzinfo=CST)
TUESDAY = datetime(2027, 3, 2, 10, 0, tzinfo=CST)
FRIDAY_MORNING = datetime(2027, 3, 5, 9, 30, tzinfo=CST)


def due(attempt: int = 1, due_at: datetime = DUE_AT, deadline: datetime = DEADLINE) -> VisitDue:
    return VisitDue(
        visit_id="V-1",
        customer_id="C-1",
        kinds=["routine"],
        due_at=due_at,
        deadline=deadline,
        attempt=attempt,
        agent_id="A-7",
        reason="routine" if attempt == 1 else f"retry {attempt} of 3 after unreachable",
    )


def logged(outcome: str, at: datetime, **fields: Any) -> VisitLogged:
    return VisitLogged.model_validate(
        {
            "visit_id": "V-1",
            "customer_id": "C-1",
            "agent_id": "A-7",
            "channel": "phone",
            "outcome": outcome,
            "logged_at": at,
            **fields,
        }
    )


def fold(*events: VisitEvent) -> Visit:
    visit: Visit | None = None
    for event in events:
        visit = evolve(visit, event)
    assert visit is not None
    return visit


def decide(visit: Visit, now: datetime, **body: Any) -> VisitLogged | Rejection:
    command = LogVisit.model_validate({"channel": "phone", **body})
    return decide_log_visit(visit, command, "A-7", now, event_id="E-1")


def errors(visit: Visit, now: datetime, **body: Any) -> dict[str, str]:
    refused = decide(visit, now, **body)
    assert isinstance(refused, Rejection) and refused.kind == RejectionKind.INVALID
    return {e.field: e.message for e in refused.errors}


# Declined.


def test_a_declined_visit_ends_declined_and_is_never_missed() -> None:
    declined = fold(due(), logged("declined", TUESDAY))

    assert declined.status == VisitStatus.DECLINED
    assert declined.completion is None and not declined.completed_on_time
    # Past its deadline the clock finds nothing to miss: the visit is over.
    assert decide_missed(declined, DEADLINE + timedelta(days=1)) is None


def test_a_declined_visit_takes_no_more_logs() -> None:
    declined = fold(due(), logged("declined", TUESDAY))

    refused = decide(declined, TUESDAY + timedelta(hours=1), outcome="completed", satisfaction=5)
    assert isinstance(refused, Rejection)
    assert (refused.kind, refused.reason) == (RejectionKind.CONFLICT, VISIT_ENDED)


def test_a_missed_visit_that_is_then_declined_ends_declined() -> None:
    late = DEADLINE + timedelta(days=2)
    visit = fold(due(), VisitMissed("V-1", DEADLINE), logged("declined", late))

    assert visit.status == VisitStatus.DECLINED


# Unreachable three times.


def test_the_third_unreachable_attempt_ends_the_visit_unreachable() -> None:
    # Attempt 1 unreachable on Tuesday; scheduling's retries come on the next working days.
    wednesday, thursday = TUESDAY + timedelta(days=1), TUESDAY + timedelta(days=2)
    first = fold(due(), logged("unreachable", TUESDAY))
    second = fold(
        due(),
        logged("unreachable", TUESDAY),
        due(2, wednesday.replace(hour=9), wednesday.replace(hour=23, minute=59)),
        logged("unreachable", wednesday),
    )
    third = evolve(
        evolve(second, due(3, thursday.replace(hour=9), thursday.replace(hour=23, minute=59))),
        logged("unreachable", thursday),
    )

    assert first.status == VisitStatus.DUE
    assert second.status == VisitStatus.DUE
    assert third is not None and third.status == VisitStatus.UNREACHABLE
    assert decide_missed(third, DEADLINE + timedelta(days=1)) is None


def test_the_order_the_facts_arrive_in_does_not_change_how_a_visit_ended() -> None:
    facts: list[VisitEvent] = [
        due(),
        logged("unreachable", TUESDAY),
        logged("unreachable", TUESDAY + timedelta(hours=2)),
        logged("declined", TUESDAY + timedelta(hours=4)),
        logged("unreachable", TUESDAY + timedelta(hours=6)),
    ]
    # The declined log came before the third unreachable one: declined, however they arrive.
    assert {fold(*order).status for order in permutations(facts)} == {VisitStatus.DECLINED}


# Rescheduled.


def test_a_rescheduled_visit_leaves_the_queue_until_its_time_with_its_deadline_unchanged() -> None:
    put_off = fold(due(), logged("rescheduled", TUESDAY, rescheduled_to=FRIDAY_MORNING))

    assert put_off.status == VisitStatus.RESCHEDULED
    assert put_off.rescheduled_to == FRIDAY_MORNING
    assert put_off.deadline == DEADLINE
    assert decide_back_in_queue(put_off, FRIDAY_MORNING - timedelta(seconds=1)) is None
    back = decide_back_in_queue(put_off, FRIDAY_MORNING + timedelta(hours=3))
    # Back at the time asked for, whenever the tick finds it.
    assert back == VisitBackInQueue("V-1", FRIDAY_MORNING)
    returned = evolve(put_off, back)
    assert returned is not None and returned.status == VisitStatus.DUE
    assert returned.rescheduled_to is None and returned.deadline == DEADLINE


def test_a_visit_rescheduled_past_its_deadline_comes_back_missed_at_that_deadline() -> None:
    tuesday_after = DEADLINE + timedelta(days=1)
    put_off = fold(due(), logged("rescheduled", TUESDAY, rescheduled_to=tuesday_after))
    # While it is put off, the clock does not miss it...
    assert decide_missed(put_off, DEADLINE + timedelta(hours=1)) is None
    returned = evolve(put_off, VisitBackInQueue("V-1", tuesday_after))
    assert returned is not None and returned.status == VisitStatus.DUE
    # ...it is missed at its own deadline once back: it was never done on time.
    assert decide_missed(returned, tuesday_after) == VisitMissed("V-1", DEADLINE)


def test_a_rescheduled_visit_can_still_be_completed_before_its_time() -> None:
    put_off = fold(due(), logged("rescheduled", TUESDAY, rescheduled_to=FRIDAY_MORNING))
    done = evolve(put_off, logged("completed", TUESDAY + timedelta(days=1), satisfaction=5))

    assert done is not None and done.status == VisitStatus.DONE and done.completed_on_time


def test_a_rescheduled_log_needs_a_later_time_with_its_offset() -> None:
    visit = fold(due())

    assert errors(visit, TUESDAY, outcome="rescheduled") == {
        "rescheduled_to": "required when the outcome is rescheduled"
    }
    assert errors(visit, TUESDAY, outcome="rescheduled", rescheduled_to="2027-03-05T09:30") == {
        "rescheduled_to": "an RFC 3339 date-time with its offset"
    }
    assert errors(
        visit, TUESDAY, outcome="rescheduled", rescheduled_to="2027-03-02T09:59:59+08:00"
    ) == {"rescheduled_to": "must be after the time of the log"}
    assert errors(
        visit, TUESDAY, outcome="unreachable", rescheduled_to="2027-03-05T09:30:00+08:00"
    ) == {"rescheduled_to": "only with the outcome rescheduled"}


def test_a_rescheduled_log_carries_the_time_the_customer_asked_for() -> None:
    event = decide(
        fold(due()), TUESDAY, outcome="rescheduled", rescheduled_to="2027-03-05T09:30:00+08:00"
    )

    assert isinstance(event, VisitLogged)
    assert event.rescheduled_to == FRIDAY_MORNING


# The record read back.


def record(*events: VisitEvent, sees_text: bool) -> dict[str, Any]:
    visit = fold(*events)
    row = VisitRow(visit_id="V-1", customer_id="C-1", kinds=["routine"], status=visit.status)
    return visit_record(row, visit, sees_text=sees_text).model_dump()


@pytest.mark.parametrize("sees_text", [True, False])
def test_the_record_shows_every_attempt_with_its_logs_and_masks_free_text(
    sees_text: bool,
) -> None:
    wednesday = TUESDAY + timedelta(days=1)
    problem = {"problem_id": "P-1", "category": "fault", "severity": "general"}
    shown = record(
        due(),
        logged("unreachable", TUESDAY, feedback="call my wife on 138 0000 1234"),
        due(2, wednesday.replace(hour=9), wednesday.replace(hour=23, minute=59)),
        logged(
            "completed",
            wednesday,
            satisfaction=4,
            checklist={"equipment": 5},
            needs=["upgrade"],
            problems=[{**problem, "description": "hum on the left speaker"}],
        ),
        sees_text=sees_text,
    )

    attempts = shown["attempts"]
    assert [(a["attempt"], [log["outcome"] for log in a["logs"]]) for a in attempts] == [
        (1, ["unreachable"]),
        (2, ["completed"]),
    ]
    completed = attempts[1]["logs"][0]
    assert (completed["satisfaction"], completed["checklist"], completed["needs"]) == (
        4,
        {"equipment": 5},
        ["upgrade"],
    )
    assert completed["problems"][0]["issue_id"]  # the issue the problem raised
    texts = (attempts[0]["logs"][0]["feedback"], completed["problems"][0]["description"])
    if sees_text:
        assert texts == ("call my wife on 138 0000 1234", "hum on the left speaker")
    else:
        assert texts == (MASKED, MASKED)
