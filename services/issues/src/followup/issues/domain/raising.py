"""Raising issues (SPEC §4): one per problem of a visit log, or one per complaint/hotline report.

Deadlines are counted in the customer's time zone by the SPEC §2 counting rules:
- handover: "within 1 working day" — the end (23:59:59 local) of the first working day after
  the day it was raised (that day not counted; a make-up working Saturday counts);
- first response: raised_at + 24 wall-clock hours (an hour-based clock never skips days), met
  by a contact with the customer (`first_response="contact"`, SPEC §10);
- resolution: within 3 (general) or 7 (complex) working days, counted the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followup.calendar import BusinessCalendar, end_of_working_days
from followup.core.rejections import (
    FieldError,
    Rejection,
    choice_errors,
    id_errors,
    invalid,
    text_errors,
)
from followup.events import IssueRaised, Problem, VisitLogged, derived_id
from followup.events.issues import Department, IssueSource
from followup.events.visits import ProblemCategory, Severity
from followup.issues.domain.model import DEFAULT_POLICY, DEFAULT_TIMEZONE, SlaPolicy

CATEGORIES: tuple[str, ...] = get_args(ProblemCategory)
SEVERITIES: tuple[str, ...] = get_args(Severity)
DEPARTMENTS: tuple[str, ...] = get_args(Department)
# A visit's problems arrive on VisitLogged; the API takes only direct reports.
DIRECT_SOURCES: tuple[str, ...] = tuple(s for s in get_args(IssueSource) if s != "visit")

DEPARTMENT_BY_CATEGORY: dict[str, Department] = {
    "fault": "after_sales",
    "maintenance": "after_sales",
    "technical": "technical",
    "complaint": "customer_service",
    "service": "customer_service",
    "other": "customer_service",
}


def department_for(category: ProblemCategory) -> Department:
    """The department that owns a category of problem (SPEC §4)."""
    return DEPARTMENT_BY_CATEGORY[category]


@dataclass(frozen=True)
class SlaDeadlines:
    """The three deadlines an issue is raised with, aware in the customer's zone."""

    handover_by: datetime
    respond_by: datetime
    resolve_by: datetime


