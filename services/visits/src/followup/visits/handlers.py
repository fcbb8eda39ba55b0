"""Visits' use cases: queue due visits, log contacts, mark missed ones, spot-check."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import orjson

from followup.core.commands import (
    Accepted,
    CommandRejected,
    idempotent_replay,
    remember_answer,
)
from followup.core.consumer import Tx
from followup.core.crypto import PersonalDataVault
from followup.core.outbox import publish_events
from followup.events import (
    CustomerDelivered,
    Event,
    VisitDue,
    VisitLogged,
    VisitSpotChecked,
    derived_id,
    make_event,
)
from followup.visits import domain, projections

SOURCE = "followup/visits"


_STATUS = {
    domain.RejectionKind.NOT_FOUND: 404,
    domain.RejectionKind.FORBIDDEN: 403,
    domain.RejectionKind.INVALID: 422,
}


def _rejected(r: domain.Rejection) -> CommandRejected:
    return CommandRejected(
        _STATUS.get(r.kind, 409),
        r.detail,
        [{"loc": e.field, "msg": e.message} for e in r.errors],
        kind=r.kind.value,
    )


class VisitHandlers:
    """Consumer handlers and API commands over one personal-data vault."""

    def __init__(self, vault: PersonalDataVault, topic_prefix: str = "") -> None:
        self.vault = vault
        self.topic_prefix = topic_prefix

    async def add_visit_to_due_queue(self, tx: Tx, event: Event[VisitDue]) -> None:
        """VisitDue: the visit enters (or, for a retry, re-enters) the agents' queue."""
        # No visit lock here (a batch may hold thousands of visits, and advisory locks share
        # one cluster-wide table): store the event, then fold what is stored now, so a log
        # committed meanwhile is in the row too.
        visit_id, conn = event.data.visit_id, tx.conn
        if await projections.record_visit_event(conn, visit_id, event.id, event.data, None, tx.now):
            visit = await projections.load_visit(conn, visit_id)
            if visit is not None:
                await projections.save_visit_row(conn, visit, tx.now)

    async def remember_customer(self, tx: Tx, event: Event[CustomerDelivered]) -> None:
        """CustomerDelivered: the account manager assigns visits; the contact is sealed."""
        d = event.data
        sealed = await self.vault.seal(
            tx.conn, d.customer_id, orjson.dumps(d.contact.model_dump(exclude_none=True))
        )
        await projections.upsert_customer(
            tx.conn, d.customer_id, d.account_manager_id, sealed, tx.now
        )
        for visit_id in await projections.visits_of_customer_needing_agent(tx.conn, d.customer_id):
            visit = await projections.load_visit(tx.conn, visit_id)
            if visit is not None:
                await projections.save_visit_row(tx.conn, visit, tx.now)

    async def mark_missed_visits(self, tx: Tx, now: datetime) -> None:
        """The clock moved: due visits past their deadline become missed."""
        for visit_id in await projections.overdue_visit_ids(tx.conn, now):
            visit = await projections.load_visit(tx.conn, visit_id, lock=True)
            missed = domain.decide_missed(visit, now) if visit else None
            if missed is not None:
                event_id = derived_id("VisitMissed", visit_id, missed.missed_at.isoformat())
                await self._record(tx.conn, visit, visit_id, event_id, missed, now)

    async def _record(
        self,
        conn: asyncpg.Connection,
        visit: domain.Visit | None,
        visit_id: str,
        event_id: str,
        event: domain.VisitEvent,
        now: datetime,
    ) -> None:
        """Stores an event of `visit` (loaded under its lock) with the queue row it yields.

        The row comes from folding the event into the visit in memory: under the lock the
        stored events are exactly what was loaded, so reading them back would fold the same.
        """
        after = domain.evolve(visit, event)
        await projections.record_visit_event(conn, visit_id, event_id, event, after, now)

    async def log_visit(
        self,
        conn: asyncpg.Connection,
        visit_id: str,
        command: domain.LogVisit,
        acting_agent_id: str | None,
        now: datetime,
        idempotency_key: str | None,
    ) -> Accepted:
        """POST /log: decide the VisitLogged, publish it through the outbox, answer 202."""
        # The request's fingerprint matters only to a keyed request (idempotent replay).
        request = (
            {"visit_id": visit_id, "body": command.model_dump(mode="json")}
            if idempotency_key
            else {}
        )
        async with conn.transaction():
            replay = await idempotent_replay(conn, idempotency_key, request)
            if replay is not None:
                return replay
            visit = await projections.load_visit(conn, visit_id, lock=True)
            event_id = (
                derived_id("VisitLogged", idempotency_key, visit_id)
                if idempotency_key
                else str(uuid.uuid4())
            )
            decided = domain.decide_log_visit(visit, command, acting_agent_id, now, event_id)
            if isinstance(decided, domain.Rejection):
                raise _rejected(decided)
            await self._publish(conn, visit, decided, event_id, now)
            answer = Accepted(202, {"event_id": event_id, "visit_id": visit_id})
            await remember_answer(conn, idempotency_key, request, answer, now)
            return answer

    async def spot_check(
        self,
        conn: asyncpg.Connection,
        visit_id: str,
        supervisor_id: str,
        result: str,
        note: str | None,
        now: datetime,
    ) -> Accepted:
        """POST /spot-checks/{visit_id}: record the re-contact's result, publish it."""
        async with conn.transaction():
            visit = await projections.load_visit(conn, visit_id, lock=True)
            decided = domain.decide_spot_check(visit, supervisor_id, result, note, now)
            if isinstance(decided, domain.Rejection):
                raise _rejected(decided)
            event_id = derived_id("VisitSpotChecked", visit_id)
            await self._publish(conn, visit, decided, event_id, now)
            return Accepted(202, {"event_id": event_id, "visit_id": visit_id})

    async def _publish(
        self,
        conn: asyncpg.Connection,
        visit: domain.Visit | None,
        data: VisitLogged | VisitSpotChecked,
        event_id: str,
        now: datetime,
    ) -> None:
        event = make_event(data, id=event_id, source=SOURCE, subject=data.customer_id, time=now)
        await publish_events(conn, [event], topic_prefix=self.topic_prefix)
        await self._record(conn, visit, data.visit_id, event_id, data, now)
