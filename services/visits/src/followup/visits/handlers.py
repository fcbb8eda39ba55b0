"""Visits' use cases: queue due visits, move their deadlines, mark missed ones and remember
customers (the consumer's handlers), and the commands logging a contact and spot-checking it
(callable from a route, the CLI or a test; they return what was decided, never an HTTP status).
The consumer also reads back what the service itself published, so a replay rebuilds it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from followup.core.auth import Principal
from followup.core.commands import KEY_REUSED, request_hash
from followup.core.crypto import PersonalDataVault
from followup.core.rejections import Rejection
from followup.core.roster import Roster
from followup.core.subscription import Tx
from followup.events import (
    CustomerDelivered,
    Event,
    IntentSigned,
    VisitAssigned,
    VisitDeadlineRecomputed,
    VisitDue,
    VisitLogged,
    VisitSpotChecked,
    derived_id,
    make_event,
)
from followup.visits import dispatch
from followup.visits.domain.assign import AssignVisit, assign_event_id, assigner_id, decide_assign
from followup.visits.domain.lifecycle import (
    back_event_id,
    decide_back_in_queue,
    decide_missed,
    missed_event_id,
)
from followup.visits.domain.log_visit import LogVisit, decide_log_visit, log_event_id
from followup.visits.domain.model import Visit, VisitEvent, evolve
from followup.visits.domain.routing import CustomerFacts, needs_routing
from followup.visits.domain.spot_checks import decide_spot_check
from followup.visits.domain.views import CommandAccepted
from followup.visits.projections import customers, queue, visit_events
from followup.visits.staffing import Staffing
from followup.visits.store import CommandStore, RememberedAnswer

SOURCE = "followup/visits"


class VisitHandlers:
    """The consumer's handlers, over one personal-data vault (customers' contacts)."""

    def __init__(self, vault: PersonalDataVault, staffing: Staffing | None = None) -> None:
        # Without staffing (or with an empty roster) nothing is routed: visits keep the agent
        # their VisitDue or their customer's account manager names.
        self.vault, self.staffing = vault, staffing

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
        known = await visit_events.stored_event_ids(conn, [e.id for e in events])
        fresh = list({e.id: e for e in events if e.id not in known}.values())
        if not fresh:
            return
        await visit_events.append_visit_events(
            conn, [(e.data.visit_id, e.id, e.data) for e in fresh]
        )
        visits = await visit_events.load_visits(
            conn, list(dict.fromkeys(e.data.visit_id for e in fresh))
        )
        # A visit known only from a log (its VisitDue is on another topic, not read yet) gets
        # its queue row when the VisitDue comes.
        await queue.save_visit_rows(conn, [v for v in visits if v.due is not None], tx.now)
        if self.staffing is not None:
            await dispatch.route_new_visits(
                tx, self.staffing, [v for v in visits if needs_routing(v)]
            )

    async def move_visit_deadline(self, tx: Tx, event: Event[VisitDeadlineRecomputed]) -> None:
        """VisitDeadlineRecomputed: official calendar data moved an open visit's deadline.

        Stored as a fact of the visit whatever its state: the fold decides whether it applies
        (a done visit keeps its deadline; a missed one whose new deadline is ahead is due
        again). A move for a visit whose VisitDue has not come is kept, not dropped, and
        applies when the VisitDue arrives; until then no queue row is written for it. A visit
        whose new deadline has already passed is missed at once, as the next tick would find.
        """
        move, conn = event.data, tx.conn
        if not await visit_events.record_visit_event(
            conn, move.visit_id, event.id, move, None, tx.now
        ):
            return
        visit = await visit_events.load_visit(conn, move.visit_id)
        if visit is None or visit.due is None:
            return
        missed = decide_missed(visit, tx.now)
        if missed is None:
            await queue.save_visit_row(conn, visit, tx.now)
        else:
            await self._record(conn, visit, move.visit_id, missed_event_id(missed), missed, tx.now)

    async def remember_customer(
        self, tx: Tx, event: Event[CustomerDelivered] | Event[IntentSigned]
    ) -> None:
        """CustomerDelivered and IntentSigned: the contact is sealed (an intent-only customer
        is called too); the account manager, region, segment and tier route visits."""
        d = event.data
        sealed = await self.vault.seal(
            tx.conn, d.customer_id, orjson.dumps(d.contact.model_dump(exclude_none=True))
        )
        manager = d.account_manager_id if isinstance(d, CustomerDelivered) else None
        facts = CustomerFacts(manager, d.region, d.segment, d.tier)
        await customers.upsert_customer(tx.conn, d.customer_id, manager, sealed, tx.now, facts)
        waiting = await queue.visits_of_customer_needing_agent(tx.conn, d.customer_id)
        visits = [v for v in await visit_events.load_visits(tx.conn, waiting) if v.due]
        await queue.save_visit_rows(tx.conn, visits, tx.now)
        if self.staffing is not None:
            await dispatch.route_new_visits(
                tx, self.staffing, [v for v in visits if needs_routing(v)]
            )

    async def mark_missed_visits(self, tx: Tx, now: datetime) -> None:
        """The clock moved: rescheduled visits whose time has come are back in the queue, and
        due visits past their deadline become missed (a visit back late is missed at once);
        open visits of agents the roster lists as inactive go to active ones."""
        if self.staffing is not None:
            await dispatch.reroute_inactive(tx, self.staffing, now)
        for visit_id in await queue.rescheduled_visit_ids(tx.conn, now):
            visit = await visit_events.load_visit(tx.conn, visit_id, lock=True)
            back = decide_back_in_queue(visit, now) if visit is not None else None
            if back is not None:
                await self._record(tx.conn, visit, visit_id, back_event_id(back), back, now)
            elif visit is not None:
                await queue.save_visit_row(tx.conn, visit, now)
        for visit_id in await queue.overdue_visit_ids(tx.conn, now):
            visit = await visit_events.load_visit(tx.conn, visit_id, lock=True)
            if visit is None:
                continue
            missed = decide_missed(visit, now)
            if missed is not None:
                await self._record(tx.conn, visit, visit_id, missed_event_id(missed), missed, now)
            else:
                # Its row is stale (it is missed already, or no longer overdue): rewriting it
                # keeps the sweep from finding it on every tick.
                await queue.save_visit_row(tx.conn, visit, now)

    async def _record(
        self,
        conn: asyncpg.Connection,
        visit: Visit | None,
        visit_id: str,
        event_id: str,
        event: VisitEvent,
        now: datetime,
    ) -> None:
        """Stores an event of `visit` (loaded under its lock) with the queue row it yields.

        The row comes from folding the event into the visit in memory: under the lock the
        stored events are exactly what was loaded, so reading them back would fold the same.
        """
        after = evolve(visit, event)
        await visit_events.record_visit_event(conn, visit_id, event_id, event, after, now)


async def log_visit(
    store: CommandStore,
    visit_id: str,
    command: LogVisit,
    acting_agent_id: str | None,
    now: datetime,
    idempotency_key: str | None,
) -> CommandAccepted | Rejection:
    """Logs a contact: decides the VisitLogged and publishes it, or says why not."""
    # The request's fingerprint matters only to a keyed request (idempotent replay).
    request = (
        {"visit_id": visit_id, "body": command.model_dump(mode="json")} if idempotency_key else {}
    )
    async with store.locked(visit_id, idempotency_key):
        stored, visit = await store.load(visit_id, idempotency_key)
        if stored is not None:
            return _replayed(stored, request)
        event_id = log_event_id(visit_id, command, acting_agent_id, now, idempotency_key)
        decided = decide_log_visit(visit, command, acting_agent_id, now, event_id)
        if isinstance(decided, Rejection):
            return decided
        answer = CommandAccepted(event_id=event_id, visit_id=visit_id)
        remembered = (
            RememberedAnswer(idempotency_key, request_hash(request), answer.model_dump())
            if idempotency_key is not None
            else None
        )
        await _publish(store, visit, decided, event_id, now, remembered)
        return answer


async def spot_check(
    store: CommandStore,
    visit_id: str,
    supervisor_id: str,
    result: str,
    note: str | None,
    now: datetime,
) -> CommandAccepted | Rejection:
    """Records a supervisor's re-contact and publishes it, or says why not."""
    async with store.locked(visit_id, None):
        _, visit = await store.load(visit_id, None)
        decided = decide_spot_check(visit, supervisor_id, result, note, now)
        if isinstance(decided, Rejection):
            return decided
        event_id = derived_id("VisitSpotChecked", visit_id)
        await _publish(store, visit, decided, event_id, now)
        return CommandAccepted(event_id=event_id, visit_id=visit_id)


