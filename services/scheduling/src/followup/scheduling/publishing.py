"""What scheduling publishes: VisitDue when a planned visit falls due, VisitDeadlineRecomputed
when official calendar data moves a published visit's deadline."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import asyncpg

from followup.core.subscription import Tx
from followup.events import (
    AnyEvent,
    Event,
    VisitDeadlineRecomputed,
    VisitDue,
    derived_id,
    make_event,
)
from followup.scheduling.domain.plan import PlannedVisit
from followup.scheduling.projections import visits

SOURCE = "followup/scheduling"
# Due visits published per statement; the tick repeats until fewer come back.
DUE_BATCH = 10_000


async def publish_due_visits(
    tx: Tx,
    now: datetime,
    causation: AnyEvent | None = None,
    causes: Mapping[str, AnyEvent] | None = None,
) -> int:
    """Every planned visit due by `now` becomes `due` and gets exactly one VisitDue.

    `causes` names, per customer, the event that made their visit due (else `causation`).
    """
    rows = await visits.take_due_visits(tx.conn, now, DUE_BATCH)
    # In due order (an UPDATE's RETURNING keeps no order of its own).
    rows.sort(key=lambda r: (r["due_at"], r["visit_id"]))
    for row in rows:
        cause = causes.get(row["customer_id"], causation) if causes else causation
        tx.publish(visit_due_event(row, cause))
    return len(rows)


def deadline_moved_event(
    visit: PlannedVisit, deadline: datetime, now: datetime
) -> Event[VisitDeadlineRecomputed]:
    """A published visit's new deadline; one id per visit and deadline."""
    data = VisitDeadlineRecomputed(
        visit_id=visit.visit_id,
        customer_id=visit.customer_id,
        deadline=deadline,
        previous_deadline=visit.deadline,
        recomputed_at=now,
    )
    return make_event(
        data,
        id=derived_id("VisitDeadlineRecomputed", visit.visit_id, deadline.isoformat()),
        source=SOURCE,
        subject=visit.customer_id,
        time=now,
    )


def visit_due_event(row: asyncpg.Record, causation: AnyEvent | None) -> Event[VisitDue]:
    """The VisitDue of a planned visit; its id depends only on the visit and the attempt."""
    data = VisitDue(
        visit_id=row["visit_id"],
        customer_id=row["customer_id"],
        order_id=row["order_id"],
        kinds=list(row["kinds"]),
        due_at=row["due_at"],
        deadline=row["deadline"],
        attempt=row["attempt"],
        issue_id=row["issue_id"],
        agent_id=row["agent_id"],
        reason=row["reason"],
    )
    return make_event(
        data,
        id=derived_id("VisitDue", row["visit_id"], str(row["attempt"])),
        source=SOURCE,
        subject=row["customer_id"],
        time=row["due_at"],
        causationid=causation.id if causation else None,
        correlationid=causation.correlationid if causation else None,
    )
