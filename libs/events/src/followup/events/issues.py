"""Events on followup.issues, published by the issues service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from followup.events.base import EventData, Id, Instant, Text
from followup.events.visits import ProblemCategory, Severity

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


class IssueAssigned(EventData):
    issue_id: Id
    customer_id: Id
    assignee_id: Id
    department: Department
    assigned_at: Instant


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
