"""Scheduling's use cases: record the fact, re-plan the customer, publish what is due."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from followup.calendar import BusinessCalendar
from followup.core.consumer import Tx
from followup.events import (
    AnyEvent,
    CustomerDelivered,
    Event,
    IntentSigned,
    IssueResolved,
    ProjectStarted,
    VisitDue,
    VisitLogged,
    derived_id,
    make_event,
)
from followup.scheduling import domain, projections

SOURCE = "followup/scheduling"


class SchedulingHandlers:
    """Handlers over one business calendar and one policy."""

    def __init__(
        self,
        calendar: BusinessCalendar,
        default_timezone: str,
        policy: domain.Policy = domain.DEFAULT_POLICY,
    ) -> None:
        self.calendar = calendar
        self.default_timezone = default_timezone
        self.policy = policy

    async def plan_visits_for_delivery(self, tx: Tx, event: Event[CustomerDelivered]) -> None:
        """CustomerDelivered: remember the delivery and re-plan the customer."""
        d = event.data
        await projections.upsert_customer_profile(
            tx.conn,
            customer_id=d.customer_id,
            tier=d.tier,
            segment=d.segment,
            timezone=d.timezone,
            region=d.region,
            account_manager_id=d.account_manager_id,
            at=d.delivered_at,
            now=tx.now,
        )
        await projections.record_delivery(
            tx.conn,
            customer_id=d.customer_id,
            order_id=d.order_id,
            delivered_at=d.delivered_at,
            product=d.product,
            tier=d.tier,
            event_id=event.id,
        )
        await self.replan_customer(tx, d.customer_id, event)

    async def plan_intent_follow_ups(self, tx: Tx, event: Event[IntentSigned]) -> None:
        """IntentSigned: follow up every 10 days until the project starts."""
        d = event.data
        await projections.upsert_customer_profile(
            tx.conn,
            customer_id=d.customer_id,
            tier=d.tier,
            segment=d.segment,
            timezone=d.timezone,
            region=d.region,
            account_manager_id=None,
            at=d.signed_at,
            now=tx.now,
        )
        await projections.record_intent_signed(tx.conn, d.customer_id, d.signed_at)
        await self.replan_customer(tx, d.customer_id, event)

    async def stop_intent_follow_ups(self, tx: Tx, event: Event[ProjectStarted]) -> None:
        """ProjectStarted: no intent follow-up is due after the start."""
        await projections.ensure_customer(tx.conn, event.data.customer_id, tx.now)
        await projections.record_project_started(
            tx.conn, event.data.customer_id, event.data.started_at
        )
        await self.replan_customer(tx, event.data.customer_id, event)

    async def plan_issue_follow_up(self, tx: Tx, event: Event[IssueResolved]) -> None:
        """IssueResolved: confirm the fix with the customer within 1 working day."""
        d = event.data
        await projections.ensure_customer(tx.conn, d.customer_id, tx.now)
        await projections.record_issue_resolved(
            tx.conn, issue_id=d.issue_id, customer_id=d.customer_id, resolved_at=d.resolved_at
        )
        await self.replan_customer(tx, d.customer_id, event)

    async def record_visit_outcome(self, tx: Tx, event: Event[VisitLogged]) -> None:
        """VisitLogged: completed closes the visit; unreachable plans the retry."""
        d = event.data
        if d.outcome == "completed":
            await projections.mark_visit_done(tx.conn, d.visit_id)
            return
        if d.outcome != "unreachable":
            return
        row = await projections.load_visit(tx.conn, d.visit_id)
        if row is None or row["status"] == "done":
            return
        facts = await projections.load_customer_facts(tx.conn, d.customer_id, self.default_timezone)
        tz = facts.timezone if facts else self.default_timezone
        retry = domain.plan_retry(_planned(row), d.logged_at, tz, self.calendar, self.policy)
        if retry is not None:
            await projections.reschedule_visit(tx.conn, retry)
            await publish_due_visits(tx, tx.now, causation=event)

    async def replan_customer(
        self, tx: Tx, customer_id: str, causation: AnyEvent | None = None
    ) -> None:
        """Recomputes the customer's open plan from their facts and publishes what is due."""
        facts = await projections.load_customer_facts(tx.conn, customer_id, self.default_timezone)
        if facts is None:
            return
        fixed, planned = await projections.plan_components(tx.conn, customer_id)
        visits = domain.plan_customer(facts, self.calendar, tx.now, fixed, planned, self.policy)
        await projections.replace_open_plan(tx.conn, customer_id, visits, tx.now)
        until = domain.horizon_end(facts, tx.now, self.policy)
        await tx.conn.execute(
            "UPDATE customer SET planned_until = $2 WHERE customer_id = $1", customer_id, until
        )
        # A visit already due when planned (history processed late) is published now.
        await publish_due_visits(tx, tx.now, causation=causation)

    async def on_tick(self, tx: Tx, now: datetime) -> None:
        """The clock moved: publish due visits, extend short plans, mark passed ones missed."""
        await publish_due_visits(tx, now)
        short = await tx.conn.fetch(
            """SELECT customer_id FROM customer WHERE planned_until < $1
               ORDER BY planned_until LIMIT 500""",
            now + _months(self.policy.horizon_months - 1),
        )
        for row in short:
            await self.replan_customer(tx, row["customer_id"])
        await publish_due_visits(tx, now)
        await projections.mark_visits_missed(tx.conn, now)


def _months(n: int) -> timedelta:
    return timedelta(days=30 * n)


def _planned(row: asyncpg.Record) -> domain.PlannedVisit:
    return domain.PlannedVisit(
        visit_id=row["visit_id"],
        customer_id=row["customer_id"],
        order_id=row["order_id"],
        kinds=tuple(row["kinds"]),
        due_at=row["due_at"],
        deadline=row["deadline"],
        deadline_provisional=row["deadline_provisional"],
        reason=row["reason"],
        attempt=row["attempt"],
        issue_id=row["issue_id"],
        sources=tuple(row["sources"]),
    )


async def publish_due_visits(tx: Tx, now: datetime, causation: AnyEvent | None = None) -> int:
    """Every planned visit due by `now` becomes `due` and gets exactly one VisitDue."""
    rows = await projections.take_due_visits(tx.conn, now)
    for row in rows:
        tx.publish(visit_due_event(row, causation))
    return len(rows)


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
