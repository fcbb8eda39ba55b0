"""The shapes the visits API shows (its OpenAPI response models) and who sees what (SPEC §8).

A visit's record reads back every attempt with its logs and the spot checks (SPEC §10). Free
text a person typed (feedback, problem descriptions, spot-check notes) is personal data: shown
to those who see the customer's contact, masked for the others.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from followup.events import VisitDue, VisitLogged, VisitSpotChecked
from followup.events.ids import issue_id_for_problem
from followup.visits.domain.model import Visit, VisitStatus

# What a masked free text reads as: there was text, and this caller may not see it.
MASKED = "***"


class View(BaseModel):
    """A response shape: read from the service's own rows, so no coercion is needed."""

    model_config = ConfigDict(frozen=True)


class Contact(View):
    """The customer's contact, masked unless the caller may see it."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


class VisitRow(View):
    """One visit of the queue, as `GET /v1/visits` lists it."""

    visit_id: str
    customer_id: str
    order_id: str | None = None
    kinds: list[str]
    status: VisitStatus
    agent_id: str | None = None
    due_at: datetime | None = None
    deadline: datetime | None = None
    attempt: int | None = None
    issue_id: str | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    on_time: bool | None = None
    spot_check: str | None = None
    rescheduled_to: datetime | None = None


class VisitPage(View):
    """A page of visits by deadline, and the cursor of the next page (None on the last)."""

    items: list[VisitRow]
    next_cursor: str | None = None


class ProblemView(View):
    """A problem the log reported, and the issue it raised."""

    problem_id: str
    category: str
    severity: str
    description: str
    issue_id: str


class LogView(View):
    """One contact with the customer, as the agent logged it."""

    attempt: int
    agent_id: str
    channel: str
    outcome: str
    logged_at: datetime
    satisfaction: int | None = None
    checklist: dict[str, int] | None = None
    needs: list[str] | None = None
    feedback: str | None = None
    problems: list[ProblemView] = []
    issue_id: str | None = None
    issue_confirmed: bool | None = None
    rescheduled_to: datetime | None = None


class AttemptView(View):
    """One attempt scheduling planned (a VisitDue) and the logs made while it was in force."""

    attempt: int
    due_at: datetime
    deadline: datetime
    reason: str
    agent_id: str | None = None
    logs: list[LogView]


class SpotCheckView(View):
    """A supervisor's re-contact to verify the visit happened."""

    agent_id: str
    supervisor_id: str
    checked_at: datetime
    result: str
    note: str | None = None


class VisitRecord(VisitRow):
    """A visit with every attempt, its logs and its spot checks."""

    attempts: list[AttemptView]
    spot_checks: list[SpotCheckView]


class VisitRecordPage(View):
    """A page of a customer's visit records by deadline."""

    items: list[VisitRecord]
    next_cursor: str | None = None


class VisitDetail(VisitRecord):
    """One visit's record with its customer's contact."""

    contact: Contact | None = None


class SpotCheckSample(View):
    """The month's reproducible sample of an agent's completed visits."""

    agent_id: str
    month: str
    completed: int
    sample: list[VisitRow]


class CommandAccepted(View):
    """A command was accepted: the id of the event it publishes."""

    event_id: str
    visit_id: str


def visit_record(row: VisitRow, visit: Visit | None, *, sees_text: bool) -> VisitRecord:
    """The queue row with the attempts, logs and spot checks folded into `visit`."""
    logs = sorted(visit.logs, key=lambda log: log.logged_at) if visit else []
    dues = visit.dues if visit else ()
    attempts = [
        AttemptView(
            attempt=due.attempt,
            due_at=due.due_at,
            deadline=due.deadline,
            reason=due.reason,
            agent_id=due.agent_id,
            logs=[
                _log_view(log, due.attempt, sees_text)
                for log in logs
                if _attempt_of(log, dues) == due.attempt
            ],
        )
        for due in dues
    ]
    check = visit.spot_check if visit else None
    checks = [_spot_check_view(check, sees_text)] if check is not None else []
    return VisitRecord(**row.model_dump(), attempts=attempts, spot_checks=checks)


def _attempt_of(log: VisitLogged, dues: tuple[VisitDue, ...]) -> int:
    """The attempt in force when the log was made: the latest one due by then (else the
    first, for a log made ahead of its due time)."""
    attempt = dues[0].attempt if dues else 1
    for due in dues:
        if due.due_at <= log.logged_at:
            attempt = due.attempt
    return attempt


def _text(value: str | None, sees_text: bool) -> str | None:
    return value if value is None or sees_text else MASKED


def _log_view(log: VisitLogged, attempt: int, sees_text: bool) -> LogView:
    checklist = log.checklist.model_dump(exclude_none=True) if log.checklist else None
    return LogView(
        attempt=attempt,
        agent_id=log.agent_id,
        channel=log.channel,
        outcome=log.outcome,
        logged_at=log.logged_at,
        satisfaction=log.satisfaction,
        checklist=checklist,
        needs=list(log.needs) if log.needs else None,
        feedback=_text(log.feedback, sees_text),
        problems=[
            ProblemView(
                problem_id=p.problem_id,
                category=p.category,
                severity=p.severity,
                description=_text(p.description, sees_text) or MASKED,
                issue_id=issue_id_for_problem(p.problem_id),
            )
            for p in log.problems or ()
        ],
        issue_id=log.issue_id,
        issue_confirmed=log.issue_confirmed,
        rescheduled_to=log.rescheduled_to,
    )


def _spot_check_view(check: VisitSpotChecked, sees_text: bool) -> SpotCheckView:
    return SpotCheckView(
        agent_id=check.agent_id,
        supervisor_id=check.supervisor_id,
        checked_at=check.checked_at,
        result=check.result,
        note=_text(check.note, sees_text),
    )
