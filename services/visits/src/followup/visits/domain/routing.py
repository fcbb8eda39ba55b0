"""Who takes a visit (SPEC §10): the account manager if the roster lists it as active, else the
team the policy routes the customer's region, segment and visit kinds to, its active agent
with the fewest open visits first (ties by agent id). Pure: the loads and `now` are given."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from followup.core.policy import Policy
from followup.core.roster import Roster
from followup.events import VisitAssigned, derived_id
from followup.visits.domain.model import Visit

ROUTING = "routing"


@dataclass(frozen=True)
class CustomerFacts:
    """What routing reads of a customer (CustomerDelivered or IntentSigned)."""

    account_manager_id: str | None = None
    region: str | None = None
    segment: str | None = None
    tier: str | None = None


def routing_event_id(visit_id: str, from_agent_id: str | None = None) -> str:
    """Deterministic: a replay re-deciding the same routing writes the same event once."""
    if from_agent_id is None:
        return derived_id("VisitAssigned", visit_id, ROUTING)
    return derived_id("VisitAssigned", visit_id, ROUTING, "from", from_agent_id)


def needs_routing(visit: Visit) -> bool:
    """An open, due-known visit that no assignment names yet."""
    return visit.due is not None and visit.is_open and not visit.assignments


def decide_agent(
    visit: Visit,
    customer: CustomerFacts,
    roster: Roster,
    policy: Policy,
    loads: Mapping[str, int],
    *,
    avoid: str | None = None,
) -> tuple[str, str | None] | None:
    """The agent and (for a team pick) the team; None when nobody active can take it."""
    manager = customer.account_manager_id
    if manager != avoid and roster.active_agent(manager) is not None:
        assert manager is not None
        return manager, None
    kinds = tuple(visit.due.kinds) if visit.due is not None else ()
    team = policy.team_for(region=customer.region, segment=customer.segment, kinds=kinds)
    members = [a for a in roster.active_members(team) if a != avoid]
    if not members:
        return None
    return min(members, key=lambda a: (loads.get(a, 0), a)), team


def route_visits(
    visits: Iterable[Visit],
    customers: Mapping[str, CustomerFacts],
    roster: Roster,
    policy: Policy,
    loads: Mapping[str, int],
    now: datetime,
) -> list[tuple[str, VisitAssigned]]:
    """An assignment (with its event id) for every visit that needs one and can have one, in
    deadline order; each counts toward the load of the next pick."""
    counted = dict(loads)
    decided: list[tuple[str, VisitAssigned]] = []
    for visit in sorted(visits, key=_queue_order(customers)):
        if not needs_routing(visit):
            continue
        facts = customers.get(visit.customer_id, CustomerFacts())
        pick = decide_agent(visit, facts, roster, policy, counted)
        if pick is None:
            continue
        agent_id, team = pick
        counted[agent_id] = counted.get(agent_id, 0) + 1
        decided.append((routing_event_id(visit.visit_id), _assigned(visit, agent_id, team, now)))
    return decided


def reroute_from_inactive(
    visits: Iterable[Visit],
    customers: Mapping[str, CustomerFacts],
    roster: Roster,
    policy: Policy,
    loads: Mapping[str, int],
    now: datetime,
) -> list[tuple[str, VisitAssigned]]:
    """Open visits of agents the roster no longer lists as active, given to someone who is."""
    counted = dict(loads)
    decided: list[tuple[str, VisitAssigned]] = []
    for visit in sorted(visits, key=_queue_order(customers)):
        current = visit.assigned_agent_id
        if not visit.is_open or current is None or roster.active_agent(current) is not None:
            continue
        facts = customers.get(visit.customer_id, CustomerFacts())
        pick = decide_agent(visit, facts, roster, policy, counted, avoid=current)
        if pick is None:
            continue
        agent_id, team = pick
        counted[agent_id] = counted.get(agent_id, 0) + 1
        event = _assigned(visit, agent_id, team, now, reason=f"{current} is not active")
        decided.append((routing_event_id(visit.visit_id, current), event))
    return decided


def _queue_order(
    customers: Mapping[str, CustomerFacts],
) -> Callable[[Visit], tuple[float, bool, str]]:
    """Deadline first; among equal deadlines gold customers first (SPEC §10), then by id."""

    def key(visit: Visit) -> tuple[float, bool, str]:
        gold = customers.get(visit.customer_id, CustomerFacts()).tier == "gold"
        deadline = visit.deadline.timestamp() if visit.deadline is not None else 0.0
        return (deadline, not gold, visit.visit_id)

    return key


def _assigned(
    visit: Visit, agent_id: str, team: str | None, now: datetime, reason: str | None = None
) -> VisitAssigned:
    return VisitAssigned(
        visit_id=visit.visit_id,
        customer_id=visit.customer_id,
        agent_id=agent_id,
        team=team,
        assigned_by=ROUTING,
        assigned_at=now,
        reason=reason,
    )
