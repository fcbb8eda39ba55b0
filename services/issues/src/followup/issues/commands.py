"""Issues' commands (SPEC §7), callable alike from a route, the CLI or a test: each loads the
issue under its lock, decides (`domain.lifecycle`), and stores and publishes the event in one
transaction. Each returns what it recorded or the domain's Rejection; the API picks the status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from followup.core.commands import remember_result, replay_result
from followup.core.outbox import publish_events
from followup.core.rejections import Rejection
from followup.events import Event, derived_id
from followup.issues.domain import access, lifecycle, raising
from followup.issues.domain.access import Action, Actor
from followup.issues.domain.model import Issue, IssueEvent
from followup.issues.projections import history, ledger
from followup.issues.recording import Publish, Recorder, event_id_of

Decision = Callable[[Issue], IssueEvent | Rejection]
Check = Callable[[Issue], Rejection | None]


@dataclass(frozen=True)
class Recorded:
    """What a command on an issue published."""

    issue_id: str
    event: str
    event_id: str


@dataclass(frozen=True)
class Raised:
    """The issue a complaint raised (also when a repeated request names it again)."""

    issue_id: str
    event_id: str


class IssueCommands:
    """The commands over one recorder (calendar and topic prefix)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.calendar = recorder.calendar

    def _publish(self, conn: asyncpg.Connection) -> Publish:
        async def publish(e: Event[Any]) -> None:
            await publish_events(conn, [e], topic_prefix=self.recorder.topic_prefix)

        return publish

    async def _decide(
        self,
        conn: asyncpg.Connection,
        issue_id: str,
        action: Action,
        actor: Actor,
        decide: Decision,
        now: datetime,
        check: Check | None = None,
    ) -> Recorded | Rejection:
        async with conn.transaction():
            issue = await history.load_issue(conn, issue_id, lock=True)
            if issue is None:
                return lifecycle.UNKNOWN_ISSUE
            refused = access.refusal(issue, actor, action) or (check(issue) if check else None)
            if refused is not None:
                return refused
            decided = decide(issue)
            if isinstance(decided, Rejection):
                return decided
            await self.recorder.record(conn, issue_id, decided, now, self._publish(conn))
            return Recorded(issue_id, type(decided).__name__, event_id_of(decided))

    async def assign_issue(
        self,
        conn: asyncpg.Connection,
        issue_id: str,
        command: lifecycle.AssignIssue,
        actor: Actor,
        now: datetime,
    ) -> Recorded | Rejection:
        """Assigns a named owner (an agent takes it for themselves): IssueAssigned."""
        meant = access.assignment_by(actor, command)
        return await self._decide(
            conn,
            issue_id,
            Action.ASSIGN,
            actor,
            lambda i: lifecycle.decide_assign(i, meant, now, by=actor.actor_id),
            now,
            lambda i: access.assignment_refusal(i, actor, command),
        )

    async def respond_to_issue(
        self,
        conn: asyncpg.Connection,
        issue_id: str,
        command: lifecycle.RespondToIssue,
        actor: Actor,
        now: datetime,
    ) -> Recorded | Rejection:
        """Records a contact with the customer: IssueResponded (the first ends first response)."""
        return await self._decide(
            conn,
            issue_id,
            Action.RESPOND,
            actor,
            lambda i: lifecycle.decide_respond(i, command, actor.actor_id, now),
            now,
        )

    async def pause_resolution(
        self,
        conn: asyncpg.Connection,
        issue_id: str,
        command: lifecycle.PauseResolution,
        actor: Actor,
        now: datetime,
    ) -> Recorded | Rejection:
        """Pauses the resolution clock, with a reason: IssuePaused."""
        return await self._decide(
            conn,
            issue_id,
            Action.PAUSE,
            actor,
            lambda i: lifecycle.decide_pause(i, command, actor.actor_id, now),
            now,
        )

    async def resume_resolution(
        self,
        conn: asyncpg.Connection,
        issue_id: str,
        command: lifecycle.ResumeResolution,
        actor: Actor,
        now: datetime,
    ) -> Recorded | Rejection:
        """Resumes the resolution clock: IssueResumed."""
        return await self._decide(
            conn,
            issue_id,
            Action.RESUME,
            actor,
            lambda i: lifecycle.decide_resume(i, command, actor.actor_id, now),
            now,
        )

    async def resolve_issue(
        self,
        conn: asyncpg.Connection,
        issue_id: str,
        command: lifecycle.ResolveIssue,
        actor: Actor,
        now: datetime,
    ) -> Recorded | Rejection:
        """Resolves the issue with the deadline in force: IssueResolved, by the caller."""
        return await self._decide(
            conn,
            issue_id,
            Action.RESOLVE,
            actor,
            lambda i: lifecycle.decide_resolve(i, command, actor.actor_id, now, self.calendar),
            now,
            lambda i: access.resolver_refusal(actor, command),
        )

    async def raise_complaint(
        self,
        conn: asyncpg.Connection,
        command: raising.RaiseComplaint,
        idempotency_key: str | None,
        now: datetime,
    ) -> Raised | Rejection:
        """A complaint or hotline report becomes an issue: IssueRaised."""
        request = dict(command.__dict__)
        async with conn.transaction():
            replay = await replay_result(conn, idempotency_key, request)
            if isinstance(replay, Rejection):
                return replay
            if replay is not None:
                return Raised(replay["issue_id"], replay["event_id"])
            issue_id = (
                derived_id("complaint", idempotency_key)
                if idempotency_key
                else derived_id("complaint", orjson.dumps(request).decode(), now.isoformat())
            )
            if command.timezone is None and command.customer_id:
                known = await ledger.customer_zone(conn, command.customer_id)
                command = replace(command, timezone=known)
            raised = raising.raise_complaint(command, issue_id, now, self.calendar)
            if isinstance(raised, Rejection):
                return raised
            await self.recorder.record(conn, issue_id, raised, now, self._publish(conn))
            answer = Raised(issue_id, event_id_of(raised))
            result = {"issue_id": answer.issue_id, "event_id": answer.event_id}
            await remember_result(conn, idempotency_key, request, result, now)
            return answer
