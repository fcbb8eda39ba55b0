"""Events on followup.issues, published by the issues service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from followup.events.base import EventData, Id, Instant, Text
from followup.events.visits import Channel, ProblemCategory, Severity

IssueSource = Literal["visit", "complaint", "hotline"]
Department = Literal["after_sales", "technical", "customer_service"]


class IssueRaised(EventData):
    issue_id: Id
    customer_id: Id
    source: IssueSource
    visit_id: Id | None = None
    category: ProblemCategory
    severity: Severity
    description: Text
    raised_at: Instant
    department: Department
    handover_by: Instant
    respond_by: Instant
    resolve_by: Instant
    # dataversion 2: the customer's IANA zone the deadlines were counted in (absent: Asia/Shanghai).
    timezone: Id | None = None
    # dataversion 3: what ends the first-response clock. "contact": the first IssueResponded (or
    # the resolution, if earlier); absent: the first assignment, as issues raised before
    # IssueResponded existed keep their recorded results.
    first_response: Literal["contact"] | None = None


class IssueAssigned(EventData):
    issue_id: Id
    customer_id: Id
    assignee_id: Id
    department: Department
    assigned_at: Instant
    # dataversion 2: who assigned it (the caller; absent in events from before).
    assigned_by: Id | None = None


class IssueResolved(EventData):
    issue_id: Id
    customer_id: Id
    resolved_at: Instant
    resolved_by: Id
    resolution: Text
    resolve_by: Instant
    paused_seconds: Annotated[int, Field(ge=0)]


class IssueReopened(EventData):
    issue_id: Id
    customer_id: Id
    reopened_at: Instant
    reason: Text
    resolve_by: Instant


class IssueClosed(EventData):
    issue_id: Id
    customer_id: Id
    closed_at: Instant
    confirmed_by_visit_id: Id


# Added after v1 of the topic: new types, so readers that predate them skip or dead-letter them
# (deploy consumers first). They make followup.issues the complete history of every issue, so
# a replay rebuilds pauses, breaches and moved deadlines too, and analytics sees them.

SlaClock = Literal["handover", "first_response", "resolution"]
PauseNo = Annotated[int, Field(ge=1)]
Round = Annotated[int, Field(ge=1)]


class IssuePaused(EventData):
    """The resolution clock stops (waiting for the customer, say) until this pause is resumed."""

    issue_id: Id
    customer_id: Id
    pause_no: PauseNo
    paused_at: Instant
    paused_by: Id
    reason: Text


class IssueResumed(EventData):
    """One pause ends; the clock runs again unless another pause is still open."""

    issue_id: Id
    customer_id: Id
    pause_no: PauseNo
    resumed_at: Instant
    resumed_by: Id
    note: Text | None = None


class IssueSlaBreached(EventData):
    """A clock ran past its deadline: once per clock, escalated to the department's manager.

    The breach happens at the deadline; `department` and `owner_id` are those in charge then.
    """

    issue_id: Id
    customer_id: Id
    clock: SlaClock
    deadline: Instant
    department: Department
    owner_id: Id | None = None
    escalate_to: Id | None = None
    # The resolution round that breached (1 = before any reopen); 1 for the other clocks.
    round: Round


class IssueDeadlinesRecomputed(EventData):
    """Official calendar data for a year moved the deadlines of the clocks still open."""

    issue_id: Id
    customer_id: Id
    recomputed_at: Instant
    handover_by: Instant | None = None
    previous_handover_by: Instant | None = None
    resolve_by: Instant | None = None
    previous_resolve_by: Instant | None = None
    round: Round


class IssueResponded(EventData):
    """Someone contacted the customer about the issue; the first one ends the first-response
    clock (SPEC §10)."""

    issue_id: Id
    customer_id: Id
    responded_by: Id
    responded_at: Instant
    channel: Channel
    note: Text | None = None


class IssueSlaWarning(EventData):
    """A clock has used the policy's share of its time (default 80%): once per clock and round.

    `escalate_to` is who is warned (the owner, or the department's manager while unassigned).
    """

    issue_id: Id
    customer_id: Id
    clock: SlaClock
    deadline: Instant
    warned_at: Instant
    escalate_to: Id | None = None
    department: Department
    owner_id: Id | None = None
    round: Round


EscalationLevel = Annotated[int, Field(ge=1)]


class IssueEscalated(EventData):
    """A breached issue is still open one further SLA period later: escalated a level up
    (level 2: the director; the breach itself is level 1, IssueSlaBreached)."""

    issue_id: Id
    customer_id: Id
    level: EscalationLevel
    escalate_to: Id | None = None
    escalated_at: Instant
    clock: SlaClock
    deadline: Instant
    department: Department
    owner_id: Id | None = None
    round: Round
