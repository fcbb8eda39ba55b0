"""Analytics' state and its one fold: per customer, per visit and per issue, the set of what the
contract events said (SPEC §5).

Facts are sets, so folding the same events in any order, or twice, gives equal facts (topics
are read in any interleaving on replay); every rule derives from them. An event becomes its fact
through its record (`records.RECORD_TYPES`), the same one the projection stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from followup.analytics.domain.facts import (
    AssignmentFact,
    BreachFact,
    CheckFact,
    DeadlineMove,
    DueFact,
    HandoverMove,
    LogFact,
    Profile,
    RaisedFact,
    ResolutionFact,
    raise_order,
)
from followup.analytics.domain.records import record_of
from followup.events import (
    CustomerDelivered,
    EventData,
    IntentSigned,
    IssueAssigned,
    IssueClosed,
    IssueDeadlinesRecomputed,
    IssuePaused,
    IssueRaised,
    IssueReopened,
    IssueResolved,
    IssueResumed,
    IssueSlaBreached,
    VisitDeadlineRecomputed,
    VisitDue,
    VisitLogged,
    VisitSpotChecked,
)

# The events each kind of fact folds: one alias serves the fold's dispatch and its narrowing.
CustomerEvent = CustomerDelivered | IntentSigned
VisitEvent = VisitDue | VisitDeadlineRecomputed | VisitLogged | VisitSpotChecked
IssueEvent = (
    IssueRaised
    | IssueAssigned
    | IssueResolved
    | IssueReopened
    | IssueClosed
    | IssueSlaBreached
    | IssueDeadlinesRecomputed
    | IssuePaused
    | IssueResumed
)
AnalyticsEvent = CustomerEvent | VisitEvent | IssueEvent


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    customer_id: str
    profiles: frozenset[Profile] = frozenset()


@dataclass(frozen=True, slots=True)
class VisitFacts:
    visit_id: str
    customer_id: str
    dues: frozenset[DueFact] = frozenset()
    moves: frozenset[DeadlineMove] = frozenset()
    logs: frozenset[LogFact] = frozenset()
    checks: frozenset[CheckFact] = frozenset()


@dataclass(frozen=True, slots=True)
class IssueFacts:
    issue_id: str
    customer_id: str
    # One IssueRaised per issue on the topic; should two ever differ, the same one is picked
    # whatever their order.
    raises: frozenset[RaisedFact] = frozenset()
    assignments: frozenset[AssignmentFact] = frozenset()
    resolutions: frozenset[ResolutionFact] = frozenset()
    reopens: frozenset[datetime] = frozenset()
    closes: frozenset[datetime] = frozenset()
    breaches: frozenset[BreachFact] = frozenset()
    handover_moves: frozenset[HandoverMove] = frozenset()
    pauses: frozenset[tuple[int, datetime]] = frozenset()  # (pause_no, paused_at)
    resumes: frozenset[tuple[int, datetime]] = frozenset()  # (pause_no, resumed_at)

    @property
    def raised(self) -> RaisedFact | None:
        """The issue's raise; None while only later events are known."""
        if len(self.raises) == 1:  # the rule, and every KPI asks: skip the ordering
            return next(iter(self.raises))
        return min(self.raises, key=raise_order, default=None)


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything analytics knows: per customer, per visit and per issue."""

    customers: Mapping[str, CustomerFacts] = field(default_factory=dict)
    visits: Mapping[str, VisitFacts] = field(default_factory=dict)
    issues: Mapping[str, IssueFacts] = field(default_factory=dict)


E = TypeVar("E", CustomerFacts, VisitFacts, IssueFacts)


def _with_fact(entity: E, event: EventData) -> E:
    """The entity with the event's fact added to the set its record names."""
    record = record_of(event)
    if record is None:
        return entity
    record_type, columns = record
    part = record_type.part
    return replace(entity, **{part: getattr(entity, part) | {record_type.fact(columns)}})


def evolve_customer(customer: CustomerFacts | None, event: AnalyticsEvent) -> CustomerFacts:
    """A customer's facts after a CustomerDelivered or IntentSigned."""
    assert isinstance(event, CustomerEvent)
    return _with_fact(customer or CustomerFacts(event.customer_id), event)


def evolve_visit(visit: VisitFacts | None, event: AnalyticsEvent) -> VisitFacts:
    """A visit's facts after one of its events."""
    assert isinstance(event, VisitEvent)
    return _with_fact(visit or VisitFacts(event.visit_id, event.customer_id), event)


def evolve_issue(issue: IssueFacts | None, event: AnalyticsEvent) -> IssueFacts:
    """An issue's facts after one of its events."""
    assert isinstance(event, IssueEvent)
    return _with_fact(issue or IssueFacts(event.issue_id, event.customer_id), event)


def evolve(facts: Facts, event: EventData) -> Facts:
    """Facts after one contract event; folding a set of events in any order gives equal facts.

    Events no KPI reads (ProjectStarted, the clock's ticks) leave the facts as they are.
    """
    if isinstance(event, CustomerEvent):
        cid = event.customer_id
        customer = evolve_customer(facts.customers.get(cid), event)
        return replace(facts, customers={**facts.customers, cid: customer})
    if isinstance(event, VisitEvent):
        visit = evolve_visit(facts.visits.get(event.visit_id), event)
        return replace(facts, visits={**facts.visits, event.visit_id: visit})
    if isinstance(event, IssueEvent):
        issue = evolve_issue(facts.issues.get(event.issue_id), event)
        return replace(facts, issues={**facts.issues, event.issue_id: issue})
    return facts


def fold(events: Iterable[EventData], facts: Facts | None = None) -> Facts:
    """Facts after every event, from `facts` (empty by default)."""
    state = facts or Facts()
    for event in events:
        state = evolve(state, event)
    return state
