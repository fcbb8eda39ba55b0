"""Builders the issues unit tests share: instants in Shanghai time, a Friday-evening fault, and
applying accepted decisions to an issue."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from followup.calendar import default_calendar
from followup.core.rejections import Rejection
from followup.events import IssueRaised
from followup.issues.domain.lifecycle import (
    AssignIssue,
    RespondToIssue,
    decide_assign,
    decide_respond,
)
from followup.issues.domain.model import Issue, IssueEvent, evolve, open_issue
from followup.issues.domain.raising import RaiseComplaint, raise_complaint

SH = ZoneInfo("Asia/Shanghai")
CAL = default_calendar()
MANAGERS = {"after_sales": "M-AS", "technical": "M-TECH", "customer_service": "M-CS"}
T = TypeVar("T")


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """An instant in Shanghai time."""
    return datetime(y, m, d, h, mi, s, tzinfo=SH)


def end_of(y: int, m: int, d: int) -> datetime:
    """The last second of a day in Shanghai time."""
    return at(y, m, d, 23, 59, 59)


def accepted(decision: T | Rejection) -> T:
    """The decision, failing the test if it was a rejection."""
    assert not isinstance(decision, Rejection), decision
    return decision


def then(issue: Issue, *events: IssueEvent) -> Issue:
    """The issue with these events folded in."""
    for event in events:
        issue = evolve(issue, event)
    return issue


def friday_evening_issue(raised_at: datetime = at(2026, 3, 6, 19, 30)) -> Issue:
    """Fri 03-06 19:30, general: first response by Sat 19:30, handover by the end of Mon 03-09,
    resolution by the end of Wed 03-11."""
    command = RaiseComplaint(
        customer_id="C-000123", category="fault", severity="general", description="no picture"
    )
    raised = raise_complaint(command, "I-1", raised_at, CAL)
    assert isinstance(raised, IssueRaised)
    return open_issue(raised)


def assign(issue: Issue, who: str, now: datetime, department: str | None = None) -> Issue:
    """The issue after an accepted assignment."""
    return then(issue, accepted(decide_assign(issue, AssignIssue(who, department), now)))


def respond(issue: Issue, who: str, now: datetime, channel: str = "phone") -> Issue:
    """The issue after an accepted contact with the customer."""
    return then(issue, accepted(decide_respond(issue, RespondToIssue(channel), who, now)))


def take(issue: Issue, who: str, now: datetime, department: str | None = None) -> Issue:
    """Assigned, and the new owner calls the customer at once: handover and first response end."""
    return respond(assign(issue, who, now, department), who, now)
