"""Logging a visit (SPEC §3): validate the LogVisit command, decide the VisitLogged it yields.

Decisions:
- Satisfaction and the checklist are scores of a completed contact: required / optional there,
  refused with any other outcome, so analytics never reads a score nobody gave.
- `issue_confirmed` only on an `issue_follow_up` visit, required when the log completes it and
  refused otherwise: an unreachable customer has confirmed nothing, and the issues service
  closes or reopens issues on this field.
- `rescheduled_to` (an instant with its offset, after the log) is required with the outcome
  `rescheduled` and refused with any other: the visit leaves the queue until then (SPEC §10).
- A visit that ended (declined, or unreachable three times) takes no more logs: nothing is
  left to do on it, and a log would not revive it.
- Needs, feedback and problems are allowed with every outcome (a customer who declines the
  visit may still report a fault, and the fault must still become an issue).
- An agent logs only visits assigned to them; an unassigned visit is a supervisor's to log.
- Checks run in this order: unknown visit, someone else's visit, invalid input (every field
  error at once), already completed or ended. Input is judged before state so a client learns
  what to fix without guessing whether the visit is still open.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast, get_args

from pydantic import BaseModel, ConfigDict, Field

from followup.core.rejections import (
    FieldError,
    Rejection,
    choice_errors,
    choices_errors,
    conflict,
    forbidden,
    id_errors,
    invalid,
    not_found,
    score_errors,
    text_errors,
)
from followup.events import Checklist, Problem, VisitLogged, derived_id
from followup.events.visits import Channel, Need, Outcome, ProblemCategory, Severity
from followup.visits.domain.model import ENDED, Visit

CHANNELS: tuple[str, ...] = get_args(Channel)
OUTCOMES: tuple[str, ...] = get_args(Outcome)
NEEDS: tuple[str, ...] = get_args(Need)
PROBLEM_CATEGORIES: tuple[str, ...] = get_args(ProblemCategory)
SEVERITIES: tuple[str, ...] = get_args(Severity)
CHECKLIST_ITEMS: tuple[str, ...] = tuple(Checklist.model_fields)
FEEDBACK_MAX_CHARS = 4000
DESCRIPTION_MAX_CHARS = 2000
MAX_PROBLEMS = 50
# Visits' own names for its conflicts: a log on a visit whose completion is already counted,
# and on one that ended without it (declined, unreachable).
ALREADY_COMPLETED = "already_completed"
VISIT_ENDED = "visit_ended"


class ReportedProblem(BaseModel):
    """A problem the agent found; it becomes an issue with a tracked deadline."""

    # Loose types on purpose: validate_log_visit reports every bad value at once, which
    # pydantic's own enum errors (stopping before the cross-field rules) would not.
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    category: str | None = Field(None, json_schema_extra={"enum": list(PROBLEM_CATEGORIES)})
    severity: str | None = Field(None, json_schema_extra={"enum": list(SEVERITIES)})
    description: str | None = None


class LogVisit(BaseModel):
    """The body of `POST /v1/visits/{visit_id}/log`: one contact with the customer."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    # Omitted: the calling agent, or the visit's assignee when a supervisor logs.
    agent_id: str | None = None
    channel: str | None = Field(None, json_schema_extra={"enum": list(CHANNELS)})
    outcome: str | None = Field(None, json_schema_extra={"enum": list(OUTCOMES)})
    satisfaction: int | None = Field(None, description="1–5, required when completed")
    checklist: dict[str, int] | None = Field(
        None, description="1–5 per item: " + ", ".join(CHECKLIST_ITEMS)
    )
    needs: list[str] | None = Field(None, description="any of " + ", ".join(NEEDS))
    feedback: str | None = Field(None, description=f"at most {FEEDBACK_MAX_CHARS} characters")
    problems: list[ReportedProblem] | None = None
    issue_confirmed: bool | None = Field(None, description="issue_follow_up visits only")
    rescheduled_to: str | None = Field(
        None,
        description="RFC 3339 with offset, after now: required when rescheduled",
        json_schema_extra={"format": "date-time"},
    )


