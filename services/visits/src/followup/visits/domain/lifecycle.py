"""The clock's part in a visit's life (SPEC §2, §10): a due visit whose deadline passes without
a completed log is missed, and a rescheduled one comes back to the queue at its time; each
fact once, whichever tick or handler finds it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from followup.events import derived_id
from followup.visits.domain.model import Visit, VisitBackInQueue, VisitMissed, VisitStatus


def decide_missed(visit: Visit, now: datetime) -> VisitMissed | None:
    """Missed once `now` is past the deadline of a visit still due (the deadline is on time)."""
    deadline = visit.deadline
    if visit.status != VisitStatus.DUE or deadline is None or now <= deadline:
        return None
    # Missed at the deadline, not at `now`: a replay with a later tick yields the same fact.
    return VisitMissed(visit_id=visit.visit_id, missed_at=deadline)


def missed_event_id(missed: VisitMissed) -> str:
    """One missed fact per visit and deadline, whichever tick or handler finds it."""
    return derived_id("VisitMissed", missed.visit_id, missed.missed_at.isoformat())


def mark_missed_visits(visits: Iterable[Visit], now: datetime) -> list[VisitMissed]:
    """The visits that `now` has made missed."""
    return [m for v in visits if (m := decide_missed(v, now)) is not None]


def decide_back_in_queue(visit: Visit, now: datetime) -> VisitBackInQueue | None:
    """Back in the queue once `now` reaches the time a rescheduled visit was put off to."""
    back_at = visit.rescheduled_to
    if back_at is None or now < back_at:
        return None
    # At the time asked for, not at `now`: a replay with a later tick yields the same fact.
    return VisitBackInQueue(visit_id=visit.visit_id, back_at=back_at)


def back_event_id(back: VisitBackInQueue) -> str:
    """One fact per visit and rescheduled time."""
    return derived_id("VisitBackInQueue", back.visit_id, back.back_at.isoformat())
