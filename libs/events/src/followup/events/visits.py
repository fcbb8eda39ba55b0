"""Events on followup.visits, published by the visits service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from followup.events.base import ContractModel, EventData, Id, Instant, Text

Channel = Literal["phone", "onsite", "video", "message"]
Outcome = Literal["completed", "unreachable", "declined", "rescheduled"]
Need = Literal["upgrade", "maintenance_plan", "new_feature", "referral"]
ProblemCategory = Literal["fault", "maintenance", "technical", "complaint", "service", "other"]
Severity = Literal["general", "complex"]
SpotCheckResult = Literal["verified", "not_verified"]
Score = Annotated[int, Field(ge=1, le=5)]


class Checklist(ContractModel):
    """Optional 1–5 scores of a completed visit (SPEC §3); unknown keys are ignored on read."""

    equipment: Score | None = None
    audio_video: Score | None = None
    smart_control: Score | None = None
    acoustics: Score | None = None
    response_speed: Score | None = None
    staff_attitude: Score | None = None


class Problem(ContractModel):
    """A problem found on a visit; each becomes an issue."""

    problem_id: Id
    category: ProblemCategory
    severity: Severity
    description: Annotated[str, Field(min_length=1, max_length=4000)]


class VisitLogged(EventData):
    visit_id: Id
    customer_id: Id
    agent_id: Id
    channel: Channel
    outcome: Outcome
    logged_at: Instant
    satisfaction: Score | None = None
    checklist: Checklist | None = None
    needs: list[Need] | None = None
    feedback: Text | None = None
    problems: list[Problem] | None = None
    issue_id: Id | None = None
    issue_confirmed: bool | None = None
    # dataversion 2 (SPEC §10): with the outcome `rescheduled`, when the customer asked to be
    # contacted; the visit leaves the queue until then and keeps its deadline.
    rescheduled_to: Instant | None = None


class VisitSpotChecked(EventData):
    visit_id: Id
    customer_id: Id
    agent_id: Id
    supervisor_id: Id
    checked_at: Instant
    result: SpotCheckResult
    note: Text | None = None


class VisitAssigned(EventData):
    """A visit was given to an agent (SPEC §10): by routing, or by a supervisor or admin."""

    visit_id: Id
    customer_id: Id
    agent_id: Id
    # The team routing chose the agent from; absent for an account manager or a reassignment.
    team: Id | None = None
    # "routing", or the id of the user who assigned it.
    assigned_by: Id
    assigned_at: Instant
    reason: Text | None = None