def decide_log_visit(
    visit: Visit | None,
    command: LogVisit,
    acting_agent_id: str | None,
    now: datetime,
    event_id: str,
) -> VisitLogged | Rejection:
    """The VisitLogged a log yields, or why not; `acting_agent_id` is None for supervisors."""
    if visit is None or visit.due is None:
        # A visit known only from a log folded ahead of its VisitDue is not in the queue yet.
        return not_found("no such visit in the queue")
    if acting_agent_id is not None and acting_agent_id != visit.assigned_agent_id:
        return forbidden("agents log only their own visits")
    if acting_agent_id is not None and command.agent_id not in (None, acting_agent_id):
        return forbidden("agents log only under their own agent id")
    errors = validate_log_visit(visit, command, acting_agent_id, now)
    if errors:
        return invalid(errors, "the log is invalid")
    if visit.completion is not None:
        return conflict("the visit is already completed", reason=ALREADY_COMPLETED)
    if visit.status in ENDED:
        return conflict(f"the visit ended {visit.status.value}", reason=VISIT_ENDED)
    return _visit_logged(visit, command, acting_agent_id, now, event_id)


def validate_log_visit(
    visit: Visit, command: LogVisit, acting_agent_id: str | None, now: datetime
) -> list[FieldError]:
    """Every field error of a log, all at once (SPEC §3)."""
    errors: list[FieldError] = []
    if command.agent_id is not None:
        errors += id_errors("agent_id", command.agent_id)
    elif not (command.agent_id or acting_agent_id or visit.assigned_agent_id):
        errors.append(FieldError("agent_id", "required: the visit is assigned to nobody"))
    errors += choice_errors("channel", command.channel, CHANNELS)
    errors += choice_errors("outcome", command.outcome, OUTCOMES)
    completed = command.outcome == "completed"
    # With an unknown outcome the completion rules cannot be judged; its own error says why.
    outcome_known = command.outcome in OUTCOMES
    errors += _score_errors(command, completed, outcome_known)
    errors += choices_errors("needs", command.needs, NEEDS)
    errors += text_errors(
        "feedback", command.feedback, required=False, max_chars=FEEDBACK_MAX_CHARS
    )
    errors += _problem_errors(command.problems)
    errors += _issue_confirmed_errors(visit, command, completed, outcome_known)
    errors += _rescheduled_to_errors(command, outcome_known, now)
    return errors


def _visit_logged(
    visit: Visit, command: LogVisit, acting_agent_id: str | None, now: datetime, event_id: str
) -> VisitLogged:
    # Exactly the contract's fields, logged at `now`; only ever called on a validated log.
    assert visit.due is not None
    agent_id = command.agent_id or acting_agent_id or visit.assigned_agent_id
    assert agent_id is not None and command.channel and command.outcome
    feedback = (command.feedback or "").strip() or None
    # The casts below only narrow str to the contract's Literals: validate_log_visit has
    # already checked every value, and VisitLogged (strict) checks them again.
    return VisitLogged(
        visit_id=visit.visit_id,
        customer_id=visit.customer_id,
        agent_id=agent_id,
        channel=cast(Channel, command.channel),
        outcome=cast(Outcome, command.outcome),
        logged_at=now,
        satisfaction=command.satisfaction,
        checklist=Checklist.model_validate(command.checklist) if command.checklist else None,
        # Repeated needs say nothing new; keep the first mention's order.
        needs=[cast(Need, n) for n in dict.fromkeys(command.needs)] if command.needs else None,
        feedback=feedback,
        problems=[
            Problem(
                problem_id=problem_id_for(event_id, index),
                category=cast(ProblemCategory, p.category),
                severity=cast(Severity, p.severity),
                description=(p.description or "").strip(),
            )
            for index, p in enumerate(command.problems or ())
        ]
        or None,
        issue_id=visit.due.issue_id,
        issue_confirmed=command.issue_confirmed,
        rescheduled_to=_instant(command.rescheduled_to),
    )


