"""An issue's state (SPEC §4) and the one fold that builds it: `evolve(issue, event) -> issue`.

raised → assigned → resolved → closed, or resolved → reopened → (assigned →) resolved again.
Reassigning is allowed before resolution. The resolution clock can be paused (several pauses
may be open at once, recorded by different people) while the issue is open.

The fold never reads the clock and never consults the calendar: every time and deadline it
keeps comes from the events themselves, so a replay rebuilds the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias, overload

from followup.events import (
    IssueAssigned,
    IssueClosed,
    IssueDeadlinesRecomputed,
    IssuePaused,
    IssueRaised,
    IssueReopened,
    IssueResolved,
    IssueResponded,
    IssueResumed,
    IssueSlaBreached,
)
from followup.events.issues import Department

DEFAULT_TIMEZONE = "Asia/Shanghai"


class IssueStatus(StrEnum):
    RAISED = "raised"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"


OPEN_STATUSES = frozenset({IssueStatus.RAISED, IssueStatus.ASSIGNED, IssueStatus.REOPENED})


class Clock(StrEnum):
    """The three SLA clocks of SPEC §4."""

    HANDOVER = "handover"
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


@dataclass(frozen=True)
class SlaPolicy:
    """SPEC §4 defaults, all configurable."""

    handover_working_days: int = 1
    first_response_hours: int = 24
    general_resolution_working_days: int = 3
    complex_resolution_working_days: int = 7
    # Pauses allowed per issue, over all its rounds (SPEC §10); None: no cap.
    max_pauses: int | None = None

    def resolution_working_days(self, severity: str) -> int:
        """Working days to resolve an issue of this severity."""
        if severity == "complex":
            return self.complex_resolution_working_days
        return self.general_resolution_working_days


DEFAULT_POLICY = SlaPolicy()


# Every event of an issue is a contract event on followup.issues: the topic is the whole history,
# so a replay rebuilds pauses, breaches and moved deadlines too. The names the rules use:
# a Breach is recorded once per clock, at the deadline, naming the owner and department in
# charge at that instant (however late the sweep notices it and whoever owns the issue by then).
Breach: TypeAlias = IssueSlaBreached
DeadlinesRecomputed: TypeAlias = IssueDeadlinesRecomputed


IssueEvent: TypeAlias = (
    IssueRaised
    | IssueAssigned
    | IssuePaused
    | IssueResumed
    | IssueResolved
    | IssueReopened
    | IssueClosed
    | Breach
    | DeadlinesRecomputed
    | IssueResponded
)


@dataclass(frozen=True)
class PauseRecord:
    """One pause of the resolution clock; `ended_at` is None while it is open."""

    pause_no: int
    round: int
    started_at: datetime
    paused_by: str
    reason: str
    ended_at: datetime | None = None
    resumed_by: str | None = None

    @property
    def is_open(self) -> bool:
        """Still stopping the clock."""
        return self.ended_at is None


@dataclass(frozen=True)
class ResolutionRound:
    """One run of the resolution clock: from raising (round 1) or from a reopen to a resolution.

    `deadline` is counted from `started_at` before any pause; pauses move it later (the
    deadline in force). A resolution records the deadline in force when it happened.
    """

    number: int
    started_at: datetime
    deadline: datetime
    resolved: IssueResolved | None = None


@dataclass(frozen=True)
class Issue:
    """One issue in the ledger, as its events have made it."""

    raised: IssueRaised
    status: IssueStatus
    handover_by: datetime
    respond_by: datetime
    rounds: tuple[ResolutionRound, ...]
    # The customer's IANA zone: working days and deadlines are counted in it.
    timezone: str = DEFAULT_TIMEZONE
    assignments: tuple[IssueAssigned, ...] = ()
    responses: tuple[IssueResponded, ...] = ()
    pauses: tuple[PauseRecord, ...] = ()
    closed: IssueClosed | None = None
    breaches: tuple[Breach, ...] = ()
    history: tuple[IssueEvent, ...] = ()

    @property
    def issue_id(self) -> str:
        return self.raised.issue_id

    @property
    def customer_id(self) -> str:
        return self.raised.customer_id

    @property
    def department(self) -> Department:
        """The department in charge now: the last assignment's, else the category's."""
        return self.assignments[-1].department if self.assignments else self.raised.department

    @property
    def owner_id(self) -> str | None:
        """The named owner now, if any."""
        return self.assignments[-1].assignee_id if self.assignments else None

    @property
    def first_assigned_at(self) -> datetime | None:
        """When a named owner first took the issue: it ends handover and first response."""
        return self.assignments[0].assigned_at if self.assignments else None

    @property
    def first_responded_at(self) -> datetime | None:
        """When someone first contacted the customer about the issue."""
        return min((r.responded_at for r in self.responses), default=None)

    @property
    def first_response_ended_at(self) -> datetime | None:
        """When the first-response clock ended: at the first contact or the first resolution,
        whichever came first; for issues raised before contacts were recorded (IssueRaised
        without `first_response`), at the first assignment, as their results were recorded."""
        if self.raised.first_response != "contact":
            return self.first_assigned_at
        resolved = self.rounds[0].resolved
        ends = (self.first_responded_at, resolved.resolved_at if resolved else None)
        return min((t for t in ends if t is not None), default=None)

    @property
    def current_round(self) -> ResolutionRound:
        return self.rounds[-1]

    @property
    def open_pauses(self) -> tuple[PauseRecord, ...]:
        return tuple(p for p in self.pauses if p.is_open)

    @property
    def is_open(self) -> bool:
        """Raised, assigned or reopened: the resolution clock runs (or is paused)."""
        return self.status in OPEN_STATUSES

    @property
    def is_paused(self) -> bool:
        return self.is_open and bool(self.open_pauses)

    @property
    def breached(self) -> bool:
        """Any clock breached (and recorded)."""
        return bool(self.breaches)

    def breach_of(self, clock: Clock | str) -> Breach | None:
        """The recorded breach of `clock`, if any."""
        return next((b for b in self.breaches if b.clock == clock), None)

    def owner_at(self, at: datetime) -> IssueAssigned | None:
        """The assignment in force at `at` (credit stays with who owned the issue then)."""
        current = None
        for assignment in self.assignments:
            if assignment.assigned_at > at:
                break
            current = assignment
        return current

    def pauses_of(self, round_number: int) -> tuple[PauseRecord, ...]:
        return tuple(p for p in self.pauses if p.round == round_number)


def open_issue(raised: IssueRaised, timezone: str | None = None) -> Issue:
    """A new issue from its IssueRaised, in the zone it names (else `timezone`, else Shanghai)."""
    return Issue(
        raised=raised,
        status=IssueStatus.RAISED,
        handover_by=raised.handover_by,
        respond_by=raised.respond_by,
        rounds=(ResolutionRound(1, raised.raised_at, raised.resolve_by),),
        timezone=raised.timezone or timezone or DEFAULT_TIMEZONE,
        history=(raised,),
    )


@overload
def evolve(issue: Issue, event: IssueEvent) -> Issue: ...
@overload
def evolve(issue: None, event: IssueEvent) -> Issue | None: ...
def evolve(issue: Issue | None, event: IssueEvent) -> Issue | None:
    """The issue after one more event; a repeated event changes nothing, nothing reads a clock."""
    if issue is None:
        # Only an IssueRaised starts an issue; anything else has nothing to apply to.
        return open_issue(event) if isinstance(event, IssueRaised) else None
    if isinstance(event, IssueRaised) or event in issue.history:
        return issue
    return replace(_APPLY[type(event)](issue, event), history=(*issue.history, event))


def fold(events: Iterable[IssueEvent], timezone: str | None = None) -> Issue | None:
    """The issue its events make, in order (None before its IssueRaised)."""
    issue: Issue | None = None
    for event in events:
        if issue is None and isinstance(event, IssueRaised):
            issue = open_issue(event, timezone)
        else:
            issue = evolve(issue, event)
    return issue


def _assigned(issue: Issue, event: IssueAssigned) -> Issue:
    status = IssueStatus.ASSIGNED if issue.is_open else issue.status
    return replace(issue, assignments=(*issue.assignments, event), status=status)


def _responded(issue: Issue, event: IssueResponded) -> Issue:
    return replace(issue, responses=(*issue.responses, event))


def _paused(issue: Issue, event: IssuePaused) -> Issue:
    pause = PauseRecord(
        pause_no=event.pause_no,
        round=issue.current_round.number,
        started_at=event.paused_at,
        paused_by=event.paused_by,
        reason=event.reason,
    )
    return replace(issue, pauses=(*issue.pauses, pause))


def _resumed(issue: Issue, event: IssueResumed) -> Issue:
    pauses = tuple(
        replace(p, ended_at=event.resumed_at, resumed_by=event.resumed_by)
        if p.pause_no == event.pause_no and p.is_open
        else p
        for p in issue.pauses
    )
    return replace(issue, pauses=pauses)


def _resolved(issue: Issue, event: IssueResolved) -> Issue:
    # A resolution ends every pause still open: there is nothing left to wait for.
    pauses = tuple(replace(p, ended_at=event.resolved_at) if p.is_open else p for p in issue.pauses)
    rounds = (*issue.rounds[:-1], replace(issue.current_round, resolved=event))
    return replace(issue, rounds=rounds, pauses=pauses, status=IssueStatus.RESOLVED)


def _reopened(issue: Issue, event: IssueReopened) -> Issue:
    again = ResolutionRound(len(issue.rounds) + 1, event.reopened_at, event.resolve_by)
    return replace(issue, rounds=(*issue.rounds, again), status=IssueStatus.REOPENED)


def _closed(issue: Issue, event: IssueClosed) -> Issue:
    return replace(issue, closed=event, status=IssueStatus.CLOSED)


def _breached(issue: Issue, event: Breach) -> Issue:
    if issue.breach_of(event.clock) is not None:
        return issue
    return replace(issue, breaches=(*issue.breaches, event))


def _recomputed(issue: Issue, event: DeadlinesRecomputed) -> Issue:
    issue = replace(issue, handover_by=event.handover_by or issue.handover_by)
    if event.resolve_by is None:
        return issue
    rounds = tuple(
        replace(r, deadline=event.resolve_by) if r.number == event.round else r
        for r in issue.rounds
    )
    return replace(issue, rounds=rounds)


# One function per event type: what each event does to the issue (IssueRaised starts it).
_APPLY: dict[type[IssueEvent], Callable[[Issue, Any], Issue]] = {
    IssueAssigned: _assigned,
    IssueResponded: _responded,
    IssuePaused: _paused,
    IssueResumed: _resumed,
    IssueResolved: _resolved,
    IssueReopened: _reopened,
    IssueClosed: _closed,
    Breach: _breached,
    DeadlinesRecomputed: _recomputed,
}

# The type names the fold reads: the consumer skips other types of followup.issues (ones added
# to the contract before this service folds them).
FOLDED_TYPES = frozenset({IssueRaised.__name__, *(t.__name__ for t in _APPLY)})
