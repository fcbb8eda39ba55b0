"""A visit's life (SPEC §2, §3): fold VisitDue, VisitDeadlineRecomputed, VisitLogged,
VisitSpotChecked and the clock's misses into one state.

due → done (a completed log); due → missed (its deadline passes on the clock); missed → done
(a late log); done → due (a `not_verified` spot check takes the completion away); missed → due
(a later attempt, or a deadline moved past the miss). No dead ends (SPEC §10): a `declined` log
ends the visit as declined, the third `unreachable` one as unreachable; a `rescheduled` log
takes the visit out of the queue until its `rescheduled_to`, when the clock puts it back (due,
or missed if its unchanged deadline has passed). No I/O and no clock: every rule takes `now` or
reads the time carried by the event.

The facts come from two topics (scheduling's plans, this service's own logs and checks) that a
replay may read in any interleaving, so the state is derived from the facts kept (`_settle`)
rather than from the order they came in: live and rebuilt, the same facts make the same visit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

from followup.events import (
    VisitAssigned,
    VisitDeadlineRecomputed,
    VisitDue,
    VisitLogged,
    VisitSpotChecked,
)


class VisitStatus(StrEnum):
    DUE = "due"
    MISSED = "missed"
    DONE = "done"
    # Out of the queue until the customer's chosen time, then due (or missed) again.
    RESCHEDULED = "rescheduled"
    # Ended without a completion: no retry, nothing left to do but read it.
    DECLINED = "declined"
    UNREACHABLE = "unreachable"


# The attempts scheduling makes in all (SPEC §2 retry): the third unreachable log ends a visit.
UNREACHABLE_ATTEMPTS = 3
ENDED = frozenset({VisitStatus.DECLINED, VisitStatus.UNREACHABLE})


@dataclass(frozen=True)
class VisitMissed:
    """The deadline passed without a completed log: an internal fact, never published."""

    visit_id: str
    missed_at: datetime


@dataclass(frozen=True)
class VisitBackInQueue:
    """The time a rescheduled visit was put off to has come: an internal fact, never published."""

    visit_id: str
    back_at: datetime


VisitEvent: TypeAlias = (
    VisitDue
    | VisitDeadlineRecomputed
    | VisitLogged
    | VisitSpotChecked
    | VisitMissed
    | VisitBackInQueue
    | VisitAssigned
)


@dataclass(frozen=True)
class Visit:
    """One visit in the agents' queue, as its events have made it."""

    visit_id: str
    customer_id: str
    status: VisitStatus
    # The VisitDue in force (see `due_in_force`). None only while a log or a deadline move
    # has been folded before any VisitDue (they may come from another topic, or ahead of it).
    due: VisitDue | None = None
    # A customer fact, not an event of this visit: it assigns visits whose VisitDue names nobody.
    account_manager_id: str | None = None
    logs: tuple[VisitLogged, ...] = ()
    completion: VisitLogged | None = None
    spot_check: VisitSpotChecked | None = None
    # Every attempt's VisitDue (the first received of each), by attempt.
    dues: tuple[VisitDue, ...] = ()
    # Every deadline move scheduling announced, kept even when it does not apply (yet).
    moves: tuple[VisitDeadlineRecomputed, ...] = ()
    # The deadlines the clock found passed without a completion (VisitMissed.missed_at).
    missed: frozenset[datetime] = frozenset()
    # The rescheduled times the clock found reached (VisitBackInQueue.back_at).
    back: frozenset[datetime] = frozenset()
    # Every assignment (routing's and supervisors'), the latest by assigned_at in force.
    assignments: tuple[VisitAssigned, ...] = ()

    @property
    def rescheduled_to(self) -> datetime | None:
        """When a rescheduled visit comes back to the queue; None unless it is rescheduled."""
        if self.status != VisitStatus.RESCHEDULED:
            return None
        return pending_reschedule(self.logs)

    @property
    def assignment(self) -> VisitAssigned | None:
        """The assignment in force: the latest (SPEC §10; at the same instant, the one stored
        last), None before any."""
        return max(reversed(self.assignments), key=lambda a: a.assigned_at, default=None)

    @property
    def assigned_agent_id(self) -> str | None:
        """The agent last assigned; before any VisitAssigned (no roster to route by), the agent
        the VisitDue names, else the customer's account manager, else nobody."""
        if (assignment := self.assignment) is not None:
            return assignment.agent_id
        named = self.due.agent_id if self.due is not None else None
        return named or self.account_manager_id

    @property
    def is_open(self) -> bool:
        """Still to be worked: due, missed or rescheduled (not done, not ended)."""
        return self.status not in ENDED and self.status != VisitStatus.DONE

    @property
    def deadline(self) -> datetime | None:
        """The deadline in force, once the VisitDue is known: moved by scheduling, or its own."""
        return deadline_in_force(self.due, self.moves, self.completion)

    @property
    def completed_late(self) -> bool:
        """Completed, but after its deadline."""
        return (
            self.completion is not None
            and self.deadline is not None
            and self.completion.logged_at > self.deadline
        )

    @property
    def failed_spot_check(self) -> bool:
        """A supervisor could not verify that the visit happened."""
        return self.spot_check is not None and self.spot_check.result == "not_verified"

    @property
    def completed_on_time(self) -> bool:
        """Completed by its deadline and never failed a spot check (SPEC §5 on-time rate)."""
        # A failed spot check means the on-time completion was never real; a later re-visit
        # is remedial and must not earn the visit back its on-time credit.
        return (
            self.completion is not None
            and self.deadline is not None
            and not self.completed_late
            and not self.failed_spot_check
        )

    @property
    def unsuccessful_attempts(self) -> tuple[VisitLogged, ...]:
        """Logs that reached nobody or did not complete the visit (unreachable, declined, …)."""
        return tuple(log for log in self.logs if log.outcome != "completed")


