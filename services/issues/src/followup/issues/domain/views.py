"""What the API shows of an issue (SPEC §7 `GET /v1/issues/{issue_id}`): its clocks at `now`
and its full timeline, as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from followup.calendar import BusinessCalendar
from followup.events import (
    IssueAssigned,
    IssueClosed,
    IssuePaused,
    IssueRaised,
    IssueReopened,
    IssueResolved,
    IssueResponded,
    IssueResumed,
)
from followup.events.issues import Department
from followup.issues.domain.clocks import (
    ClockSpan,
    ClockState,
    clock_spans,
    signed_working_seconds,
)
from followup.issues.domain.model import (
    Breach,
    Clock,
    DeadlinesRecomputed,
    Issue,
    IssueEvent,
    IssueStatus,
)

Detail = str | int | bool | datetime | None


@dataclass(frozen=True)
class ClockView:
    """One clock at `now`: for resolution, its current round."""

    clock: Clock
    deadline: datetime
    provisional: bool
    state: ClockState
    ended_at: datetime | None
    # From `now` (or from the end, for a clock that ended) to the deadline; negative = overdue.
    working_seconds_to_deadline: int
    seconds_to_deadline: int
    breach: Breach | None
    round: int = 1


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to the issue."""

    kind: str
    at: datetime
    actor: str | None
    details: Mapping[str, Detail]


@dataclass(frozen=True)
class IssueView:
    """An issue in the ledger with its owner, clocks, timeline and current state."""

    issue_id: str
    customer_id: str
    status: IssueStatus
    paused: bool
    source: str
    visit_id: str | None
    category: str
    severity: str
    # None where the reader may not see free text (analysts: SPEC §8).
    description: str | None
    department: Department
    owner_id: str | None
    raised_at: datetime
    clocks: tuple[ClockView, ...]
    # The result of the first resolution, kept whatever later rounds do; None until resolved.
    first_resolution: ClockState | None
    # The last resolution, while the issue is resolved or closed (full resolution time ends here).
    resolved_at: datetime | None
    closed_at: datetime | None
    breached: bool
    timeline: tuple[TimelineEntry, ...]


def view_issue(issue: Issue, now: datetime, cal: BusinessCalendar) -> IssueView:
    """The issue as the API shows it at `now`."""
    spans = clock_spans(issue, now, cal)
    current = [s for s in spans if s.clock != Clock.RESOLUTION] + [spans[-1]]
    first_round = next(s for s in spans if s.clock == Clock.RESOLUTION)
    last_resolved = issue.current_round.resolved
    return IssueView(
        issue_id=issue.issue_id,
        customer_id=issue.customer_id,
        status=issue.status,
        paused=issue.is_paused,
        source=issue.raised.source,
        visit_id=issue.raised.visit_id,
        category=issue.raised.category,
        severity=issue.raised.severity,
        description=issue.raised.description,
        department=issue.department,
        owner_id=issue.owner_id,
        raised_at=issue.raised.raised_at,
        clocks=tuple(_clock_view(issue, s, now, cal) for s in current),
        first_resolution=first_round.state(now) if first_round.ended_at is not None else None,
        resolved_at=last_resolved.resolved_at if last_resolved is not None else None,
        closed_at=issue.closed.closed_at if issue.closed is not None else None,
        breached=issue.breached,
        timeline=timeline(issue),
    )


# Timeline details written by people (or quoting the customer): possibly personal data.
FREE_TEXT_DETAILS = frozenset({"reason", "resolution", "note"})


def without_free_text(view: IssueView) -> IssueView:
    """The view an analyst gets: the numbers and states, no words anyone wrote (SPEC §8)."""
    entries = tuple(
        replace(e, details={k: v for k, v in e.details.items() if k not in FREE_TEXT_DETAILS})
        for e in view.timeline
    )
    return replace(view, description=None, timeline=entries)


def timeline(issue: Issue) -> tuple[TimelineEntry, ...]:
    """Every event of the issue in time order (a breach sits at its deadline)."""
    entries = [_entry(e) for e in issue.history]
    # Stable: events at the same instant keep the order they happened in.
    return tuple(sorted(entries, key=lambda e: e.at))


def _clock_view(issue: Issue, span: ClockSpan, now: datetime, cal: BusinessCalendar) -> ClockView:
    frm = span.ended_at or now
    return ClockView(
        clock=span.clock,
        deadline=span.deadline.at,
        provisional=span.deadline.provisional,
        state=span.state(now),
        ended_at=span.ended_at,
        working_seconds_to_deadline=signed_working_seconds(
            frm, span.deadline.at, issue.timezone, cal
        ),
        seconds_to_deadline=round((span.deadline.at - frm).total_seconds()),
        breach=issue.breach_of(span.clock),
        round=span.round,
    )


def _entry(event: IssueEvent) -> TimelineEntry:
    if isinstance(event, IssueRaised):
        return TimelineEntry(
            "raised",
            event.raised_at,
            None,
            {
                "source": event.source,
                "visit_id": event.visit_id,
                "category": event.category,
                "severity": event.severity,
                "department": event.department,
                "handover_by": event.handover_by,
                "respond_by": event.respond_by,
                "resolve_by": event.resolve_by,
            },
        )
    if isinstance(event, IssueAssigned):
        details: dict[str, Detail] = {
            "assignee_id": event.assignee_id,
            "department": event.department,
        }
        return TimelineEntry("assigned", event.assigned_at, event.assigned_by, details)
    if isinstance(event, IssueResponded):
        details = {"channel": event.channel, "note": event.note}
        return TimelineEntry("responded", event.responded_at, event.responded_by, details)
    if isinstance(event, IssuePaused):
        details = {"pause_no": event.pause_no, "reason": event.reason}
        return TimelineEntry("paused", event.paused_at, event.paused_by, details)
    if isinstance(event, IssueResumed):
        details = {"pause_no": event.pause_no, "note": event.note}
        return TimelineEntry("resumed", event.resumed_at, event.resumed_by, details)
    if isinstance(event, IssueResolved):
        details = {
            "resolution": event.resolution,
            "resolve_by": event.resolve_by,
            "paused_seconds": event.paused_seconds,
            "met": event.resolved_at <= event.resolve_by,
        }
        return TimelineEntry("resolved", event.resolved_at, event.resolved_by, details)
    if isinstance(event, IssueReopened):
        details = {"reason": event.reason, "resolve_by": event.resolve_by}
        return TimelineEntry("reopened", event.reopened_at, None, details)
    if isinstance(event, IssueClosed):
        details = {"confirmed_by_visit_id": event.confirmed_by_visit_id}
        return TimelineEntry("closed", event.closed_at, None, details)
    if isinstance(event, Breach):
        details = {
            "clock": str(event.clock),
            "round": event.round,
            "deadline": event.deadline,
            "department": event.department,
            "owner_id": event.owner_id,
            "escalate_to": event.escalate_to,
        }
        return TimelineEntry("breached", event.deadline, None, details)
    return _recomputed_entry(event)


def _recomputed_entry(event: DeadlinesRecomputed) -> TimelineEntry:
    details: dict[str, Detail] = {"round": event.round}
    if event.handover_by is not None:
        details["handover_by"] = event.handover_by
        details["previous_handover_by"] = event.previous_handover_by
    if event.resolve_by is not None:
        details["resolve_by"] = event.resolve_by
        details["previous_resolve_by"] = event.previous_resolve_by
    return TimelineEntry("deadlines_recomputed", event.recomputed_at, None, details)
