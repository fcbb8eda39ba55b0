"""Scheduling's event handlers: fold the facts, re-plan the customers, publish what is due."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from followup.core.policy_store import record_activation
from followup.core.subscription import Tx
from followup.events import (
    AnyEvent,
    CustomerDelivered,
    Event,
    IssueResolved,
    PolicyActivated,
    VisitLogged,
)
from followup.scheduling import horizon
from followup.scheduling.calendar_change import recompute_deadlines
from followup.scheduling.domain.model import CustomerFact, CustomerState, evolve
from followup.scheduling.domain.plan import plan_retry
from followup.scheduling.metrics import SchedulingMetrics
from followup.scheduling.planning import Planner
from followup.scheduling.policy_change import PolicyFollower
from followup.scheduling.projections import customers, plans, visits
from followup.scheduling.publishing import DUE_BATCH, publish_due_visits

# The fact events one batch handler takes together (VisitLogged stays one at a time).
FACT_TYPES = (
    "CustomerDelivered",
    "IntentSigned",
    "ProjectStarted",
    "IssueResolved",
    "CustomerTierChanged",
)


class SchedulingHandlers:
    """The consumer's handlers, over one planner."""

    def __init__(self, planner: Planner, metrics: SchedulingMetrics | None = None) -> None:
        self.planner = planner
        self.metrics = metrics if metrics is not None else SchedulingMetrics()
        self.policy = PolicyFollower(planner)

    async def apply_policy(self, tx: Tx, event: Event[PolicyActivated]) -> None:
        """PolicyActivated: stored; once in force, the open plans follow it (SPEC §11)."""
        await record_activation(tx.conn, event)
        await self.policy.follow(tx.conn, tx.now)

    async def apply_customer_facts(self, tx: Tx, events: list[Event[Any]]) -> None:
        """CustomerDelivered, IntentSigned, ProjectStarted, IssueResolved, CustomerTierChanged:
        record, re-plan.

        A whole run of the batch at once: the customers are locked and read in a few
        set-based queries, the facts folded in memory in arrival order (the same result as one
        event at a time), each customer re-planned once from all of its facts, and the plan
        changes written in a few statements. The core has already dropped events seen before,
        and commits these writes with the batch's offsets.
        """
        if not events:
            return
        conn, now, planner = tx.conn, tx.now, self.planner
        # A restart (or an activation coming into force) plans on the policy in force.
        await self.policy.follow(conn, now)
        causes: dict[str, AnyEvent] = {}
        for event in events:
            causes[event.data.customer_id] = event
        states, reach, new = await customers.lock_states(conn, sorted(causes))
        stale = [c for c, at in reach.items() if horizon.is_short(at, now)]
        if stale:
            # The clock passed the end of these stored plans before a tick extended them:
            # extend them first, on the facts known before this batch. Visits past the old
            # end are kept whatever their deadline only for those facts; the new facts' visits
            # are then planned as any late fact's are (only deadlines still ahead).
            await planner.replan(conn, now, {c: states[c] for c in stale}, reach)
            reach = await customers.planned_until(conn, stale) | {
                c: at for c, at in reach.items() if c not in stale
            }
        new_deliveries: list[tuple[str, str, datetime, str, str, str]] = []
        resolved: dict[str, tuple[str, str, datetime]] = {}
        # A customer's states after each of its facts of the batch but the last: planned in
        # turn, so the plan is the same whatever the batch boundaries.
        steps: dict[str, list[CustomerState]] = {}
        seen: set[str] = set()
        for event in events:
            fact: CustomerFact = event.data
            cid = fact.customer_id
            before = states[cid]
            if cid in seen:
                steps.setdefault(cid, []).append(before)
            seen.add(cid)
            after = states[cid] = evolve(before, fact)
            if isinstance(fact, CustomerDelivered) and fact.order_id not in before.deliveries:
                at = after.deliveries[fact.order_id]
                new_deliveries.append((cid, fact.order_id, at, fact.product, fact.tier, event.id))
            elif isinstance(fact, IssueResolved):
                resolved[fact.issue_id] = (fact.issue_id, cid, after.resolved[fact.issue_id])
        await customers.insert_deliveries(conn, new_deliveries)
        await customers.upsert_resolved_issues(conn, list(resolved.values()))
        stored = await planner.replan(conn, now, states, reach, None, new, steps)
        self.metrics.visits_stored.inc(stored)
        # A visit already due when planned (history processed late) is published now.
        await self._publish_due(tx, now, causes=causes)

    async def record_visit_outcome(self, tx: Tx, event: Event[VisitLogged]) -> None:
        """VisitLogged: completed closes the visit; unreachable plans the retry."""
        d = event.data
        if d.outcome == "completed":
            await visits.mark_visit_done(tx.conn, d.visit_id)
            return
        if d.outcome != "unreachable":
            return
        row = await visits.load_visit(tx.conn, d.visit_id)
        if row is None or row["status"] == "done":
            return
        planner = self.planner
        tz = await customers.customer_timezone(tx.conn, d.customer_id)
        retry = plan_retry(
            plans.stored_visit(row),
            d.logged_at,
            tz or planner.default_timezone,
            planner.calendar,
            planner.policy,
        )
        if retry is not None:
            await visits.reschedule_visit(tx.conn, retry)
            await self._publish_due(tx, tx.now, causation=event)

    async def recompute_deadlines_for_calendar(self, tx: Tx, now: datetime) -> int:
        """Official calendar data loaded since the deadlines were counted: recompute the open
        visits' deadlines on the changed years (calendar_change.recompute_deadlines)."""
        recomputed = await recompute_deadlines(tx, now, self.planner)
        self.metrics.deadlines_recomputed.inc(recomputed)
        return recomputed

    async def on_tick(self, tx: Tx, now: datetime) -> None:
        """The clock moved: extend short plans, publish due visits, mark passed ones missed."""
        await self.policy.follow(tx.conn, now)
        self.report_calendar(now)
        # First, so visits published below already carry deadlines on the current calendar.
        await self.recompute_deadlines_for_calendar(tx, now)
        extended = await self.planner.extend_plans(tx.conn, now)
        self.metrics.plans_extended.labels("tick").inc(extended)
        while await self._publish_due(tx, now) == DUE_BATCH:
            pass
        await visits.mark_visits_missed(tx.conn, now)

    def report_calendar(self, now: datetime) -> None:
        """Whether next year's official calendar is in, as the alert rule reads it."""
        cal = self.planner.calendar
        today = now.astimezone(ZoneInfo(self.planner.default_timezone)).date()
        official = cal.next_year_reported_official(today)
        self.metrics.next_year_official.labels(cal.region).set(1 if official else 0)

    async def _publish_due(
        self,
        tx: Tx,
        now: datetime,
        causation: AnyEvent | None = None,
        causes: dict[str, AnyEvent] | None = None,
    ) -> int:
        published = await publish_due_visits(tx, now, causation, causes)
        self.metrics.visits_due.inc(published)
        return published