def evolve(visit: Visit | None, event: VisitEvent) -> Visit | None:
    """The visit after one more event; never reads the clock, tolerates any order."""
    if isinstance(event, VisitDue):
        return receive_visit_due(visit, event)
    if isinstance(event, VisitDeadlineRecomputed):
        return receive_deadline_move(visit, event)
    if isinstance(event, VisitLogged):
        return record_visit_log(visit, event)
    if isinstance(event, VisitSpotChecked):
        return record_spot_check(visit, event) if visit is not None else None
    if isinstance(event, VisitBackInQueue):
        return record_back_in_queue(visit, event) if visit is not None else None
    if isinstance(event, VisitAssigned):
        return record_assignment(visit, event)
    return record_missed(visit, event) if visit is not None else None


def _new_visit(visit_id: str, customer_id: str) -> Visit:
    return Visit(visit_id=visit_id, customer_id=customer_id, status=VisitStatus.DUE)


def receive_visit_due(visit: Visit | None, due: VisitDue) -> Visit:
    """A VisitDue queues the visit; a repeat of an attempt already known changes nothing."""
    visit = visit or _new_visit(due.visit_id, due.customer_id)
    if any(d.attempt == due.attempt for d in visit.dues):
        return visit
    dues = tuple(sorted((*visit.dues, due), key=lambda d: d.attempt))
    return _settle(replace(visit, dues=dues))


def receive_deadline_move(visit: Visit | None, move: VisitDeadlineRecomputed) -> Visit:
    """A deadline move is kept, even for a visit whose VisitDue has not come yet.

    Kept rather than dropped so that the order of arrival never matters: a move that came
    first applies once its VisitDue is known (`deadline_move_in_force` decides which apply).
    """
    visit = visit or _new_visit(move.visit_id, move.customer_id)
    if move in visit.moves:
        return visit
    return _settle(replace(visit, moves=(*visit.moves, move)))


def record_visit_log(visit: Visit | None, log: VisitLogged) -> Visit:
    """Every log is kept as an attempt; the first completed one completes the visit, a
    declined or the third unreachable one ends it, a rescheduled one puts it off."""
    visit = visit or _new_visit(log.visit_id, log.customer_id)
    if log in visit.logs:
        return visit  # a redelivery of a log already folded
    logged = replace(visit, logs=(*visit.logs, log))
    if log.outcome != "completed" or visit.completion is not None:
        # The command rejects a log on a completed visit; a race that got one through anyway
        # stays in the history without moving the completion already counted.
        return _settle(logged)
    return _settle(replace(logged, completion=log))


def record_spot_check(visit: Visit, check: VisitSpotChecked) -> Visit:
    """A check is kept once; `not_verified` takes the completion away and the visit is open."""
    if visit.spot_check is not None:
        return visit
    if check.result == "verified":
        return replace(visit, spot_check=check)
    # Due again, or missed at once if the clock already found its deadline passed; otherwise
    # the clock sweep (decide_missed) owns the move to missed.
    return _settle(replace(visit, spot_check=check, completion=None))


