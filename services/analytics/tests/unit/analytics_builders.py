"""Contract events with concrete dates (+08:00), validated by the contract models."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from followup.analytics.domain.period import Period
from followup.events import (
    CustomerDelivered,
    IssueAssigned,
    IssueClosed,
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

CST = timezone(timedelta(hours=8))
DEPARTMENT = {
    "fault": "after_sales",
    "maintenance": "after_sales",
    "technical": "technical",
    "complaint": "customer_service",
    "service": "customer_service",
    "other": "customer_service",
}


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    """An instant in +08:00."""
    return datetime(year, month, day, hour, minute, tzinfo=CST)


# The period most tests ask about, and an instant well after it (everything in it is known).
MARCH = Period(at(3, 1, 0), at(4, 1, 0))
APRIL_10 = at(4, 10)


def delivered(
    customer_id: str = "C-1",
    when: datetime | None = None,
    tier: str = "silver",
    region: str | None = "east",
    order_id: str = "O-1",
) -> CustomerDelivered:
    return CustomerDelivered.model_validate(
        {
            "customer_id": customer_id,
            "order_id": order_id,
            "delivered_at": when or at(1, 5),
            "product": "cinema",
            "tier": tier,
            "segment": "individual",
            "region": region,
            "contact": {"name": "x", "phone": "1"},
        }
    )


def due(
    visit_id: str,
    due_at: datetime,
    deadline: datetime,
    customer_id: str = "C-1",
    agent_id: str | None = "A-1",
    kinds: tuple[str, ...] = ("routine",),
    issue_id: str | None = None,
    attempt: int = 1,
) -> VisitDue:
    return VisitDue.model_validate(
        {
            "visit_id": visit_id,
            "customer_id": customer_id,
            "kinds": list(kinds),
            "due_at": due_at,
            "deadline": deadline,
            "attempt": attempt,
            "issue_id": issue_id,
            "agent_id": agent_id,
            "reason": "plan",
        }
    )


def logged(
    visit_id: str,
    when: datetime,
    customer_id: str = "C-1",
    agent_id: str = "A-1",
    outcome: str = "completed",
    satisfaction: int | None = 5,
) -> VisitLogged:
    data: dict[str, Any] = {
        "visit_id": visit_id,
        "customer_id": customer_id,
        "agent_id": agent_id,
        "channel": "phone",
        "outcome": outcome,
        "logged_at": when,
    }
    if outcome == "completed":
        data["satisfaction"] = satisfaction
    return VisitLogged.model_validate(data)


def checked(
    visit_id: str, when: datetime, result: str, customer_id: str = "C-1", agent_id: str = "A-1"
) -> VisitSpotChecked:
    return VisitSpotChecked.model_validate(
        {
            "visit_id": visit_id,
            "customer_id": customer_id,
            "agent_id": agent_id,
            "supervisor_id": "S-1",
            "checked_at": when,
            "result": result,
        }
    )


def moved(
    visit_id: str, deadline: datetime, when: datetime, customer_id: str = "C-1"
) -> VisitDeadlineRecomputed:
    return VisitDeadlineRecomputed.model_validate(
        {
            "visit_id": visit_id,
            "customer_id": customer_id,
            "deadline": deadline,
            "recomputed_at": when,
        }
    )


def raised(
    issue_id: str,
    when: datetime,
    customer_id: str = "C-1",
    category: str = "fault",
    severity: str = "general",
    source: str = "visit",
) -> IssueRaised:
    return IssueRaised.model_validate(
        {
            "issue_id": issue_id,
            "customer_id": customer_id,
            "source": source,
            "category": category,
            "severity": severity,
            "description": "d",
            "raised_at": when,
            "department": DEPARTMENT[category],
            "handover_by": when.replace(hour=23, minute=59, second=59) + timedelta(days=1),
            "respond_by": when + timedelta(hours=24),
            "resolve_by": when.replace(hour=23, minute=59, second=59) + timedelta(days=3),
        }
    )


def assigned(
    issue_id: str,
    when: datetime,
    assignee_id: str = "A-1",
    department: str = "after_sales",
    customer_id: str = "C-1",
) -> IssueAssigned:
    return IssueAssigned.model_validate(
        {
            "issue_id": issue_id,
            "customer_id": customer_id,
            "assignee_id": assignee_id,
            "department": department,
            "assigned_at": when,
        }
    )


def resolved(
    issue_id: str,
    when: datetime,
    resolve_by: datetime,
    paused_seconds: int = 0,
    customer_id: str = "C-1",
) -> IssueResolved:
    return IssueResolved.model_validate(
        {
            "issue_id": issue_id,
            "customer_id": customer_id,
            "resolved_at": when,
            "resolved_by": "A-1",
            "resolution": "fixed",
            "resolve_by": resolve_by,
            "paused_seconds": paused_seconds,
        }
    )


def reopened(
    issue_id: str, when: datetime, resolve_by: datetime, customer_id: str = "C-1"
) -> IssueReopened:
    return IssueReopened.model_validate(
        {
            "issue_id": issue_id,
            "customer_id": customer_id,
            "reopened_at": when,
            "reason": "not fixed",
            "resolve_by": resolve_by,
        }
    )


def closed(
    issue_id: str, when: datetime, visit_id: str = "V-F", customer_id: str = "C-1"
) -> IssueClosed:
    return IssueClosed.model_validate(
        {
            "issue_id": issue_id,
            "customer_id": customer_id,
            "closed_at": when,
            "confirmed_by_visit_id": visit_id,
        }
    )


def breached(
    issue_id: str,
    clock: str,
    deadline: datetime,
    department: str = "after_sales",
    owner_id: str | None = "A-1",
    customer_id: str = "C-1",
    round_: int = 1,
) -> IssueSlaBreached:
    return IssueSlaBreached.model_validate(
        {
            "issue_id": issue_id,
            "customer_id": customer_id,
            "clock": clock,
            "deadline": deadline,
            "department": department,
            "owner_id": owner_id,
            "round": round_,
        }
    )


def paused(issue_id: str, pause_no: int, when: datetime, customer_id: str = "C-1") -> IssuePaused:
    return IssuePaused.model_validate(
        {
            "issue_id": issue_id,
            "customer_id": customer_id,
            "pause_no": pause_no,
            "paused_at": when,
            "paused_by": "A-1",
            "reason": "waiting for the customer",
        }
    )


def resumed(issue_id: str, pause_no: int, when: datetime, customer_id: str = "C-1") -> IssueResumed:
    return IssueResumed.model_validate(
        {
            "issue_id": issue_id,
            "customer_id": customer_id,
            "pause_no": pause_no,
            "resumed_at": when,
            "resumed_by": "A-1",
        }
    )
