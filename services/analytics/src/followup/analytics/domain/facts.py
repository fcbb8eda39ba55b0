"""The facts analytics keeps: what one contract event said, as a value (SPEC §5).

Each fact keeps the agent and department named by its own event, so a later reassignment never
moves credit already earned. Every kind has a total order (ties broken by every field), so
which fact a rule picks never depends on the order the events came in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Profile:
    """The customer's tier and region from one delivery or signed intent, from `at` on."""

    at: datetime
    tier: str
    region: str | None
    timezone: str | None


@dataclass(frozen=True, slots=True)
class DueFact:
    attempt: int
    due_at: datetime
    deadline: datetime
    agent_id: str | None
    kinds: frozenset[str]
    issue_id: str | None


@dataclass(frozen=True, slots=True)
class DeadlineMove:
    recomputed_at: datetime
    deadline: datetime


@dataclass(frozen=True, slots=True)
class LogFact:
    logged_at: datetime
    agent_id: str
    outcome: str
    satisfaction: int | None


@dataclass(frozen=True, slots=True)
class CheckFact:
    checked_at: datetime
    agent_id: str
    result: str


@dataclass(frozen=True, slots=True)
class RaisedFact:
    raised_at: datetime
    category: str
    severity: str
    source: str
    department: str
    handover_by: datetime
    respond_by: datetime
    resolve_by: datetime
    timezone: str | None


@dataclass(frozen=True, slots=True)
class AssignmentFact:
    assigned_at: datetime
    assignee_id: str
    department: str


@dataclass(frozen=True, slots=True)
class ResolutionFact:
    resolved_at: datetime
    resolve_by: datetime
    paused_seconds: int


@dataclass(frozen=True, slots=True)
class BreachFact:
    clock: str
    round: int
    deadline: datetime
    department: str
    owner_id: str | None


@dataclass(frozen=True, slots=True)
class HandoverMove:
    recomputed_at: datetime
    handover_by: datetime


# Total orders over each kind of fact: ties are broken by every field.


def due_order(d: DueFact) -> tuple[object, ...]:
    """Attempts by number, then every field."""
    return (d.attempt, d.due_at, d.deadline, d.agent_id or "", sorted(d.kinds), d.issue_id or "")


def log_order(log: LogFact) -> tuple[object, ...]:
    """Logs by time, then every field."""
    return (log.logged_at, log.agent_id, log.outcome, log.satisfaction or 0)


def check_order(c: CheckFact) -> tuple[object, ...]:
    """Spot checks by time, then every field."""
    return (c.checked_at, c.agent_id, c.result)


def assignment_order(a: AssignmentFact) -> tuple[object, ...]:
    """Assignments by time, then every field."""
    return (a.assigned_at, a.assignee_id, a.department)


def raise_order(r: RaisedFact) -> tuple[object, ...]:
    """Raises by time, then every field."""
    return (
        r.raised_at,
        r.category,
        r.severity,
        r.source,
        r.department,
        r.handover_by,
        r.respond_by,
        r.resolve_by,
        r.timezone or "",
    )


def resolution_order(r: ResolutionFact) -> tuple[object, ...]:
    """Resolutions by time, then every field."""
    return (r.resolved_at, r.resolve_by, r.paused_seconds)
