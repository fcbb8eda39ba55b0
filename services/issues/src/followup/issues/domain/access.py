"""Who may act on an issue (SPEC §10). Pure: the caller as an Actor, the issue as folded.

Decisions:
- admins act on every issue.
- supervisors act on the issues of their department (the department in charge now), and may
  assign them to anyone, in any department.
- agents act on the issues they own, and on unassigned issues of their department: they may
  respond to one, or take it (assign it to themselves; an agent's assignment names nobody
  else and keeps the department). Pausing or resolving an unassigned issue is then refused by
  the lifecycle (an owner first), not here.
- a caller without a department (a token that names none) acts only where ownership alone
  allows it: an agent on its own issues, a supervisor on none.
- nobody names someone else as the resolver: `resolved_by` is the caller.
- the checks come after "no such issue" (404) and before the input and the state (422, 409).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from followup.core.rejections import Rejection, forbidden
from followup.issues.domain.lifecycle import AssignIssue, ResolveIssue
from followup.issues.domain.model import Issue


class ActorRole(StrEnum):
    """The roles that act on issues (analysts only read)."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Action(StrEnum):
    ASSIGN = "assign"
    RESPOND = "respond"
    PAUSE = "pause"
    RESUME = "resume"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Actor:
    """The caller: who they are (recorded as assigned_by, paused_by, ...), their role and
    department."""

    actor_id: str
    role: ActorRole
    department: str | None = None


def refusal(issue: Issue, actor: Actor, action: Action) -> Rejection | None:
    """Why `actor` may not act on `issue` at all (403), or None."""
    if actor.role == ActorRole.ADMIN:
        return None
    in_department = actor.department is not None and actor.department == issue.department
    if actor.role == ActorRole.SUPERVISOR:
        if in_department:
            return None
        return forbidden(
            f"supervisors act on their own department's issues; this one is {issue.department}'s",
            reason="other_department",
        )
    if issue.owner_id == actor.actor_id:
        return None
    if issue.owner_id is None and in_department:
        return None
    if issue.owner_id is not None:
        return forbidden(f"the issue is {issue.owner_id}'s", reason="not_owner")
    return forbidden(
        f"agents act on unassigned issues of their own department; this one is "
        f"{issue.department}'s",
        reason="other_department",
    )


def assignment_refusal(issue: Issue, actor: Actor, command: AssignIssue) -> Rejection | None:
    """Why `actor` may not make this assignment, or None (after `refusal`)."""
    if actor.role != ActorRole.AGENT:
        return None
    if command.assignee_id not in (None, actor.actor_id):
        return forbidden("agents take issues for themselves only", reason="assign_others")
    if command.department not in (None, issue.department):
        return forbidden("agents do not move issues to another department", reason="move")
    return None


def assignment_by(actor: Actor, command: AssignIssue) -> AssignIssue:
    """The assignment as meant: an agent's names the agent when it names nobody."""
    if actor.role == ActorRole.AGENT and command.assignee_id is None:
        return replace(command, assignee_id=actor.actor_id)
    return command


def resolver_refusal(actor: Actor, command: ResolveIssue) -> Rejection | None:
    """Why the resolution may not name its resolver, or None: the caller resolves."""
    if command.resolved_by not in (None, actor.actor_id):
        return forbidden("the caller is the resolver: resolved_by cannot name someone else")
    return None
