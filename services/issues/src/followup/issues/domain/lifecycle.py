"""Commands on an issue (SPEC §4, §10): assign, respond, pause, resume, resolve; a follow-up
visit's verdict.

Every decision takes the issue (None when the ledger has no such issue), the command and
`now`, and returns the event to publish or a Rejection. Checks run in one order: unknown issue
(404), invalid input with every field error (422), then the issue's state (409, carrying the
current status). Input is judged before state so a client learns what to fix first.

Decisions:
- assign: a named owner, allowed until the issue is resolved (reassigning included, also
  after a reopen); the department may be changed with it (a misfiled category), else it
  stays. Assigning the current owner again in the same department is a conflict.
- respond: a contact with the customer about the issue (channel, optional note), while it is
  open (raised, assigned, reopened); the first one ends the first-response clock. Later ones
  are recorded too (the timeline), and may come before anyone owns the issue.
- pause: with a reason, while the resolution clock runs and a named owner has the issue
  (assigned, reopened): waiting on the customer is an owner's call. Several people may each
  hold a pause open; one person holds at most one. The policy may cap the pauses of an issue
  (`max_pauses`, over all its rounds; default: no cap).
- resume: names the pause (`pause_no`), or ends the caller's own open pause, or the only
  open pause; with several open and none the caller's, it must name one.
- resolve: needs a named owner (assigned or reopened). Open pauses end with it. The resolver
  is the caller.
- who may act at all is `access`'s decision, taken before these (403 after 404).
- follow-up visit: only a completed log with `issue_confirmed` on a resolved issue counts, and
  only if logged after that resolution; confirmed → IssueClosed, not confirmed →
  IssueReopened with a new resolution deadline counted from the log, by severity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast, get_args

from followup.calendar import BusinessCalendar
from followup.core import rejections
from followup.core.rejections import (
    FieldError,
    Rejection,
    choice_errors,
    id_errors,
    invalid,
    not_found,
    text_errors,
)
from followup.events import (
    IssueAssigned,
    IssueClosed,
    IssuePaused,
    IssueReopened,
    IssueResolved,
    IssueResponded,
    IssueResumed,
    VisitLogged,
)
from followup.events.issues import Department
from followup.events.visits import Channel
from followup.issues.domain.clocks import resolution_in_force
from followup.issues.domain.model import (
    DEFAULT_POLICY,
    Issue,
    IssueStatus,
    PauseRecord,
    SlaPolicy,
)
from followup.issues.domain.raising import DEPARTMENTS, resolution_deadline

UNKNOWN_ISSUE = not_found("no such issue")
# What the shared vocabulary leaves to issues: a conflict names the state the issue is in.
CURRENT_STATUS = "current_status"
CHANNELS: tuple[str, ...] = get_args(Channel)
ASSIGNABLE = frozenset({IssueStatus.RAISED, IssueStatus.ASSIGNED, IssueStatus.REOPENED})
RESOLVABLE = frozenset({IssueStatus.ASSIGNED, IssueStatus.REOPENED})


@dataclass(frozen=True)
class AssignIssue:
    """The body of `POST /v1/issues/{issue_id}/assign`."""

    assignee_id: str | None = None
    # None keeps the department in charge.
    department: str | None = None


@dataclass(frozen=True)
class RespondToIssue:
    """The body of `POST /v1/issues/{issue_id}/respond`."""

    channel: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class PauseResolution:
    """The body of `POST /v1/issues/{issue_id}/pause`."""

    reason: str | None = None


@dataclass(frozen=True)
class ResumeResolution:
    """The body of `POST /v1/issues/{issue_id}/resume`."""

    pause_no: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class ResolveIssue:
    """The body of `POST /v1/issues/{issue_id}/resolve`."""

    resolution: str | None = None
    # None: the caller resolved it.
    resolved_by: str | None = None


def decide_assign(
    issue: Issue | None, command: AssignIssue, now: datetime, *, by: str | None = None
) -> IssueAssigned | Rejection:
    """IssueAssigned to a named owner (with the department in charge) by `by`, or why not."""
    if issue is None:
        return UNKNOWN_ISSUE
    errors = [
        *id_errors("assignee_id", command.assignee_id),
        *choice_errors("department", command.department, DEPARTMENTS, required=False),
    ]
    if errors:
        return invalid(errors)
    if issue.status not in ASSIGNABLE:
        return conflict(issue, f"a {issue.status} issue cannot be reassigned")
    assignee = cast(str, command.assignee_id)
    department = cast(Department, command.department or issue.department)
    if assignee == issue.owner_id and department == issue.department:
        return conflict(issue, f"already assigned to {assignee} in {department}")
    return IssueAssigned(
        issue_id=issue.issue_id,
        customer_id=issue.customer_id,
        assignee_id=assignee,
        department=department,
        assigned_at=now,
        assigned_by=by,
    )


def decide_respond(
    issue: Issue | None, command: RespondToIssue, actor: str, now: datetime
) -> IssueResponded | Rejection:
    """IssueResponded (a contact with the customer), or why not."""
    if issue is None:
        return UNKNOWN_ISSUE
    errors = [
        *choice_errors("channel", command.channel, CHANNELS),
        *text_errors("note", command.note, required=False),
        *id_errors("actor", actor),
    ]
    if errors:
        return invalid(errors)
    if not issue.is_open:
        return conflict(issue, f"a {issue.status} issue is past responding to")
    return IssueResponded(
        issue_id=issue.issue_id,
        customer_id=issue.customer_id,
        responded_by=actor,
        responded_at=now,
        channel=cast(Channel, command.channel),
        note=command.note,
    )


def decide_pause(
    issue: Issue | None,
    command: PauseResolution,
    actor: str,
    now: datetime,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> IssuePaused | Rejection:
    """IssuePaused (the resolution clock stops, with a reason), or why not."""
    if issue is None:
        return UNKNOWN_ISSUE
    errors = [*text_errors("reason", command.reason), *id_errors("actor", actor)]
    if errors:
        return invalid(errors)
    if issue.status == IssueStatus.RAISED:
        return conflict(issue, "assign a named owner before pausing")
    if not issue.is_open:
        return conflict(issue, f"the resolution clock of a {issue.status} issue is not running")
    own = _own_open_pause(issue, actor)
    if own is not None:
        return conflict(issue, f"{actor} already holds pause {own.pause_no} open")
    if policy.max_pauses is not None and len(issue.pauses) >= policy.max_pauses:
        return conflict(issue, f"the policy allows {policy.max_pauses} pause(s) per issue")
    return IssuePaused(
        issue_id=issue.issue_id,
        customer_id=issue.customer_id,
        pause_no=len(issue.pauses) + 1,
        paused_at=now,
        paused_by=actor,
        reason=cast(str, command.reason),
    )


def decide_resume(
    issue: Issue | None, command: ResumeResolution, actor: str, now: datetime
) -> IssueResumed | Rejection:
    """IssueResumed for one open pause, or why not (no open pause is a conflict)."""
    if issue is None:
        return UNKNOWN_ISSUE
    errors = [*text_errors("note", command.note, required=False), *id_errors("actor", actor)]
    if command.pause_no is not None and command.pause_no < 1:
        errors.append(FieldError("pause_no", "must be 1 or more"))
    if errors:
        return invalid(errors)
    open_pauses = issue.open_pauses if issue.is_open else ()
    if not open_pauses:
        return conflict(issue, "no pause is open")
    pause = _pause_to_resume(open_pauses, command.pause_no, actor)
    if pause is None:
        numbers = ", ".join(str(p.pause_no) for p in open_pauses)
        if command.pause_no is not None:
            return conflict(issue, f"pause {command.pause_no} is not open (open: {numbers})")
        return conflict(issue, f"several pauses are open ({numbers}): name one in pause_no")
    return IssueResumed(
        issue_id=issue.issue_id,
        customer_id=issue.customer_id,
        pause_no=pause.pause_no,
        resumed_at=now,
        resumed_by=actor,
        note=command.note,
    )


def decide_resolve(
    issue: Issue | None,
    command: ResolveIssue,
    actor: str,
    now: datetime,
    cal: BusinessCalendar,
) -> IssueResolved | Rejection:
    """IssueResolved with the deadline in force after pauses and the paused working time."""
    if issue is None:
        return UNKNOWN_ISSUE
    errors = [
        *text_errors("resolution", command.resolution),
        *id_errors("resolved_by", command.resolved_by, required=False),
        *id_errors("actor", actor),
    ]
    if errors:
        return invalid(errors)
    if issue.status == IssueStatus.RAISED:
        return conflict(issue, "assign a named owner before resolving")
    if issue.status not in RESOLVABLE:
        return conflict(issue, f"a {issue.status} issue cannot be resolved")
    in_force = resolution_in_force(issue, issue.current_round, now, cal)
    return IssueResolved(
        issue_id=issue.issue_id,
        customer_id=issue.customer_id,
        resolved_at=now,
        # The caller, always (SPEC §10): access refuses a body naming someone else.
        resolved_by=actor,
        resolution=cast(str, command.resolution),
        resolve_by=in_force.deadline.at,
        paused_seconds=in_force.paused_seconds,
    )


def decide_follow_up(
    issue: Issue | None,
    visit: VisitLogged,
    cal: BusinessCalendar,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> IssueClosed | IssueReopened | Rejection:
    """The verdict of an issue_follow_up visit: closed if confirmed, else reopened."""
    if issue is None:
        return UNKNOWN_ISSUE
    errors: list[FieldError] = []
    if visit.issue_id != issue.issue_id:
        errors.append(FieldError("issue_id", f"the log is about {visit.issue_id}"))
    if visit.outcome != "completed" or visit.issue_confirmed is None:
        errors.append(FieldError("issue_confirmed", "a completed log must say it"))
    if errors:
        return invalid(errors)
    resolved = issue.current_round.resolved
    if issue.status != IssueStatus.RESOLVED or resolved is None:
        return conflict(issue, f"a {issue.status} issue has no fix to confirm")
    if visit.logged_at < resolved.resolved_at:
        # A late log of an earlier follow-up cannot judge a fix made after it.
        return conflict(issue, "the visit was logged before the current resolution")
    if visit.issue_confirmed:
        return IssueClosed(
            issue_id=issue.issue_id,
            customer_id=issue.customer_id,
            closed_at=visit.logged_at,
            confirmed_by_visit_id=visit.visit_id,
        )
    return IssueReopened(
        issue_id=issue.issue_id,
        customer_id=issue.customer_id,
        reopened_at=visit.logged_at,
        # Not the customer's own words: derived events stay free of personal data (SPEC §8).
        reason=f"the customer did not confirm the fix on visit {visit.visit_id}",
        resolve_by=resolution_deadline(
            visit.logged_at, issue.raised.severity, issue.timezone, cal, policy
        ),
    )


def conflict(issue: Issue, detail: str) -> Rejection:
    """The command does not fit the issue's current state, which the answer names."""
    return rejections.conflict(detail, **{CURRENT_STATUS: issue.status.value})


def current_status(rejection: Rejection) -> str | None:
    """The state a refused command met, when it conflicted with the issue's state."""
    status = rejection.members.get(CURRENT_STATUS)
    return None if status is None else str(status)


def _own_open_pause(issue: Issue, actor: str) -> PauseRecord | None:
    return next((p for p in reversed(issue.open_pauses) if p.paused_by == actor), None)


def _pause_to_resume(
    open_pauses: tuple[PauseRecord, ...], pause_no: int | None, actor: str
) -> PauseRecord | None:
    if pause_no is not None:
        return next((p for p in open_pauses if p.pause_no == pause_no), None)
    own = [p for p in open_pauses if p.paused_by == actor]
    if own:
        return own[-1]
    return open_pauses[0] if len(open_pauses) == 1 else None
