"""Who may act (SPEC §10), one case per role per action: admins on every issue, supervisors on
their department's, agents on their own issues and on unassigned ones of their department
(which they may take); a resolver is always the caller."""

from __future__ import annotations

import pytest
from issue_builders import accepted, assign, at, friday_evening_issue, respond

from followup.core.rejections import Rejection, RejectionKind
from followup.issues.domain.access import (
    Action,
    Actor,
    ActorRole,
    assignment_by,
    assignment_refusal,
    refusal,
    resolver_refusal,
)
from followup.issues.domain.lifecycle import (
    AssignIssue,
    PauseResolution,
    ResolveIssue,
    decide_assign,
    decide_pause,
)
from followup.issues.domain.model import Issue

# friday_evening_issue is a fault: after_sales is in charge.
ADMIN = Actor("root", ActorRole.ADMIN)
SUPERVISOR = Actor("SUP-AS", ActorRole.SUPERVISOR, "after_sales")
OTHER_SUPERVISOR = Actor("SUP-T", ActorRole.SUPERVISOR, "technical")
SUPERVISOR_WITHOUT_DEPARTMENT = Actor("SUP-X", ActorRole.SUPERVISOR)
OWNER = Actor("E-17", ActorRole.AGENT, "after_sales")
COLLEAGUE = Actor("E-18", ActorRole.AGENT, "after_sales")
OUTSIDER = Actor("T-3", ActorRole.AGENT, "technical")
OWNER_WITHOUT_DEPARTMENT = Actor("E-17", ActorRole.AGENT)


def owned() -> Issue:
    return assign(friday_evening_issue(), "E-17", at(2026, 3, 7, 9))


def unassigned() -> Issue:
    return friday_evening_issue()


# (who, the issue, may act): the same answer for every action; assignments have more below.
CASES = [
    pytest.param(ADMIN, owned, True, id="an admin acts on any issue"),
    pytest.param(SUPERVISOR, owned, True, id="a supervisor acts on their department's issue"),
    pytest.param(OTHER_SUPERVISOR, owned, False, id="a supervisor of another department may not"),
    pytest.param(
        SUPERVISOR_WITHOUT_DEPARTMENT, owned, False, id="a supervisor without a department may not"
    ),
    pytest.param(OWNER, owned, True, id="an agent acts on the issue they own"),
    pytest.param(
        OWNER_WITHOUT_DEPARTMENT, owned, True, id="an owner needs no department to act on it"
    ),
    pytest.param(COLLEAGUE, owned, False, id="an agent may not act on a colleague's issue"),
    pytest.param(
        COLLEAGUE, unassigned, True, id="an agent acts on an unassigned issue of their department"
    ),
    pytest.param(
        OUTSIDER, unassigned, False, id="an agent may not act on another department's issue"
    ),
    pytest.param(OUTSIDER, owned, False, id="an agent of another department may not act at all"),
]


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize(("actor", "issue", "may"), CASES)
def test_who_may_act_on_an_issue(actor: Actor, issue: object, may: bool, action: Action) -> None:
    refused = refusal(issue(), actor, action)  # type: ignore[operator]

    if may:
        assert refused is None
    else:
        assert refused is not None and refused.kind == RejectionKind.FORBIDDEN


def test_an_agent_takes_an_unassigned_issue_of_their_department_for_themselves() -> None:
    issue = unassigned()
    command = assignment_by(COLLEAGUE, AssignIssue())

    assert assignment_refusal(issue, COLLEAGUE, AssignIssue()) is None
    taken = accepted(decide_assign(issue, command, at(2026, 3, 7, 9), by=COLLEAGUE.actor_id))
    assert (taken.assignee_id, taken.department, taken.assigned_by) == (
        "E-18",
        "after_sales",
        "E-18",
    )


def test_an_agent_may_not_assign_someone_else_or_move_the_department() -> None:
    issue = unassigned()

    others = assignment_refusal(issue, COLLEAGUE, AssignIssue("E-99"))
    moved = assignment_refusal(issue, COLLEAGUE, AssignIssue("E-18", "technical"))

    assert others is not None and others.reason == "assign_others"
    assert moved is not None and moved.reason == "move"


def test_a_supervisor_assigns_anyone_in_any_department_and_is_named_as_assigner() -> None:
    issue = unassigned()
    command = AssignIssue("T-3", "technical")

    assert assignment_refusal(issue, SUPERVISOR, command) is None
    assigned = accepted(decide_assign(issue, command, at(2026, 3, 7, 9), by=SUPERVISOR.actor_id))
    assert (assigned.assignee_id, assigned.department, assigned.assigned_by) == (
        "T-3",
        "technical",
        "SUP-AS",
    )


def test_the_resolver_is_the_caller_and_a_body_naming_someone_else_is_forbidden() -> None:
    assert resolver_refusal(OWNER, ResolveIssue("fixed")) is None
    assert resolver_refusal(OWNER, ResolveIssue("fixed", resolved_by="E-17")) is None
    refused = resolver_refusal(SUPERVISOR, ResolveIssue("fixed", resolved_by="E-17"))
    assert refused is not None and refused.kind == RejectionKind.FORBIDDEN


def test_an_agent_who_may_act_on_an_unassigned_issue_still_needs_an_owner_to_pause_it() -> None:
    issue = respond(unassigned(), "E-18", at(2026, 3, 6, 20))

    assert refusal(issue, COLLEAGUE, Action.PAUSE) is None
    paused = decide_pause(issue, PauseResolution("waiting"), "E-18", at(2026, 3, 6, 21))
    assert isinstance(paused, Rejection) and paused.kind == RejectionKind.CONFLICT