async def assign_visit(
    store: CommandStore,
    visit_id: str,
    command: AssignVisit,
    caller: Principal,
    roster: Roster,
    now: datetime,
) -> CommandAccepted | Rejection:
    """A supervisor's or admin's reassignment: publishes VisitAssigned, or says why not."""
    async with store.locked(visit_id, None):
        _, visit = await store.load(visit_id, None)
        decided = decide_assign(visit_id, visit, command, caller, roster, now)
        if isinstance(decided, Rejection):
            return decided
        event_id = assign_event_id(visit_id, assigner_id(caller), now)
        await _publish(store, visit, decided, event_id, now)
        return CommandAccepted(event_id=event_id, visit_id=visit_id)


def _replayed(stored: RememberedAnswer, request: dict[str, Any]) -> CommandAccepted | Rejection:
    """The first answer of a repeated keyed request; refused when the key came with another."""
    if stored.request_hash != request_hash(request):
        return KEY_REUSED
    return CommandAccepted.model_validate(stored.body)


async def _publish(
    store: CommandStore,
    visit: Visit | None,
    data: VisitLogged | VisitSpotChecked | VisitAssigned,
    event_id: str,
    now: datetime,
    answer: RememberedAnswer | None = None,
) -> None:
    """Stores the event of `visit` (loaded under its lock), its queue row, its publication and
    the keyed request's answer, in one write.

    The row comes from folding the event into the visit in memory: under the lock the stored
    events are exactly what was loaded, so reading them back would fold the same.
    """
    event = make_event(data, id=event_id, source=SOURCE, subject=data.customer_id, time=now)
    after = evolve(visit, data)
    # Both commands refuse a visit with no stored event, so the fold always yields one.
    assert after is not None
    await store.record(event, after, answer, now)
