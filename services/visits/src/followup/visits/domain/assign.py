"""A supervisor's or admin's reassignment (SPEC §10): `POST /v1/visits/{id}/assign`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from followup.core.auth import Principal, Role
from followup.core.rejections import FieldError, Rejection, conflict, forbidden, invalid, not_found
from followup.core.roster import Roster
from followup.events import VisitAssigned, derived_id
from followup.visits.domain.model import Visit


class AssignVisit(BaseModel):
    """The body: who takes the visit, and why."""

    model_config = ConfigDict(extra="forbid")

    agent_id: Annotated[str, Field(min_length=1, max_length=200)]
    reason: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


def assigner_id(principal: Principal) -> str:
    """The caller as `assigned_by`: its id, else its name, else its role."""
    return principal.agent_id or principal.name or principal.role.value


def assign_event_id(visit_id: str, assigned_by: str, now: datetime) -> str:
    """One id per caller and instant: a repeated request at the same instant is one event."""
    return derived_id("VisitAssigned", visit_id, assigned_by, now.isoformat())


def decide_assign(
    visit_id: str,
    visit: Visit | None,
    command: AssignVisit,
    caller: Principal,
    roster: Roster,
    now: datetime,
) -> VisitAssigned | Rejection:
    """The VisitAssigned of a reassignment, or why not: agents may not assign (403), the agent
    must be active on the roster (when there is one), a supervisor assigns within its teams."""
    if caller.role not in (Role.SUPERVISOR, Role.ADMIN):
        return forbidden(f"role {caller.role} may not assign visits")
    if visit is None or visit.due is None:
        return not_found(f"no visit {visit_id}")
    if not visit.is_open:
        return conflict(
            f"visit {visit.visit_id} is {visit.status.value}",
            reason="visit-closed",
            status=visit.status.value,
        )
    if roster.agents:
        agent = roster.active_agent(command.agent_id)
        if agent is None:
            return invalid([FieldError("agent_id", "not an active agent on the roster")])
        teams = roster.teams_of(caller)
        if caller.role == Role.SUPERVISOR and teams and agent.team not in teams:
            return forbidden(f"agent {command.agent_id} is not in your teams")
    if visit.assigned_agent_id == command.agent_id:
        return conflict(
            f"visit {visit.visit_id} is already {command.agent_id}'s", reason="already-assigned"
        )
    return VisitAssigned(
        visit_id=visit.visit_id,
        customer_id=visit.customer_id,
        agent_id=command.agent_id,
        team=roster.agents[command.agent_id].team if command.agent_id in roster.agents else None,
        assigned_by=assigner_id(caller),
        assigned_at=now,
        reason=command.reason,
    )
