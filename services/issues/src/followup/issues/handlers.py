"""Issues' use cases: raise from visit logs and complaints, the lifecycle, breach detection,
deadlines moved by a new official calendar year, and the service's own history read back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import orjson
import structlog

from followup.calendar import BusinessCalendar
from followup.core.commands import Accepted, idempotent_replay, remember_answer
from followup.core.consumer import Tx
from followup.core.outbox import outbox_row, publish_events
from followup.events import (
    CustomerDelivered,
    Event,
    IntentSigned,
    IssueClosed,
    IssueRaised,
    IssueReopened,
    VisitLogged,
    derived_id,
    make_event,
)
from followup.issues import domain, projections

SOURCE = "followup/issues"
log = structlog.get_logger()

Publish = Callable[[Event[Any]], Awaitable[None]]
E = TypeVar("E", bound=domain.IssueEvent)
# Up to this many breaches in one sweep get one log line each; more are grouped per manager.
ESCALATION_LINES_MAX = 20
# Breaches recorded per statement: small enough that naming the next slice overlaps storing
# this one, large enough that round trips stay few.
RECORD_SLICE = 1000


def event_id_of(event: domain.IssueEvent) -> str:
    """Deterministic ids: the same decision never becomes two facts.

    Events a replay derives again (from VisitLogged or the clock) are named by what they are
    about, not by their content, so a re-derivation that differs in detail (a customer's zone
    not yet read, say) still meets the published event under the same id.
    """
    name = type(event).__name__
    if isinstance(event, IssueRaised):
        return derived_id(name, event.issue_id)
    if isinstance(event, IssueClosed):
        return derived_id(name, event.issue_id, event.confirmed_by_visit_id)
    if isinstance(event, IssueReopened):
        return derived_id(name, event.issue_id, event.reopened_at.isoformat())
    if isinstance(event, domain.Breach):
        return derived_id(name, event.issue_id, event.clock)
    return derived_id(name, event.model_dump_json())


class IssueHandlers:
    """Consumer handlers and API commands over one calendar and escalation map."""

    def __init__(
        self,
        calendar: BusinessCalendar,
        managers: dict[str, str],
        on_breach: Callable[[domain.Breach], None] | None = None,
        topic_prefix: str = "",
    ) -> None:
        self.calendar = calendar
        self.topic_prefix = topic_prefix
        self.managers = managers
        self.on_breach = on_breach
        # The official years this process has made sure deadlines are counted on.
        self._calendar_checked: list[int] | None = None
        # Whether every stored issue has its breach schedule (migration 0004's backfill done).
        self._schedule_complete = False

    def _event(self, event: domain.IssueEvent, now: datetime) -> Event[Any]:
        return make_event(
            event, id=event_id_of(event), source=SOURCE, subject=event.customer_id, time=now
        )

    async def _record(
        self,
        conn: asyncpg.Connection,
        issue_id: str,
        event: domain.IssueEvent,
        now: datetime,
        publish: Publish,
    ) -> domain.Issue | None:
        """Stores the event, publishes it, saves the ledger row.

        None when the event was already stored (a redelivery or a replay).
        """
        if not await projections.append_issue_event(conn, issue_id, event_id_of(event), event):
            return None
        await publish(self._event(event, now))
        issue = await projections.load_issue(conn, issue_id)
        if issue is not None:
            await projections.save_issue_row(conn, issue, now, self.calendar)
        return issue

    @staticmethod
    def _tx_publish(tx: Tx) -> Publish:
        async def publish(e: Event[Any]) -> None:
            tx.publish(e)

        return publish

    async def raise_issues_from_visit_log(self, tx: Tx, event: Event[VisitLogged]) -> None:
        """VisitLogged: one issue per problem; an issue_follow_up's verdict closes or reopens."""
        visit = event.data
        publish = self._tx_publish(tx)
        if visit.problems:
            tz = await projections.customer_zone(tx.conn, visit.customer_id)
            for raised in domain.raise_issues_from_visit(visit, self.calendar, tz):
                await self._record(tx.conn, raised.issue_id, raised, tx.now, publish)
        if visit.issue_id and visit.issue_confirmed is not None and visit.outcome == "completed":
            issue = await projections.load_issue(tx.conn, visit.issue_id, lock=True)
            verdict = domain.decide_follow_up(issue, visit, self.calendar)
            if isinstance(verdict, domain.Rejection):
                log.info(
                    "follow-up verdict not applied", issue_id=visit.issue_id, reason=verdict.detail
                )
                return
            await self._record(tx.conn, visit.issue_id, verdict, tx.now, publish)

    async def remember_customer_zone(
        self, tx: Tx, event: Event[CustomerDelivered] | Event[IntentSigned]
    ) -> None:
        """CustomerDelivered / IntentSigned: the zone the customer's deadlines are counted in."""
        tz = event.data.timezone
        if tz is None:
            return
        if not domain.is_zone(tz):
            # The event is valid under the contract (a free string); one bad zone must not stop
            # the partition, and the customer's issues fall back to Asia/Shanghai.
            log.warning("not an IANA time zone; ignored", customer_id=event.data.customer_id)
            return
        await projections.remember_customer_zone(tx.conn, event.data.customer_id, tz)

    async def apply_published_event(self, tx: Tx, event: Event[Any]) -> None:
        """An event of followup.issues: what this service published, applied once.

        Live, it is already stored (same id, same content) and nothing happens; in a replay it
        rebuilds the decisions made through the API (assignments, pauses, resolutions) and by
        the clock, which no other topic carries.
        """
        data: domain.IssueEvent = event.data
        if not await projections.store_published_event(tx.conn, data.issue_id, event.id, data):
            return
        issue = await projections.load_issue(tx.conn, data.issue_id)
        if issue is not None:
            await projections.save_issue_row(tx.conn, issue, tx.now, self.calendar)

    async def on_clock_tick(self, tx: Tx, now: datetime) -> None:
        """The clock moved: deadlines follow new official years; breaches are recorded once."""
        await self.recompute_deadlines_for_new_official_years(tx, now)
        await self.schedule_issues_stored_before_the_schedule(tx, now)
        await self.record_breaches(tx, now)

    async def recompute_deadlines_for_new_official_years(self, tx: Tx, now: datetime) -> None:
        """Official data for a year loaded since the last check moves open issues' deadlines.

        Finished clocks and recorded breaches keep theirs (domain.recompute_deadlines). The
        first run on a database only remembers the years: its issues were counted on them.
        """
        official = sorted(self.calendar.years_official())
        if self._calendar_checked == official:
            return
        known = await projections.official_years_counted(tx.conn)
        new_years = sorted(set(official) - set(known or ()))
        if known is not None and new_years:
            ids = await projections.open_issues_that_may_count_days_in(tx.conn, min(new_years))
            issues = await projections.load_issues(tx.conn, ids, lock=True)
            moved = [
                (issue, event)
                for issue in issues
                if (event := domain.recompute_deadlines(issue, self.calendar, now)) is not None
            ]
            await self._record_many(tx, moved, now)
            log.info(
                "official calendar years loaded; open deadlines recomputed",
                years=new_years,
                open_issues=len(issues),
                moved=len(moved),
            )
        if known != official:
            await projections.remember_official_years(tx.conn, official)
        self._calendar_checked = official

    async def record_breaches(self, tx: Tx, now: datetime) -> None:
        """The clock moved: each clock past its deadline breaches once and is escalated."""
        # Escalated once the whole sweep is decided, as one set (grouped when large). Before the
        # tick's commit: a commit that fails is retried and escalates again, at least once.
        self._escalate(await self._sweep(tx, now))

    async def _sweep(self, tx: Tx, now: datetime) -> list[domain.Breach]:
        # From the breach schedule alone (domain.breaches_due over its narrow rows): no issue's
        # history is read or folded; the projections keep the schedule as the fold has it.
        escalated: list[domain.Breach] = []
        while True:
            ids = await projections.issues_past_breach_time(tx.conn, now, projections.SWEEP_BATCH)
            if not ids:
                return escalated
            read = await projections.read_scheduled_clocks(tx.conn, ids, due_before=now, lock=True)
            if not await self._record_breaches(tx, now, read, escalated):
                # A command moved them meanwhile; reading them again would find the same.
                return escalated

    async def _record_breaches(
        self,
        tx: Tx,
        now: datetime,
        read: projections.ScheduledClocksRead,
        escalated: list[domain.Breach],
    ) -> int:
        """Decides and records the breaches slice by slice: the next slice is decided, named
        and encoded while the database stores this one (Python and PostgreSQL each have a
        core of their own). Returns how many breaches were due."""
        storing: asyncio.Future[list[bool]] | None = None
        stored: list[domain.Breach] = []
        due = 0
        try:
            for clocks in read.slices(RECORD_SLICE):
                part = domain.breaches_due(clocks, now, self.managers)
                if not part:
                    continue
                due += len(part)
                named = [(event_id_of(b), b) for b in part]
                # Outbox rows for all; the statement writes those of the new events only.
                rows = [
                    outbox_row(
                        make_event(b, id=event_id, source=SOURCE, subject=b.customer_id, time=now),
                        topic_prefix=self.topic_prefix,
                    )
                    for event_id, b in named
                ]
                if storing is not None:
                    new = await storing
                    escalated.extend(b for b, n in zip(stored, new, strict=True) if n)
                storing = await projections.begin_record_breaches(tx.conn, named, rows)
                stored = part
            if storing is not None:
                new = await storing
                escalated.extend(b for b, n in zip(stored, new, strict=True) if n)
        except BaseException:
            # The statement in flight holds the connection: the rollback must wait for it.
            if storing is not None and not storing.done():
                await asyncio.wait([storing])
            raise
        return due

    async def schedule_issues_stored_before_the_schedule(self, tx: Tx, now: datetime) -> None:
        """Issues stored before the breach schedule existed are folded once to schedule them."""
        if self._schedule_complete:
            return
        ids = await projections.issues_to_schedule(tx.conn, projections.BACKFILL_BATCH)
        if not ids:
            # Only a tick that found none left says so: one that filled some may roll back.
            self._schedule_complete = True
            return
        while ids:
            issues = await projections.load_issues(tx.conn, ids, lock=True)
            await projections.save_issue_rows(tx.conn, issues, now, self.calendar)
            await projections.forget_to_schedule(tx.conn, ids)
            log.info("breach schedule filled for issues stored before it", issues=len(ids))
            ids = await projections.issues_to_schedule(tx.conn, projections.BACKFILL_BATCH)

    def _escalate(self, breaches: Sequence[domain.Breach]) -> None:
        """Escalation: an error line naming the manager to page, and a metric to alert on.

        A sweep recording many breaches at once (a backlog, a clock moved far) logs one line
        per manager, clock and department with the count and the first issue ids, rather
        than an alert storm; each breach is still its own IssueSlaBreached event.
        """
        for breach in breaches:
            if self.on_breach is not None:
                self.on_breach(breach)
        if len(breaches) <= ESCALATION_LINES_MAX:
            for breach in breaches:
                log.error(
                    "sla breached; escalated to the department manager",
                    issue_id=breach.issue_id,
                    clock=breach.clock,
                    department=breach.department,
                    owner_id=breach.owner_id,
                    escalate_to=breach.escalate_to,
                    deadline=breach.deadline.isoformat(),
                )
            return
        groups: dict[tuple[str | None, str, str], list[str]] = {}
        for breach in breaches:
            key = (breach.escalate_to, breach.clock, breach.department)
            groups.setdefault(key, []).append(breach.issue_id)
        for (manager, clock, department), issue_ids in sorted(
            groups.items(), key=lambda g: (g[0][0] or "", g[0][1], g[0][2])
        ):
            log.error(
                "sla breaches; escalated to the department manager",
                escalate_to=manager,
                clock=clock,
                department=department,
                breaches=len(issue_ids),
                issue_ids=issue_ids[:ESCALATION_LINES_MAX],
            )

    async def _record_many(
        self,
        tx: Tx,
        decided: Sequence[tuple[domain.Issue, E]],
        now: datetime,
        *,
        touched: Sequence[domain.Issue] = (),
    ) -> list[E]:
        """Stores and publishes many issues' events at once; saves every touched ledger row."""
        stored = await projections.append_issue_events(
            tx.conn, [(issue.issue_id, event_id_of(e), e) for issue, e in decided]
        )
        new = [e for (_, e), fresh in zip(decided, stored, strict=True) if fresh]
        for event in new:
            tx.publish(self._event(event, now))
        folded = {i.issue_id: i for i in touched}
        for issue, event in decided:
            folded[issue.issue_id] = domain.evolve(folded.get(issue.issue_id, issue), event)
        await projections.save_issue_rows(tx.conn, list(folded.values()), now, self.calendar)
        return new

    async def command(
        self, conn: asyncpg.Connection, issue_id: str, decide: Any, now: datetime
    ) -> Accepted | domain.Rejection:
        """Runs one lifecycle decision on an issue and publishes its event."""

        async def publish(e: Event[Any]) -> None:
            await publish_events(conn, [e], topic_prefix=self.topic_prefix)

        async with conn.transaction():
            issue = await projections.load_issue(conn, issue_id, lock=True)
            decided = decide(issue)
            if isinstance(decided, domain.Rejection):
                return decided
            await self._record(conn, issue_id, decided, now, publish)
            return Accepted(
                202,
                {
                    "issue_id": issue_id,
                    "event": type(decided).__name__,
                    "event_id": event_id_of(decided),
                },
            )

    async def raise_complaint(
        self,
        conn: asyncpg.Connection,
        command: domain.RaiseComplaint,
        idempotency_key: str | None,
        now: datetime,
    ) -> Accepted | domain.Rejection:
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
            if command.timezone is None and command.customer_id:
                known = await projections.customer_zone(conn, command.customer_id)
                command = replace(command, timezone=known)
            raised = domain.raise_complaint(command, issue_id, now, self.calendar)
            if isinstance(raised, domain.Rejection):
                return raised

            async def publish(e: Event[Any]) -> None:
                await publish_events(conn, [e], topic_prefix=self.topic_prefix)

            await self._record(conn, issue_id, raised, now, publish)
            answer = Accepted(201, {"issue_id": issue_id, "event_id": event_id_of(raised)})
            await remember_answer(conn, idempotency_key, request, answer, now)
            return answer