def resolution_deadline(
    start: datetime,
    severity: str,
    tz: str,
    cal: BusinessCalendar,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> datetime:
    """End of the 3rd (general) or 7th (complex) working day after `start`'s local date."""
    days = policy.resolution_working_days(severity)
    return end_of_working_days(start, days, tz, cal).at


def sla_deadlines(
    raised_at: datetime,
    severity: str,
    tz: str,
    cal: BusinessCalendar,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> SlaDeadlines:
    """Handover, first-response and resolution deadlines of an issue raised at `raised_at`."""
    zone = ZoneInfo(tz)
    # Through UTC: 24 hours that really pass, also across a DST change.
    hours = timedelta(hours=policy.first_response_hours)
    respond_by = (raised_at.astimezone(UTC) + hours).astimezone(zone)
    return SlaDeadlines(
        handover_by=end_of_working_days(raised_at, policy.handover_working_days, tz, cal).at,
        respond_by=respond_by,
        resolve_by=resolution_deadline(raised_at, severity, tz, cal, policy),
    )


def issue_id_for_problem(problem_id: str) -> str:
    """The issue a visit's problem raises: the same problem always names the same issue."""
    return derived_id("issue", problem_id)


def raise_issue_from_problem(
    visit: VisitLogged,
    problem: Problem,
    cal: BusinessCalendar,
    tz: str | None = None,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> IssueRaised:
    """The IssueRaised for one problem found on a visit, raised when the visit was logged.

    `tz` is the customer's zone (None: Asia/Shanghai); the event names it, so whoever folds the
    issue later counts its working time in the same zone.
    """
    zone = tz or DEFAULT_TIMEZONE
    deadlines = sla_deadlines(visit.logged_at, problem.severity, zone, cal, policy)
    return IssueRaised(
        issue_id=issue_id_for_problem(problem.problem_id),
        customer_id=visit.customer_id,
        source="visit",
        visit_id=visit.visit_id,
        category=problem.category,
        severity=problem.severity,
        description=problem.description,
        raised_at=visit.logged_at,
        department=department_for(problem.category),
        handover_by=deadlines.handover_by,
        respond_by=deadlines.respond_by,
        resolve_by=deadlines.resolve_by,
        timezone=zone,
        first_response="contact",
    )


def raise_issues_from_visit(
    visit: VisitLogged,
    cal: BusinessCalendar,
    tz: str | None = None,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> list[IssueRaised]:
    """One IssueRaised per problem of the visit log, in the log's order."""
    return [raise_issue_from_problem(visit, p, cal, tz, policy) for p in visit.problems or ()]


# SPEC §10's default, the policy's `visits.dissatisfied_at_or_below` (issues reads no policy
# file yet; its SLA defaults are DEFAULT_POLICY the same way).
DISSATISFIED_AT_OR_BELOW = 2


def issue_id_for_dissatisfaction(visit_id: str, logged_at: datetime) -> str:
    """The issue a dissatisfied log raises: one per log, whoever reads it again."""
    return derived_id("issue", "dissatisfied", visit_id, logged_at.isoformat())


def raise_dissatisfaction_issue(
    visit: VisitLogged,
    cal: BusinessCalendar,
    tz: str | None = None,
    policy: SlaPolicy = DEFAULT_POLICY,
    at_or_below: int = DISSATISFIED_AT_OR_BELOW,
) -> IssueRaised | None:
    """A `service` / `general` issue for a completed log scored at or below the threshold that
    names no problem (SPEC §10); its description names the score, never the customer's words.
    None otherwise, and for an issue's own follow-up (that issue already has an owner)."""
    score = visit.satisfaction
    if (
        visit.outcome != "completed"
        or score is None
        or score > at_or_below
        or visit.problems
        or visit.issue_id is not None
    ):
        return None
    zone = tz or DEFAULT_TIMEZONE
    deadlines = sla_deadlines(visit.logged_at, "general", zone, cal, policy)
    return IssueRaised(
        issue_id=issue_id_for_dissatisfaction(visit.visit_id, visit.logged_at),
        customer_id=visit.customer_id,
        source="visit",
        visit_id=visit.visit_id,
        category="service",
        severity="general",
        description=f"Satisfaction {score} of 5 on the visit, with no problem named.",
        raised_at=visit.logged_at,
        department=department_for("service"),
        handover_by=deadlines.handover_by,
        respond_by=deadlines.respond_by,
        resolve_by=deadlines.resolve_by,
        timezone=zone,
        first_response="contact",
    )


@dataclass(frozen=True)
class RaiseComplaint:
    """The body of `POST /v1/issues`: a complaint or hotline report made directly."""

    # Loose types on purpose: validate_complaint reports every bad value at once.
    customer_id: str | None = None
    category: str | None = None
    severity: str | None = None
    description: str | None = None
    source: str | None = "complaint"
    # The customer's IANA zone; None for Asia/Shanghai.
    timezone: str | None = None


def validate_complaint(command: RaiseComplaint) -> list[FieldError]:
    """Every field error of a complaint, at once."""
    errors = [
        *id_errors("customer_id", command.customer_id),
        *choice_errors("category", command.category, CATEGORIES),
        *choice_errors("severity", command.severity, SEVERITIES),
        *text_errors("description", command.description),
        *choice_errors("source", command.source, DIRECT_SOURCES),
    ]
    if command.timezone is not None and not is_zone(command.timezone):
        errors.append(FieldError("timezone", f"{command.timezone!r} is not an IANA time zone"))
    return errors


def raise_complaint(
    command: RaiseComplaint,
    issue_id: str,
    now: datetime,
    cal: BusinessCalendar,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> IssueRaised | Rejection:
    """The IssueRaised of a complaint or hotline report made `now`, or why not."""
    # The caller names the issue (from the request's Idempotency-Key, say), so a retried
    # request raises the same issue rather than a second one.
    errors = validate_complaint(command)
    if errors:
        return invalid(errors)
    category = cast(ProblemCategory, command.category)
    severity = cast(Severity, command.severity)
    zone = command.timezone or DEFAULT_TIMEZONE
    deadlines = sla_deadlines(now, severity, zone, cal, policy)
    return IssueRaised(
        issue_id=issue_id,
        customer_id=cast(str, command.customer_id),
        source=cast(IssueSource, command.source),
        category=category,
        severity=severity,
        description=cast(str, command.description),
        raised_at=now.astimezone(ZoneInfo(zone)),
        department=department_for(category),
        handover_by=deadlines.handover_by,
        respond_by=deadlines.respond_by,
        resolve_by=deadlines.resolve_by,
        timezone=zone,
        first_response="contact",
    )


def is_zone(name: str) -> bool:
    """An IANA time zone name this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