def log_event_id(
    visit_id: str,
    command: LogVisit,
    acting_agent_id: str | None,
    now: datetime,
    idempotency_key: str | None,
) -> str:
    """A VisitLogged's id, from what it is about.

    With an Idempotency-Key, the key and the visit: a retry names the same log. Without, the
    visit, the instant and the request: the same request at the same instant is the same log,
    and two different ones at one instant (the simulated clock stands still between advances)
    still differ.
    """
    if idempotency_key:
        return derived_id("VisitLogged", idempotency_key, visit_id)
    return derived_id(
        "VisitLogged", visit_id, now.isoformat(), acting_agent_id or "", command.model_dump_json()
    )


def problem_id_for(event_id: str, index: int) -> str:
    """A problem's id: the same VisitLogged always names its problems the same."""
    return derived_id("problem", event_id, str(index))


def _score_errors(command: LogVisit, completed: bool, outcome_known: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    if command.satisfaction is None:
        if completed:
            errors.append(FieldError("satisfaction", "required when the outcome is completed"))
    elif outcome_known and not completed:
        errors.append(FieldError("satisfaction", "only with the outcome completed"))
    else:
        errors += score_errors("satisfaction", command.satisfaction)
    if command.checklist is None:
        return errors
    if outcome_known and not completed and command.checklist:
        errors.append(FieldError("checklist", "only with the outcome completed"))
    for key, score in command.checklist.items():
        if key not in CHECKLIST_ITEMS:
            errors.append(
                FieldError(f"checklist.{key}", "not one of " + ", ".join(CHECKLIST_ITEMS))
            )
        else:
            errors += score_errors(f"checklist.{key}", score)
    return errors


def _problem_errors(problems: list[ReportedProblem] | None) -> list[FieldError]:
    if problems is None:
        return []
    if len(problems) > MAX_PROBLEMS:
        return [FieldError("problems", f"at most {MAX_PROBLEMS} problems in one log")]
    errors: list[FieldError] = []
    for i, problem in enumerate(problems):
        errors += choice_errors(f"problems.{i}.category", problem.category, PROBLEM_CATEGORIES)
        errors += choice_errors(f"problems.{i}.severity", problem.severity, SEVERITIES)
        # Judged as stored: without the blanks around it.
        description = problem.description.strip() if problem.description is not None else None
        errors += text_errors(
            f"problems.{i}.description", description, max_chars=DESCRIPTION_MAX_CHARS
        )
    return errors


def _issue_confirmed_errors(
    visit: Visit, command: LogVisit, completed: bool, outcome_known: bool
) -> list[FieldError]:
    assert visit.due is not None
    follows_up_issue = "issue_follow_up" in visit.due.kinds
    if not follows_up_issue:
        if command.issue_confirmed is not None:
            return [FieldError("issue_confirmed", "only on an issue_follow_up visit")]
        return []
    if completed and command.issue_confirmed is None:
        return [FieldError("issue_confirmed", "required: does the customer confirm the fix?")]
    if outcome_known and not completed and command.issue_confirmed is not None:
        return [FieldError("issue_confirmed", "only with the outcome completed")]
    return []


def _rescheduled_to_errors(
    command: LogVisit, outcome_known: bool, now: datetime
) -> list[FieldError]:
    rescheduled = command.outcome == "rescheduled"
    if command.rescheduled_to is None:
        if rescheduled:
            return [FieldError("rescheduled_to", "required when the outcome is rescheduled")]
        return []
    if outcome_known and not rescheduled:
        return [FieldError("rescheduled_to", "only with the outcome rescheduled")]
    when = _instant(command.rescheduled_to)
    if when is None:
        return [FieldError("rescheduled_to", "an RFC 3339 date-time with its offset")]
    if when <= now:
        return [FieldError("rescheduled_to", "must be after the time of the log")]
    return []


def _instant(value: str | None) -> datetime | None:
    """An RFC 3339 instant with its offset; None when absent or not one."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
