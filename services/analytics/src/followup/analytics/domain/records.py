"""One table for every event type analytics reads: the record it states and the fact it is.

A record is the event's columns (its `kind` and the values a KPI reads, no free text and no
contact). The fold turns an event into its fact through its record, and the projection stores
the same record as a row and reads the fact back from it with the same function, so a row read
back is, by construction, the fact the fold made of its event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

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
)
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

Entity = Literal["customer", "visit", "issue"]
# A record's values by column name: a dict from an event, an asyncpg row read back.
Columns = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RecordType:
    """How one event type is kept: whose fact it is, under which `kind`, in which of the
    entity's fact sets (`part`), its columns and the fact those columns are."""

    entity: Entity
    kind: str
    part: str
    columns: Callable[[Any], dict[str, Any] | None]
    fact: Callable[[Columns], object]


def _profile(r: Columns) -> Profile:
    return Profile(r["at"], r["tier"], r["region"], r["timezone"])


def _customer(at: str) -> Callable[[Any], dict[str, Any]]:
    def columns(e: Any) -> dict[str, Any]:
        return {"at": getattr(e, at), "tier": e.tier, "region": e.region, "timezone": e.timezone}

    return columns


def _handover_move(e: IssueDeadlinesRecomputed) -> dict[str, Any] | None:
    """A recompute that left handover as it was states nothing analytics reads."""
    if e.handover_by is None:
        return None
    return {"at": e.recomputed_at, "handover_by": e.handover_by}


RECORD_TYPES: dict[type[EventData], RecordType] = {
    CustomerDelivered: RecordType(
        "customer", "profile", "profiles", _customer("delivered_at"), _profile
    ),
    IntentSigned: RecordType("customer", "profile", "profiles", _customer("signed_at"), _profile),
    VisitDue: RecordType(
        "visit",
        "due",
        "dues",
        lambda e: {
            "at": e.due_at,
            "deadline": e.deadline,
            "attempt": e.attempt,
            "agent_id": e.agent_id,
            "kinds": tuple(e.kinds),
            "issue_id": e.issue_id,
        },
        lambda r: DueFact(
            r["attempt"],
            r["at"],
            r["deadline"],
            r["agent_id"],
            frozenset(r["kinds"] or ()),
            r["issue_id"],
        ),
    ),
    VisitDeadlineRecomputed: RecordType(
        "visit",
        "move",
        "moves",
        lambda e: {"at": e.recomputed_at, "deadline": e.deadline},
        lambda r: DeadlineMove(r["at"], r["deadline"]),
    ),
    VisitLogged: RecordType(
        "visit",
        "log",
        "logs",
        lambda e: {
            "at": e.logged_at,
            "agent_id": e.agent_id,
            "outcome": e.outcome,
            "satisfaction": e.satisfaction,
        },
        lambda r: LogFact(r["at"], r["agent_id"], r["outcome"], r["satisfaction"]),
    ),
    VisitSpotChecked: RecordType(
        "visit",
        "check",
        "checks",
        lambda e: {"at": e.checked_at, "agent_id": e.agent_id, "result": e.result},
        lambda r: CheckFact(r["at"], r["agent_id"], r["result"]),
    ),
    IssueRaised: RecordType(
        "issue",
        "raise",
        "raises",
        lambda e: {
            "at": e.raised_at,
            "category": e.category,
            "severity": e.severity,
            "source": e.source,
            "department": e.department,
            "handover_by": e.handover_by,
            "respond_by": e.respond_by,
            "resolve_by": e.resolve_by,
            "timezone": e.timezone,
        },
        lambda r: RaisedFact(
            r["at"],
            r["category"],
            r["severity"],
            r["source"],
            r["department"],
            r["handover_by"],
            r["respond_by"],
            r["resolve_by"],
            r["timezone"],
        ),
    ),
    IssueAssigned: RecordType(
        "issue",
        "assign",
        "assignments",
        lambda e: {"at": e.assigned_at, "agent_id": e.assignee_id, "department": e.department},
        lambda r: AssignmentFact(r["at"], r["agent_id"], r["department"]),
    ),
    IssueResolved: RecordType(
        "issue",
        "resolve",
        "resolutions",
        lambda e: {
            "at": e.resolved_at,
            "resolve_by": e.resolve_by,
            "paused_seconds": e.paused_seconds,
        },
        lambda r: ResolutionFact(r["at"], r["resolve_by"], r["paused_seconds"]),
    ),
    IssueReopened: RecordType(
        "issue", "reopen", "reopens", lambda e: {"at": e.reopened_at}, lambda r: r["at"]
    ),
    IssueClosed: RecordType(
        "issue", "close", "closes", lambda e: {"at": e.closed_at}, lambda r: r["at"]
    ),
    IssueSlaBreached: RecordType(
        "issue",
        "breach",
        "breaches",
        lambda e: {
            "at": e.deadline,
            "clock": e.clock,
            "round": e.round,
            "department": e.department,
            "agent_id": e.owner_id,
        },
        lambda r: BreachFact(r["clock"], r["round"], r["at"], r["department"], r["agent_id"]),
    ),
    IssueDeadlinesRecomputed: RecordType(
        "issue",
        "handover_move",
        "handover_moves",
        _handover_move,
        lambda r: HandoverMove(r["at"], r["handover_by"]),
    ),
    IssuePaused: RecordType(
        "issue",
        "pause",
        "pauses",
        lambda e: {"at": e.paused_at, "pause_no": e.pause_no},
        lambda r: (r["pause_no"], r["at"]),
    ),
    IssueResumed: RecordType(
        "issue",
        "resume",
        "resumes",
        lambda e: {"at": e.resumed_at, "pause_no": e.pause_no},
        lambda r: (r["pause_no"], r["at"]),
    ),
}

# The record type of each stored (entity, kind): how a row read back becomes its fact.
BY_KIND: dict[tuple[Entity, str], RecordType] = {
    (t.entity, t.kind): t for t in RECORD_TYPES.values()
}
# The fact sets of a visit and of an issue, in their dataclass's field order.
VISIT_PARTS = ("dues", "moves", "logs", "checks")
ISSUE_PARTS = (
    "raises",
    "assignments",
    "resolutions",
    "reopens",
    "closes",
    "breaches",
    "handover_moves",
    "pauses",
    "resumes",
)


def record_of(event: EventData) -> tuple[RecordType, dict[str, Any]] | None:
    """The event's record type and columns; None for an event no KPI reads (ProjectStarted,
    the clock's ticks) or one that states nothing new."""
    record_type = RECORD_TYPES.get(type(event))
    if record_type is None:
        return None
    columns = record_type.columns(event)
    return None if columns is None else (record_type, columns)
