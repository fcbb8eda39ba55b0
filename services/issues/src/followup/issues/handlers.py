"""Issues' use cases: raise from visit logs and complaints, the lifecycle, breach detection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson
import structlog
from pydantic import BaseModel

from followup.calendar import BusinessCalendar
from followup.core.commands import (
    Accepted,
    CommandRejected,
    idempotent_replay,
    remember_answer,
)
from followup.core.consumer import Tx
from followup.core.outbox import publish_events
from followup.events import Event, VisitLogged, derived_id, make_event
from followup.issues import domain, projections

SOURCE = "followup/issues"
log = structlog.get_logger()


def _rejected(r: domain.Rejection) -> CommandRejected:
    extra: dict[str, Any] = {"kind": r.kind.value}
    if r.status is not None:
        extra["current_status"] = r.status.value
    return CommandRejected(
        r.http_status, r.detail, [{"loc": e.field, "msg": e.message} for e in r.errors], **extra
    )


def _event_id(event: domain.IssueEvent) -> str:
    """Deterministic ids: the same decision never becomes two facts."""
    if isinstance(event, BaseModel):
        return derived_id(type(event).__name__, event.model_dump_json())
    return derived_id(type(event).__name__, repr(event))


class IssueHandlers:
    """Consumer handlers and API commands over one calendar and escalation map."""

    def __init__(
        self,
        calendar: BusinessCalendar,
        managers: dict[str, str],
        on_breach: Any = None,
        topic_prefix: str = "",
    ) -> None:
        self.calendar = calendar
        self.topic_prefix = topic_prefix
        self.managers = managers
        self.on_breach = on_breach

    async def _record(
        self,
        conn: asyncpg.Connection,
        issue_id: str,
        event: domain.IssueEvent,
        now: datetime,
        *,
        publish: Any = None,
    ) -> domain.Issue | None:
        """Stores the event, publishes it when it is a contract event, saves the ledger row.

        None when the event was already stored (a redelivery or a replay).
        """
        event_id = _event_id(event)
        if not await projections.append_issue_event(conn, issue_id, event_id, event):
            return None
        if isinstance(event, BaseModel) and publish is not None:
            await publish(
                make_event(event, id=event_id, source=SOURCE, subject=event.customer_id, time=now)
            )
        issue = await projections.load_issue(conn, issue_id)
        if issue is not None:
            await projections.save_issue_row(conn, issue, now, self.calendar)
        return issue

    async def raise_issues_from_visit_log(self, tx: Tx, event: Event[VisitLogged]) -> None:
        """VisitLogged: one issue per problem; an issue_follow_up's verdict closes or reopens."""
        visit = event.data

        async def publish(e: Event[Any]) -> None:
            tx.publish(e)

        for raised in domain.raise_issues_from_visit(visit, self.calendar):
            await self._record(tx.conn, raised.issue_id, raised, tx.now, publish=publish)
        if visit.issue_id and visit.issue_confirmed is not None and visit.outcome == "completed":
            issue = await projections.load_issue(tx.conn, visit.issue_id, lock=True)
            verdict = domain.decide_follow_up(issue, visit, self.calendar)
            if isinstance(verdict, domain.Rejection):
                log.info(
                    "follow-up verdict not applied", issue_id=visit.issue_id, reason=verdict.detail
                )
                return
            await self._record(tx.conn, visit.issue_id, verdict, tx.now, publish=publish)

    async def record_breaches(self, tx: Tx, now: datetime) -> None:
        """The clock moved: each clock past its deadline breaches once and is escalated."""
        for issue_id in await projections.issues_past_breach_time(tx.conn, now):
            issue = await projections.load_issue(tx.conn, issue_id, lock=True)
            if issue is None:
                continue
            for breach in domain.detect_breaches(
                issue, now, cal=self.calendar, managers=self.managers
            ):
                if await self._record(tx.conn, issue_id, breach, now) is None:
                    continue
                # Escalation: an error line with the manager to page, and a metric to alert on.
                log.error(
                    "sla breached; escalated to the department manager",
                    issue_id=issue_id,
                    clock=breach.clock.value,
                    department=breach.department,
                    owner_id=breach.owner_id,
                    escalate_to=breach.escalate_to,
                    deadline=breach.deadline.isoformat(),
                )
                if self.on_breach is not None:
                    self.on_breach(breach)
            fresh = await projections.load_issue(tx.conn, issue_id)
            if fresh is not None:
                await projections.save_issue_row(tx.conn, fresh, now, self.calendar)

    async def command(
        self, conn: asyncpg.Connection, issue_id: str, decide: Any, now: datetime
    ) -> Accepted:
        """Runs one lifecycle decision on an issue and publishes its event."""
        async with conn.transaction():
            issue = await projections.load_issue(conn, issue_id, lock=True)
            decided = decide(issue)
            if isinstance(decided, domain.Rejection):
                raise _rejected(decided)
            await self._record(
                conn,
                issue_id,
                decided,
                now,
                publish=lambda e: publish_events(conn, [e], topic_prefix=self.topic_prefix),
            )
            return Accepted(
                202,
                {
                    "issue_id": issue_id,
                    "event": type(decided).__name__,
                    "event_id": _event_id(decided),
                },
            )

    async def raise_complaint(
        self,
        conn: asyncpg.Connection,
        command: domain.RaiseComplaint,
        idempotency_key: str | None,
        now: datetime,
    ) -> Accepted:
        """POST /v1/issues: a complaint or hotline report becomes an issue."""
        request = dict(command.__dict__)
        async with conn.transaction():
            replay = await idempotent_replay(conn, idempotency_key, request)
            if replay is not None:
                return replay
            issue_id = (
                derived_id("complaint", idempotency_key)
                if idempotency_key
                else derived_id("complaint", orjson.dumps(request).decode(), now.isoformat())
            )
            raised = domain.raise_complaint(command, issue_id, now, self.calendar)
            if isinstance(raised, domain.Rejection):
                raise _rejected(raised)
            tz = command.timezone or domain.DEFAULT_TIMEZONE
            event_id = _event_id(raised)
            await projections.append_issue_event(conn, issue_id, event_id, raised)
            await publish_events(
                conn,
                [
                    make_event(
                        raised, id=event_id, source=SOURCE, subject=raised.customer_id, time=now
                    )
                ],
                topic_prefix=self.topic_prefix,
            )
            issue = domain.fold([raised], tz)
            assert issue is not None
            await projections.save_issue_row(conn, issue, now, self.calendar)
            answer = Accepted(201, {"issue_id": issue_id, "event_id": event_id})
            await remember_answer(conn, idempotency_key, request, answer, now)
            return answer
