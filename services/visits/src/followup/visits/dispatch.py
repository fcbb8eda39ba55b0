"""The consumer's side of dispatch (SPEC §10): route newly due visits, and re-route the open
visits of agents the roster lists as inactive. Loads, decides (domain.routing), stores each
VisitAssigned as a fact of its visit and publishes it through the outbox, in the batch's
transaction. Ids are deterministic, so a replay re-deciding a routing writes nothing twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from followup.core.subscription import Tx
from followup.events import VisitAssigned, make_event
from followup.visits.domain.model import Visit, evolve
from followup.visits.domain.routing import reroute_from_inactive, route_visits
from followup.visits.projections import customers, queue, visit_events
from followup.visits.staffing import Staffing

SOURCE = "followup/visits"


async def route_new_visits(tx: Tx, staffing: Staffing, visits: Sequence[Visit]) -> int:
    """Assigns every visit that needs it and someone can take; how many were assigned."""
    roster = staffing.roster
    if not roster.agents or not visits:
        return 0
    facts = await customers.customer_facts(tx.conn, list({v.customer_id for v in visits}))
    loads = await queue.open_loads(tx.conn, list(roster.agents))
    decided = route_visits(visits, facts, roster, staffing.policy, loads, tx.now)
    await _store(tx, {v.visit_id: v for v in visits}, decided)
    return len(decided)


async def reroute_inactive(tx: Tx, staffing: Staffing, now: datetime) -> int:
    """Gives the open visits of inactive agents to active ones; how many moved."""
    roster = staffing.roster
    inactive = [a for a, agent in roster.agents.items() if not agent.active]
    if not inactive:
        return 0
    ids = await queue.open_visit_ids_of(tx.conn, inactive)
    if not ids:
        return 0
    visits = await visit_events.load_visits(tx.conn, ids)
    facts = await customers.customer_facts(tx.conn, list({v.customer_id for v in visits}))
    loads = await queue.open_loads(tx.conn, list(roster.agents))
    decided = reroute_from_inactive(visits, facts, roster, staffing.policy, loads, now)
    await _store(tx, {v.visit_id: v for v in visits}, decided)
    return len(decided)


async def _store(
    tx: Tx, visits: dict[str, Visit], decided: list[tuple[str, VisitAssigned]]
) -> None:
    for event_id, assigned in decided:
        after = evolve(visits[assigned.visit_id], assigned)
        if await visit_events.record_visit_event(
            tx.conn, assigned.visit_id, event_id, assigned, after, tx.now
        ):
            tx.publish(
                make_event(
                    assigned,
                    id=event_id,
                    source=SOURCE,
                    subject=assigned.customer_id,
                    time=assigned.assigned_at,
                )
            )
