"""How every change of an issue is stored: its event under a deterministic id, published (the
outbox), and the ledger row folded from the history, whoever decided it (a command, a consumed
event or the clock)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from followup.calendar import BusinessCalendar
from followup.core.crypto import PersonalDataVault
from followup.core.subscription import Tx
from followup.events import Event, IssueClosed, IssueRaised, IssueReopened, derived_id, make_event
from followup.issues.domain.model import Breach, Issue, IssueEvent, evolve
from followup.issues.projections import history, ledger

SOURCE = "followup/issues"

Publish = Callable[[Event[Any]], Awaitable[None]]
E = TypeVar("E", bound=IssueEvent)


def event_id_of(event: IssueEvent) -> str:
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
    if isinstance(event, Breach):
        return derived_id(name, event.issue_id, event.clock)
    return derived_id(name, event.model_dump_json())


def tx_publish(tx: Tx) -> Publish:
    """Publishing through the consumer's transaction (its outbox rows go with the batch)."""

    async def publish(e: Event[Any]) -> None:
        tx.publish(e)

    return publish


class Recorder:
    """Stores, publishes and folds issues' events over one calendar and topic prefix."""

    def __init__(
        self,
        calendar: BusinessCalendar,
        topic_prefix: str = "",
        vault: PersonalDataVault | None = None,
    ) -> None:
        self.calendar = calendar
        self.topic_prefix = topic_prefix
        # Seals the free text a person typed before it is stored or published (SPEC §8).
        self.vault = vault

    def event(self, event: IssueEvent, now: datetime, event_id: str | None = None) -> Event[Any]:
        """The CloudEvent that publishes `event`."""
        return make_event(
            event,
            id=event_id or event_id_of(event),
            source=SOURCE,
            subject=event.customer_id,
            time=now,
        )

    async def sealed(self, event: E) -> E:
        """`event` with its free text sealed with the customer's key (ids come from the
        plaintext: sealing is randomised, a re-derivation must meet the same id)."""
        if self.vault is None:
            return event
        return await self.vault.seal_data(type(event).__name__, event.customer_id, event)

    async def record(
        self,
        conn: asyncpg.Connection,
        issue_id: str,
        event: IssueEvent,
        now: datetime,
        publish: Publish,
    ) -> Issue | None:
        """Stores the event, publishes it, saves the ledger row.

        None when the event was already stored (a redelivery or a replay).
        """
        event_id = event_id_of(event)
        event = await self.sealed(event)
        if not await history.append_issue_event(conn, issue_id, event_id, event):
            return None
        await publish(self.event(event, now, event_id))
        issue = await history.load_issue(conn, issue_id)
        if issue is not None:
            await ledger.save_issue_row(conn, issue, now, self.calendar)
        return issue

    async def record_many(
        self,
        tx: Tx,
        decided: Sequence[tuple[Issue, E]],
        now: datetime,
        *,
        touched: Sequence[Issue] = (),
    ) -> list[E]:
        """Stores and publishes many issues' events at once; saves every touched ledger row."""
        ids = [event_id_of(e) for _, e in decided]
        decided = [(issue, await self.sealed(e)) for issue, e in decided]
        stored = await history.append_issue_events(
            tx.conn, [(issue.issue_id, i, e) for (issue, e), i in zip(decided, ids, strict=True)]
        )
        new = [(i, e) for (_, e), i, fresh in zip(decided, ids, stored, strict=True) if fresh]
        for event_id, event in new:
            tx.publish(self.event(event, now, event_id))
        folded = {i.issue_id: i for i in touched}
        for issue, event in decided:
            folded[issue.issue_id] = evolve(folded.get(issue.issue_id, issue), event)
        await ledger.save_issue_rows(tx.conn, list(folded.values()), now, self.calendar)
        return [e for _, e in new]
