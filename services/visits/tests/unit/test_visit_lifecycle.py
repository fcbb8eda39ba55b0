"""A visit's life: queued by VisitDue, done by a completed log, missed on the clock, due again
after a failed spot check, whatever order its events arrive in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import reduce

from followup.events import VisitDue, VisitLogged, VisitSpotChecked
from followup.visits.domain.lifecycle import decide_missed, mark_missed_visits
from followup.visits.domain.log_visit import LogVisit, decide_log_visit
from followup.visits.domain.model import (
    Visit,
    VisitEvent,
    VisitMissed,
    VisitStatus,
    assign_account_manager,
    evolve,
)
from followup.visits.domain.spot_checks import decide_spot_check

CST = timezone(timedelta(hours=8))
DUE_AT = datetime(2026, 3, 2, 9, 0, tzinfo=CST)
DEADLINE = datetime(2026, 3, 9, 23, 59, 59, tzinfo=CST)


def visit_due(
    visit_id: str = "V-1",
    agent_id: str | None = "A-7",
    attempt: int = 1,
    due_at: datetime = DUE_AT,
    deadline: datetime = DEADLINE,
) -> VisitDue:
    return VisitDue(
        visit_id=visit_id,
        customer_id="C-000123",
        order_id="O-1",
        kinds=["routine"],
        due_at=due_at,
        deadline=deadline,
        attempt=attempt,
        agent_id=agent_id,
        reason="routine visit 1 month after delivery",
    )


def visit_log(
    outcome: str = "completed",
    at: datetime = DUE_AT + timedelta(days=1),
    visit_id: str = "V-1",
    agent_id: str = "A-7",
) -> VisitLogged:
    return VisitLogged.model_validate(
        {
            "visit_id": visit_id,
            "customer_id": "C-000123",
            "agent_id": agent_id,
            "channel": "phone",
            "outcome": outcome,
            "logged_at": at,
            "satisfaction": 5 if outcome == "completed" else None,
        }
    )


def spot_check(
    result: str, at: datetime = datetime(2026, 4, 2, 10, 0, tzinfo=CST)
) -> VisitSpotChecked:
    return VisitSpotChecked.model_validate(
        {
            "visit_id": "V-1",
            "customer_id": "C-000123",
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


def shown(visit: Visit | None) -> tuple[object, ...]:
    """What the queue row shows of a visit."""
    assert visit is not None
    return (
        visit.status,
        visit.due,
        visit.deadline,
        visit.completion,
        visit.completed_on_time,
        visit.spot_check,
    )


COMPLETED_CALL = LogVisit(channel="phone", outcome="completed", satisfaction=4)


# The three transitions of issue 5, driven through the decisions the API will call.


def test_due_becomes_done_when_a_completed_log_arrives_before_the_deadline() -> None:
    visit = fold(visit_due())
    assert visit.status == VisitStatus.DUE

    logged = decide_log_visit(
        visit, COMPLETED_CALL, "A-7", datetime(2026, 3, 4, 15, 0, tzinfo=CST), event_id="E-1"
    )
    assert isinstance(logged, VisitLogged)
    done = fold(visit_due(), logged)

    assert done.status == VisitStatus.DONE
    assert done.completion == logged
    assert done.completed_on_time and not done.completed_late


def test_due_becomes_missed_when_the_deadline_passes_and_done_late_when_logged_after() -> None:
    visit = fold(visit_due())
    missed = decide_missed(visit, DEADLINE + timedelta(seconds=1))
    assert missed == VisitMissed(visit_id="V-1", missed_at=DEADLINE)
    visit = fold(visit_due(), missed)
    assert visit.status == VisitStatus.MISSED

    late = decide_log_visit(
        visit, COMPLETED_CALL, "A-7", datetime(2026, 3, 12, 10, 0, tzinfo=CST), event_id="E-2"
    )
    assert isinstance(late, VisitLogged)
    done = fold(visit_due(), missed, late)

    assert done.status == VisitStatus.DONE
    assert done.completed_late
    assert not done.completed_on_time


def test_done_becomes_due_again_after_a_not_verified_spot_check() -> None:
    done = fold(visit_due(), visit_log())
    check = decide_spot_check(
        done,
        "S-1",
        "not_verified",
        "customer says nobody called",
        datetime(2026, 3, 6, 10, 0, tzinfo=CST),
    )
    assert isinstance(check, VisitSpotChecked)

    again = fold(visit_due(), visit_log(), check)

    assert again.status == VisitStatus.DUE
    assert again.completion is None
    assert not again.completed_on_time
    assert again.logs == (visit_log(),)  # the disputed log stays in the history


def test_a_visit_that_failed_its_spot_check_never_counts_as_on_time_even_when_redone_in_time() -> (
    None
):
    redone = fold(
        visit_due(),
        visit_log(),
        spot_check("not_verified"),
        visit_log(at=datetime(2026, 3, 8, 10, 0, tzinfo=CST)),
    )

    assert redone.status == VisitStatus.DONE
    assert not redone.completed_late
    assert not redone.completed_on_time


def test_a_visit_due_again_after_a_failed_check_past_its_deadline_is_missed_on_the_next_tick() -> (
    None
):
    again = fold(visit_due(), visit_log(), spot_check("not_verified"))

    assert mark_missed_visits([again], datetime(2026, 4, 2, 11, 0, tzinfo=CST)) == [
        VisitMissed(visit_id="V-1", missed_at=DEADLINE)
    ]


def test_a_verified_spot_check_keeps_the_completion_and_the_on_time_credit() -> None:
    checked = fold(visit_due(), visit_log(), spot_check("verified"))

    assert checked.status == VisitStatus.DONE
    assert checked.completed_on_time
    assert checked.spot_check == spot_check("verified")


def test_only_the_first_spot_check_of_a_visit_counts() -> None:
    checked = fold(visit_due(), visit_log(), spot_check("verified"), spot_check("not_verified"))

    assert checked.status == VisitStatus.DONE
    assert checked.spot_check is not None and checked.spot_check.result == "verified"


# Queueing and assignment.


def test_a_visit_due_queues_the_visit_as_due_with_what_scheduling_asked_for() -> None:
    visit = fold(visit_due())

    assert visit.visit_id == "V-1" and visit.customer_id == "C-000123"
    assert visit.status == VisitStatus.DUE
    assert visit.due == visit_due()
    assert visit.deadline == DEADLINE
    assert visit.logs == () and visit.completion is None


def test_the_agent_named_on_the_visit_due_gets_the_visit_over_the_account_manager() -> None:
    visit = assign_account_manager(fold(visit_due(agent_id="A-7")), "AM-3")

    assert visit.assigned_agent_id == "A-7"


def test_a_visit_due_naming_nobody_goes_to_the_customers_account_manager() -> None:
    visit = assign_account_manager(fold(visit_due(agent_id=None)), "AM-3")

    assert visit.assigned_agent_id == "AM-3"


def test_a_visit_due_naming_nobody_for_a_customer_without_account_manager_stays_unassigned() -> (
    None
):
    visit = assign_account_manager(fold(visit_due(agent_id=None)), None)

    assert visit.assigned_agent_id is None


def test_a_duplicate_visit_due_changes_nothing() -> None:
    once = fold(visit_due(), visit_log("unreachable"))

    assert fold(visit_due(), visit_log("unreachable"), visit_due()) == once


def test_a_retry_due_after_the_visit_was_completed_changes_nothing_the_queue_shows() -> None:
    done = fold(visit_due(), visit_log())  # completed on 3 March
    retry = visit_due(
        attempt=2,
        due_at=datetime(2026, 3, 4, 9, 0, tzinfo=CST),
        deadline=datetime(2026, 3, 5, 23, 59, 59, tzinfo=CST),
    )

    assert shown(evolve(done, retry)) == shown(done)


def test_a_later_attempt_puts_a_missed_visit_back_in_the_queue_with_its_new_deadline() -> None:
    missed = fold(visit_due(), visit_log("unreachable"), VisitMissed("V-1", DEADLINE))
    retry = visit_due(
        attempt=2,
        due_at=datetime(2026, 3, 10, 9, 0, tzinfo=CST),
        deadline=datetime(2026, 3, 11, 23, 59, 59, tzinfo=CST),
    )

    again = fold(visit_due(), visit_log("unreachable"), VisitMissed("V-1", DEADLINE), retry)

    assert missed.status == VisitStatus.MISSED
    assert again.status == VisitStatus.DUE
    assert again.deadline == datetime(2026, 3, 11, 23, 59, 59, tzinfo=CST)
    assert again.unsuccessful_attempts == (visit_log("unreachable"),)


def test_an_older_attempt_arriving_late_does_not_roll_back_the_plan() -> None:
    retry = visit_due(attempt=2, deadline=datetime(2026, 3, 11, 23, 59, 59, tzinfo=CST))

    assert fold(retry, visit_due(attempt=1)).deadline == datetime(
        2026, 3, 11, 23, 59, 59, tzinfo=CST
    )


def test_a_completed_log_folded_before_its_visit_due_converges_to_the_same_visit() -> None:
    due_first = fold(visit_due(), visit_log())
    log_first = fold(visit_log(), visit_due())

    assert log_first == due_first
    assert log_first.status == VisitStatus.DONE


def test_an_unsuccessful_log_folded_before_its_visit_due_converges_to_the_same_visit() -> None:
    assert fold(visit_log("declined"), visit_due()) == fold(visit_due(), visit_log("declined"))


def test_a_spot_check_of_a_visit_never_seen_is_ignored() -> None:
    assert evolve(None, spot_check("verified")) is None


# Logs that do not complete, and logs seen twice.


def test_unreachable_and_an_old_rescheduled_log_are_attempts_that_leave_the_visit_due() -> None:
    # A rescheduled log of dataversion 1 names no time: the visit stays in the queue.
    tried = fold(visit_due(), visit_log("unreachable"), visit_log("rescheduled"))

    assert tried.status == VisitStatus.DUE
    assert tried.completion is None
    assert [log.outcome for log in tried.unsuccessful_attempts] == ["unreachable", "rescheduled"]


def test_a_redelivered_log_is_recorded_once() -> None:
    assert fold(visit_due(), visit_log(), visit_log()).logs == (visit_log(),)


def test_a_second_completed_log_is_kept_in_history_but_the_first_completion_counts() -> None:
    first = visit_log(at=datetime(2026, 3, 3, 10, 0, tzinfo=CST))
    second = visit_log(at=datetime(2026, 3, 12, 10, 0, tzinfo=CST), agent_id="A-8")

    done = fold(visit_due(), first, second)

    assert done.completion == first
    assert done.logs == (first, second)
    assert done.completed_on_time


# The clock.


def test_a_visit_logged_at_its_deadline_is_on_time_and_not_missed_at_that_instant() -> None:
    visit = fold(visit_due())

    assert decide_missed(visit, DEADLINE) is None
    assert fold(visit_due(), visit_log(at=DEADLINE)).completed_on_time


def test_missed_is_stamped_at_the_deadline_whatever_the_tick_that_notices_it() -> None:
    visit = fold(visit_due())

    assert decide_missed(visit, datetime(2026, 5, 1, tzinfo=CST)) == VisitMissed("V-1", DEADLINE)


def test_the_clock_marks_missed_only_due_visits_whose_deadline_has_passed() -> None:
    now = datetime(2026, 3, 10, 8, 0, tzinfo=CST)
    overdue = fold(visit_due("V-1"))
    not_yet = fold(visit_due("V-2", deadline=datetime(2026, 3, 10, 23, 59, 59, tzinfo=CST)))
    done = fold(visit_due("V-3"), visit_log(visit_id="V-3"))
    already_missed = fold(visit_due("V-4"), VisitMissed("V-4", DEADLINE))

    assert mark_missed_visits([overdue, not_yet, done, already_missed], now) == [
        VisitMissed("V-1", DEADLINE)
    ]


def test_a_missed_fact_does_not_move_a_visit_that_was_done_meanwhile() -> None:
    done = fold(visit_due(), visit_log())

    assert shown(evolve(done, VisitMissed("V-1", DEADLINE))) == shown(done)
