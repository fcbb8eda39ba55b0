"""The clock's part in a visit's life (SPEC §2): a due visit whose deadline passes without a
completed log is missed, once per deadline, whichever tick or handler finds it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from followup.events import derived_id
from followup.visits.domain.model import Visit, VisitMissed, VisitStatus


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
