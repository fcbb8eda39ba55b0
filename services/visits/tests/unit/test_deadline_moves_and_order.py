"""Deadlines moved by official calendar data (VisitDeadlineRecomputed), and a visit that comes
out the same whatever interleaving of scheduling's topic and its own a replay reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.events import VisitDeadlineRecomputed, VisitDue, VisitLogged, VisitSpotChecked
from followup.visits.domain.lifecycle import decide_missed
from followup.visits.domain.model import Visit, VisitEvent, VisitMissed, VisitStatus, evolve

CST = timezone(timedelta(hours=8))
DUE_AT = datetime(2027, 2, 1, 9, 0, tzinfo=CST)
# 2027: provisional counting put the deadline on Monday 15 February; the official calendar
# made Sunday 14 February a make-up working day, so the deadline moves a day earlier.
DEADLINE = datetime(2027, 2, 15, 23, 59, 59, tzinfo=CST)
EARLIER = datetime(2027, 2, 14, 23, 59, 59, tzinfo=CST)
LATER = datetime(2027, 2, 22, 23, 59, 59, tzinfo=CST)


def due(attempt: int = 1, due_at: datetime = DUE_AT, deadline: datetime = DEADLINE) -> VisitDue:
    return VisitDue(
        visit_id="V-1",
        customer_id="C-1",
        kinds=["routine"] if attempt == 1 else ["routine", "retry"],
        due_at=due_at,
        deadline=deadline,
        attempt=attempt,
        agent_id="A-7",
        reason=f"attempt {attempt}",
    )


def moved(to: datetime, at: datetime, previous: datetime = DEADLINE) -> VisitDeadlineRecomputed:
    return VisitDeadlineRecomputed(
        visit_id="V-1", customer_id="C-1", deadline=to, previous_deadline=previous, recomputed_at=at
    )


def log(outcome: str, at: datetime) -> VisitLogged:
    return VisitLogged.model_validate(
        {
            "visit_id": "V-1",
            "customer_id": "C-1",
            "agent_id": "A-7",
            "channel": "phone",
            "outcome": outcome,
            "logged_at": at,
            "satisfaction": 4 if outcome == "completed" else None,
        }
    )


def check(result: str, at: datetime) -> VisitSpotChecked:
    return VisitSpotChecked.model_validate(
        {
            "visit_id": "V-1",
            "customer_id": "C-1",
            "agent_id": "A-7",
            "supervisor_id": "S-1",
            "checked_at": at,
            "result": result,
        }
    )


def fold(*events: VisitEvent) -> Visit:
    visit = reduce(evolve, events, None)
    assert visit is not None
    return visit


# Deadline moves on an open visit.


def test_a_move_gives_a_due_visit_its_new_deadline_and_keeps_its_due_time() -> None:
    visit = fold(due(), moved(EARLIER, at=datetime(2027, 1, 10, 9, tzinfo=CST)))
    # Recomputed before the visit was due: about an earlier plan, not this VisitDue.
    assert visit.deadline == DEADLINE

    visit = fold(due(), moved(EARLIER, at=datetime(2027, 2, 3, 9, tzinfo=CST)))

    assert visit.status == VisitStatus.DUE
    assert visit.deadline == EARLIER
    assert visit.due is not None and visit.due.due_at == DUE_AT


def test_a_missed_visit_whose_new_deadline_is_still_ahead_is_due_again() -> None:
    now = datetime(2027, 2, 16, 10, 0, tzinfo=CST)
    missed = fold(due(), VisitMissed("V-1", DEADLINE))
    assert missed.status == VisitStatus.MISSED

    again = evolve(missed, moved(LATER, at=now))

    assert again is not None and again.status == VisitStatus.DUE
    assert again.deadline == LATER
    assert decide_missed(again, now) is None
    # ... and missed again, at its new deadline, once that one passes.
    assert decide_missed(again, LATER + timedelta(seconds=1)) == VisitMissed("V-1", LATER)


def test_a_missed_visit_whose_new_deadline_has_passed_too_is_missed_at_the_new_deadline() -> None:
    now = datetime(2027, 2, 16, 10, 0, tzinfo=CST)
    missed = fold(due(), VisitMissed("V-1", DEADLINE))

    after = evolve(missed, moved(EARLIER, at=now))
    assert after is not None
    decided = decide_missed(after, now)

    assert decided == VisitMissed("V-1", EARLIER)
    assert evolve(after, decided).status == VisitStatus.MISSED  # type: ignore[union-attr]


def test_a_due_visit_whose_deadline_moves_into_the_past_is_missed_at_once() -> None:
    now = datetime(2027, 2, 15, 8, 0, tzinfo=CST)  # after the new deadline, before the old
    after = fold(due(), moved(EARLIER, at=now))

    assert decide_missed(after, now) == VisitMissed("V-1", EARLIER)


def test_a_done_visit_keeps_its_deadline_and_its_on_time_credit() -> None:
    completed = log("completed", datetime(2027, 2, 15, 12, 0, tzinfo=CST))  # by the old one
    done = fold(due(), completed)

    after = evolve(done, moved(EARLIER, at=datetime(2027, 2, 16, 9, 0, tzinfo=CST)))

    assert after is not None and after.status == VisitStatus.DONE
    assert after.deadline == DEADLINE
    assert after.completed_on_time


def test_a_move_before_the_completion_is_the_deadline_the_completion_is_judged_by() -> None:
    visit = fold(
        due(),
        moved(EARLIER, at=datetime(2027, 2, 3, 9, 0, tzinfo=CST)),
        log("completed", datetime(2027, 2, 15, 12, 0, tzinfo=CST)),
    )

    assert visit.deadline == EARLIER
    assert visit.completed_late and not visit.completed_on_time


def test_a_spot_check_that_reopens_the_visit_lets_a_later_move_apply() -> None:
    visit = fold(
        due(),
        log("completed", datetime(2027, 2, 5, 12, 0, tzinfo=CST)),
        moved(LATER, at=datetime(2027, 2, 8, 9, 0, tzinfo=CST)),
    )
    assert visit.deadline == DEADLINE

    reopened = evolve(visit, check("not_verified", datetime(2027, 2, 10, 9, 0, tzinfo=CST)))

    assert reopened is not None and reopened.status == VisitStatus.DUE
    assert reopened.deadline == LATER


def test_a_retry_is_not_given_the_deadline_moved_for_the_earlier_attempt() -> None:
    retry = due(
        2,
        due_at=datetime(2027, 2, 9, 9, 0, tzinfo=CST),
        deadline=datetime(2027, 2, 10, 23, 59, 59, tzinfo=CST),
    )
    visit = fold(
        due(),
        moved(EARLIER, at=datetime(2027, 2, 3, 9, 0, tzinfo=CST)),
        log("unreachable", datetime(2027, 2, 8, 10, 0, tzinfo=CST)),
        retry,
    )

    assert visit.due == retry
    assert visit.deadline == datetime(2027, 2, 10, 23, 59, 59, tzinfo=CST)


# A move that comes before its VisitDue is kept, and applies once the VisitDue is known.


def test_a_move_for_a_visit_never_seen_is_kept_but_queues_nothing() -> None:
    kept = fold(moved(EARLIER, at=datetime(2027, 2, 3, 9, 0, tzinfo=CST)))

    assert kept.due is None and kept.deadline is None


def test_a_move_arriving_before_its_visit_due_gives_the_same_visit_as_after() -> None:
    move = moved(EARLIER, at=datetime(2027, 2, 3, 9, 0, tzinfo=CST))

    assert fold(move, due()) == fold(due(), move)
    assert fold(move, due()).deadline == EARLIER


# Whatever interleaving of the two topics a replay reads, the same visit.


def interleavings(a: Sequence[VisitEvent], b: Sequence[VisitEvent]) -> Iterator[list[VisitEvent]]:
    """Every merge of two sequences that keeps the order within each (one topic's order)."""
    if not a or not b:
        yield [*a, *b]
        return
    for rest in interleavings(a[1:], b):
        yield [a[0], *rest]
    for rest in interleavings(a, b[1:]):
        yield [b[0], *rest]


RETRY = due(
    2,
    due_at=datetime(2027, 2, 9, 9, 0, tzinfo=CST),
    deadline=datetime(2027, 2, 10, 23, 59, 59, tzinfo=CST),
)
SCENARIOS = {
    # Unreachable, retried, completed on the retry, then checked.
    "completed on the retry": (
        [due(), moved(EARLIER, at=datetime(2027, 2, 3, 9, 0, tzinfo=CST)), RETRY],
        [
            log("unreachable", datetime(2027, 2, 8, 10, 0, tzinfo=CST)),
            log("completed", datetime(2027, 2, 9, 11, 0, tzinfo=CST)),
            check("verified", datetime(2027, 2, 20, 9, 0, tzinfo=CST)),
        ],
    ),
    # Unreachable, then completed before the retry scheduling planned was due.
    "completed before the retry": (
        [due(), RETRY],
        [
            log("unreachable", datetime(2027, 2, 8, 10, 0, tzinfo=CST)),
            log("completed", datetime(2027, 2, 8, 16, 0, tzinfo=CST)),
            check("not_verified", datetime(2027, 2, 20, 9, 0, tzinfo=CST)),
        ],
    ),
    # Completed, then a move for the done visit (ignored), then a failed check.
    "moved after the completion": (
        [due(), moved(LATER, at=datetime(2027, 2, 12, 9, 0, tzinfo=CST))],
        [
            log("completed", datetime(2027, 2, 5, 10, 0, tzinfo=CST)),
            check("not_verified", datetime(2027, 2, 13, 9, 0, tzinfo=CST)),
        ],
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_interleaving_of_the_two_topics_folds_to_the_same_visit(name: str) -> None:
    scheduling, own = SCENARIOS[name]
    live = fold(*scheduling[:1], *own[:1], *scheduling[1:], *own[1:])

    folds = [fold(*order) for order in interleavings(scheduling, own)]

    assert len(folds) > 3
    assert all(f == live for f in folds)


def test_the_interleavings_keep_the_facts_that_tell_the_scenarios_apart() -> None:
    retried = fold(*SCENARIOS["completed on the retry"][0], *SCENARIOS["completed on the retry"][1])
    overtaken = fold(
        *SCENARIOS["completed before the retry"][0], *SCENARIOS["completed before the retry"][1]
    )
    reopened = fold(
        *SCENARIOS["moved after the completion"][0], *SCENARIOS["moved after the completion"][1]
    )

    assert retried.status == VisitStatus.DONE and retried.due == RETRY
    assert retried.completed_on_time
    # The failed check reopens it; the retry planned before the completion now stands.
    assert overtaken.status == VisitStatus.DUE and overtaken.due == RETRY
    assert reopened.status == VisitStatus.DUE and reopened.deadline == LATER


# The clock's misses.


def test_a_failed_spot_check_of_a_visit_missed_before_its_late_completion_is_missed_again() -> None:
    visit = fold(
        due(),
        VisitMissed("V-1", DEADLINE),
        log("completed", datetime(2027, 2, 17, 10, 0, tzinfo=CST)),
        check("not_verified", datetime(2027, 3, 1, 10, 0, tzinfo=CST)),
    )

    # Missed at once: the clock already found this deadline passed, and its fact (one id per
    # visit and deadline) cannot be recorded twice, so a sweep waiting for it would never end.
    assert visit.status == VisitStatus.MISSED
    assert decide_missed(visit, datetime(2027, 3, 1, 11, 0, tzinfo=CST)) is None


def test_a_miss_of_an_earlier_deadline_does_not_make_a_retry_missed() -> None:
    visit = fold(
        due(),
        log("unreachable", datetime(2027, 2, 8, 10, 0, tzinfo=CST)),
        RETRY,
        VisitMissed("V-1", DEADLINE),
    )

    assert visit.status == VisitStatus.DUE


# The same, over generated histories (hypothesis).

START = datetime(2027, 2, 1, 9, 0, tzinfo=CST)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[VisitEvent], list[VisitEvent]]:
    """A visit's scheduling topic (attempts and moves, in publishing order) and its own topic
    (logs, then maybe a spot check), on one timeline in hours from START."""
    hour = lambda h: START + timedelta(hours=h)  # noqa: E731
    attempts = draw(st.integers(1, 3))
    due_hours = sorted(draw(st.lists(st.integers(0, 200), min_size=attempts, max_size=attempts)))
    scheduling: list[VisitEvent] = []
    for n, at in enumerate(due_hours, start=1):
        scheduling.append(due(n, due_at=hour(at), deadline=hour(at + draw(st.integers(1, 100)))))
        for _ in range(draw(st.integers(0, 2))):
            recomputed = at + draw(st.integers(0, 60))
            scheduling.append(
                moved(hour(recomputed + draw(st.integers(-20, 80))), at=hour(recomputed))
            )
    own: list[VisitEvent] = []
    at = 0
    for outcome in draw(st.lists(st.sampled_from(["completed", "unreachable"]), max_size=3)):
        at += draw(st.integers(0, 80))
        own.append(log(outcome, hour(at)))
    if any(isinstance(e, VisitLogged) and e.outcome == "completed" for e in own):
        result = draw(st.sampled_from(["verified", "not_verified"]))
        own.append(check(result, hour(at + draw(st.integers(1, 50)))))
    return scheduling, own


@settings(max_examples=150, deadline=None)
@given(histories())
def test_generated_histories_fold_to_one_visit_whatever_the_interleaving(
    history: tuple[list[VisitEvent], list[VisitEvent]],
) -> None:
    scheduling, own = history
    folds = [fold(*order) for order in interleavings(scheduling, own)]

    assert all(f == folds[0] for f in folds[1:])