def record_assignment(visit: Visit | None, assigned: VisitAssigned) -> Visit:
    """An assignment is kept once; the latest one names the visit's agent."""
    visit = visit or _new_visit(assigned.visit_id, assigned.customer_id)
    if assigned in visit.assignments:
        return visit
    return replace(visit, assignments=(*visit.assignments, assigned))


def record_missed(visit: Visit, missed: VisitMissed) -> Visit:
    """The clock found a deadline passed; the visit is missed while that deadline is in force."""
    if missed.missed_at in visit.missed:
        return visit
    return _settle(replace(visit, missed=visit.missed | {missed.missed_at}))


def record_back_in_queue(visit: Visit, back: VisitBackInQueue) -> Visit:
    """The clock reached a rescheduled time; the visit is back while that rescheduling holds."""
    if back.back_at in visit.back:
        return visit
    return _settle(replace(visit, back=visit.back | {back.back_at}))


def ending(logs: tuple[VisitLogged, ...]) -> VisitStatus | None:
    """How the logs ended the visit without completing it, judged in the order they were
    logged: at the first `declined`, or at the third `unreachable`; None while neither."""
    unreachable = 0
    for log in sorted(logs, key=lambda entry: entry.logged_at):
        if log.outcome == "declined":
            return VisitStatus.DECLINED
        if log.outcome == "unreachable":
            unreachable += 1
            if unreachable >= UNREACHABLE_ATTEMPTS:
                return VisitStatus.UNREACHABLE
    return None


def pending_reschedule(logs: tuple[VisitLogged, ...]) -> datetime | None:
    """The time the latest log put the visit off to, if that log is a rescheduling."""
    latest = max(logs, key=lambda entry: entry.logged_at, default=None)
    if latest is None or latest.outcome != "rescheduled":
        return None
    return latest.rescheduled_to


def due_in_force(dues: tuple[VisitDue, ...], completion: VisitLogged | None) -> VisitDue | None:
    """The latest attempt's VisitDue, unless the visit was completed before that attempt was
    due: a retry planned after an `unreachable` that a completion then overtook never ran."""
    for due in reversed(dues):
        if due.attempt == 1 or completion is None or completion.logged_at >= due.due_at:
            return due
    return dues[0] if dues else None


def deadline_move_in_force(
    due: VisitDue, moves: tuple[VisitDeadlineRecomputed, ...], completion: VisitLogged | None
) -> VisitDeadlineRecomputed | None:
    """The latest deadline move that concerns `due` and came while the visit was open.

    A move recomputed before `due` was due concerns an earlier attempt (scheduling announces
    moves only for published visits, and a VisitDue is published once due); a move recomputed
    at or after the completion does not touch a done visit (SPEC §2: open visits only). Judged
    on the instants the events carry, not on their order of arrival.
    """
    applicable = [
        m
        for m in moves
        if m.recomputed_at >= due.due_at
        and (completion is None or m.recomputed_at < completion.logged_at)
    ]
    return max(applicable, key=lambda m: (m.recomputed_at, m.deadline), default=None)


def _settle(visit: Visit) -> Visit:
    """The derived part of a visit from its facts: the VisitDue in force and the status."""
    due = due_in_force(visit.dues, visit.completion)
    put_off_to = pending_reschedule(visit.logs)
    if visit.completion is not None:
        status = VisitStatus.DONE
    elif (ended := ending(visit.logs)) is not None:
        status = ended
    elif put_off_to is not None and put_off_to not in visit.back:
        status = VisitStatus.RESCHEDULED
    elif (deadline := deadline_in_force(due, visit.moves, None)) is not None and (
        deadline in visit.missed
    ):
        status = VisitStatus.MISSED
    else:
        # A miss of an earlier deadline (before a retry or a move) no longer counts.
        status = VisitStatus.DUE
    # One copy, not two: a fold settles the visit on every event it applies.
    return replace(visit, due=due, status=status)


def deadline_in_force(
    due: VisitDue | None,
    moves: tuple[VisitDeadlineRecomputed, ...],
    completion: VisitLogged | None,
) -> datetime | None:
    """The deadline in force, once the VisitDue is known: moved by scheduling, or its own."""
    if due is None:
        return None
    move = deadline_move_in_force(due, moves, completion)
    return move.deadline if move is not None else due.deadline


def assign_account_manager(visit: Visit, account_manager_id: str | None) -> Visit:
    """Remembers the customer's account manager; it takes visits whose VisitDue names nobody."""
    return replace(visit, account_manager_id=account_manager_id)
