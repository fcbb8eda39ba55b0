"""Scheduling's use cases: load facts, ask the policy, store the plan, publish through the outbox."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from followup.calendar import BusinessCalendar
from followup.core.consumer import Tx
from followup.events import CustomerDelivered, Event, VisitDue, VisitLogged, derived_id, make_event
from followup.scheduling import domain, projections

SOURCE = "followup/scheduling"


class SchedulingHandlers:
    """Handlers over one calendar and the policy's settings."""

    def __init__(self, calendar: BusinessCalendar, default_timezone: str) -> None:
        self.calendar = calendar
        self.default_timezone = default_timezone

    async def plan_visits_for_delivery(self, tx: Tx, event: Event[CustomerDelivered]) -> None:
        """CustomerDelivered: remember the customer and delivery, plan its visits."""
        d = event.data
        tz = d.timezone or self.default_timezone
        await projections.upsert_customer(
            tx.conn, customer_id=d.customer_id, tier=d.tier, segment=d.segment, timezone=tz,
            region=d.region, account_manager_id=d.account_manager_id,
            delivered_at=d.delivered_at, now=tx.now,
        )
        is_new = await projections.record_delivery(
            tx.conn, customer_id=d.customer_id, order_id=d.order_id, delivered_at=d.delivered_at,
            product=d.product, tier=d.tier, event_id=event.id,
        )
        if not is_new:
            return
        delivery = domain.Delivery(d.customer_id, d.order_id, d.delivered_at, d.tier, tz)
        visits = domain.plan_visits_for_delivery(delivery, self.calendar, tx.now)
        await projections.add_planned_visits(tx.conn, visits, tx.now)
        # A visit already due when it is planned (delivery processed after its due time) is
        # published now rather than waiting for the next tick.
        await publish_due_visits(tx, tx.now, causation=event)

    async def record_visit_logged(self, tx: Tx, event: Event[VisitLogged]) -> None:
        """VisitLogged: a completed log closes the planned visit."""
        if event.data.outcome == "completed":
            await projections.mark_visit_done(tx.conn, event.data.visit_id)

    async def on_tick(self, tx: Tx, now: datetime) -> None:
        """The clock moved: publish newly due visits, mark passed deadlines missed."""
        await publish_due_visits(tx, now)
        await projections.mark_visits_missed(tx.conn, now)


async def publish_due_visits(tx: Tx, now: datetime, causation: Event[object] | None = None) -> int:
    """Every planned visit due by `now` becomes `due` and gets exactly one VisitDue."""
    rows = await projections.take_due_visits(tx.conn, now)
    for row in rows:
        tx.publish(visit_due_event(row, causation))
    return len(rows)


def visit_due_event(row: asyncpg.Record, causation: Event[object] | None) -> Event[VisitDue]:
    """The VisitDue of a planned visit; its id depends only on the visit and attempt."""
    data = VisitDue(
        visit_id=row["visit_id"], customer_id=row["customer_id"], order_id=row["order_id"],
        kinds=list(row["kinds"]), due_at=row["due_at"], deadline=row["deadline"],
        attempt=row["attempt"], issue_id=row["issue_id"], agent_id=row["agent_id"],
        reason=row["reason"],
    )
    return make_event(
        data, id=derived_id("VisitDue", row["visit_id"], str(row["attempt"])), source=SOURCE,
        subject=row["customer_id"], time=row["due_at"],
        causationid=causation.id if causation else None,
        correlationid=causation.correlationid if causation else None,
    )
