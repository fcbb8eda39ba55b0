"""Visits' use cases: queue due visits, move their deadlines, log contacts, mark missed ones,
spot-check, and read back what the service itself published (so a replay rebuilds it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from followup.core.commands import Accepted, CommandRejected, replay_answer, request_hash
from followup.core.consumer import Tx
from followup.core.crypto import PersonalDataVault
from followup.core.outbox import outbox_row
from followup.events import (
    CustomerDelivered,
    Event,
    VisitDeadlineRecomputed,
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
        await self.record_visit_facts(tx, [event])

    async def record_visit_facts(self, tx: Tx, events: list[Event[Any]]) -> None:
        """A run of VisitDue, VisitLogged and VisitSpotChecked, each applied once.

        VisitDue puts the visit in the agents' queue (a later attempt re-queues a retry).
        VisitLogged and VisitSpotChecked are what this service published: live, the command
        stored each under the same id in the same transaction, so the lookup finds them and
        nothing happens (nothing is published either: this path never writes the outbox); in a
        replay they rebuild the logs and spot checks made through the API, which no other
        topic carries. One statement each to look up, append, load and save the whole run.
        """
        # No visit lock here (a batch may hold thousands of visits, and advisory locks share
        # one cluster-wide table): store the events, then fold what is stored now, so a log
        # committed meanwhile is in the row too.
        conn = tx.conn
        known = await projections.stored_event_ids(conn, [e.id for e in events])
        fresh = list({e.id: e for e in events if e.id not in known}.values())
        if not fresh:
            return
        await projections.append_visit_events(
            conn, [(e.data.visit_id, e.id, e.data) for e in fresh]
        )
        visits = await projections.load_visits(
            conn, list(dict.fromkeys(e.data.visit_id for e in fresh))
        )
        # A visit known only from a log (its VisitDue is on another topic, not read yet) gets
        # its queue row when the VisitDue comes.
        await projections.save_visit_rows(conn, [v for v in visits if v.due is not None], tx.now)

    async def move_visit_deadline(self, tx: Tx, event: Event[VisitDeadlineRecomputed]) -> None:
        """VisitDeadlineRecomputed: official calendar data moved an open visit's deadline.

        Stored as a fact of the visit whatever its state: the fold decides whether it applies
        (a done visit keeps its deadline; a missed one whose new deadline is ahead is due
        again). A move for a visit whose VisitDue has not come is kept, not dropped, and
        applies when the VisitDue arrives; until then no queue row is written for it. A visit
        whose new deadline has already passed is missed at once, as the next tick would find.
        """
        move, conn = event.data, tx.conn
        if not await projections.record_visit_event(
            conn, move.visit_id, event.id, move, None, tx.now
        ):
            return
        visit = await projections.load_visit(conn, move.visit_id)
        if visit is None or visit.due is None:
            return
        missed = domain.decide_missed(visit, tx.now)
        if missed is None:
            await projections.save_visit_row(conn, visit, tx.now)
        else:
            await self._record(
                conn, visit, move.visit_id, domain.missed_event_id(missed), missed, tx.now
            )

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
            if visit is None:
                continue
            missed = domain.decide_missed(visit, now)
            if missed is not None:
                await self._record(
                    tx.conn, visit, visit_id, domain.missed_event_id(missed), missed, now
                )
            else:
                # Its row is stale (it is missed already, or no longer overdue): rewriting it
                # keeps the sweep from finding it on every tick.
                await projections.save_visit_row(tx.conn, visit, now)

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
        async with projections.command_transaction(conn, visit_id, idempotency_key):
            stored, visit = await projections.load_for_command(conn, visit_id, idempotency_key)
            if stored is not None:
                return replay_answer(stored.request_hash, stored.status_code, stored.body, request)
            event_id = domain.log_event_id(visit_id, command, acting_agent_id, now, idempotency_key)
            decided = domain.decide_log_visit(visit, command, acting_agent_id, now, event_id)
            if isinstance(decided, domain.Rejection):
                raise _rejected(decided)
            answer = Accepted(202, {"event_id": event_id, "visit_id": visit_id})
            remembered = (
                (idempotency_key, request_hash(request), answer.status_code, answer.body)
                if idempotency_key is not None
                else None
            )
            await self._publish(conn, visit, decided, event_id, now, remembered)
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
        async with projections.command_transaction(conn, visit_id, None):
            _, visit = await projections.load_for_command(conn, visit_id, None)
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
        answer: tuple[str, str, int, dict[str, Any]] | None = None,
    ) -> None:
        """Stores the event of `visit` (loaded under its lock), its queue row, its outbox row
        and the keyed request's answer, in one statement.

        The row comes from folding the event into the visit in memory: under the lock the
        stored events are exactly what was loaded, so reading them back would fold the same.
        """
        event = make_event(data, id=event_id, source=SOURCE, subject=data.customer_id, time=now)
        after = domain.evolve(visit, data)
        # Both commands refuse a visit with no stored event, so the fold always yields one.
        assert after is not None
        await projections.record_command_event(
            conn,
            event_id,
            data,
            after,
            outbox_row(event, topic_prefix=self.topic_prefix),
            answer,
            now,
        )
