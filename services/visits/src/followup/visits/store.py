"""The seam between visit commands and their storage: what logging a visit or spot-checking it
needs (lock, load, one write), with PostgreSQL behind it in the service and memory in tests."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from followup.core.crypto import PersonalDataVault
from followup.core.outbox import outbox_row
from followup.events import Event, VisitAssigned, VisitLogged, VisitSpotChecked
from followup.visits.domain.model import Visit
from followup.visits.projections import commands

# The idempotent_request table (shared with every service) keeps the answer's status code; a
# visit command that is remembered was accepted, which the API answers 202.
_ACCEPTED = 202


@dataclass(frozen=True, slots=True)
class RememberedAnswer:
    """The answer of a keyed request, kept for its replays with the request's fingerprint."""

    key: str
    request_hash: str
    body: dict[str, Any]


class CommandStore(Protocol):
    """Storage for one visit command: serialised per visit (and per key), one write at the end."""

    def locked(
        self, visit_id: str, idempotency_key: str | None
    ) -> AbstractAsyncContextManager[None]:
        """Holds the key's lock (if any), then the visit's, until the block ends."""
        ...

    async def load(
        self, visit_id: str, idempotency_key: str | None
    ) -> tuple[RememberedAnswer | None, Visit | None]:
        """The answer remembered under the key, if any, and the visit folded from its events."""
        ...

    async def record(
        self,
        event: Event[VisitLogged | VisitSpotChecked | VisitAssigned],
        visit: Visit,
        answer: RememberedAnswer | None,
        now: datetime,
    ) -> None:
        """Stores the event, the queue row of `visit` (the event folded in), its publication
        and the keyed request's answer, all or nothing."""
        ...


class PostgresCommandStore:
    """The command store on one pooled connection: the commands run in their own transaction."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        topic_prefix: str = "",
        vault: PersonalDataVault | None = None,
    ) -> None:
        self.conn, self.topic_prefix = conn, topic_prefix
        # Seals the free text a person typed before it is stored or published (SPEC §8).
        self.vault = vault

    def locked(
        self, visit_id: str, idempotency_key: str | None
    ) -> AbstractAsyncContextManager[None]:
        """A transaction begun with both locks in one round trip (see `command_transaction`)."""
        return commands.command_transaction(self.conn, visit_id, idempotency_key)

    async def load(
        self, visit_id: str, idempotency_key: str | None
    ) -> tuple[RememberedAnswer | None, Visit | None]:
        """The stored answer and the visit, in one round trip."""
        stored, visit = await commands.load_for_command(self.conn, visit_id, idempotency_key)
        if stored is None or idempotency_key is None:
            return None, visit
        return RememberedAnswer(idempotency_key, stored.request_hash, stored.body), visit

    async def record(
        self,
        event: Event[VisitLogged | VisitSpotChecked | VisitAssigned],
        visit: Visit,
        answer: RememberedAnswer | None,
        now: datetime,
    ) -> None:
        """One statement for the event, the queue row, the outbox row and the answer."""
        if self.vault is not None:
            event = await self.vault.seal_event(event)
        await commands.record_command_event(
            self.conn,
            event.id,
            event.data,
            visit,
            outbox_row(event, topic_prefix=self.topic_prefix),
            (answer.key, answer.request_hash, _ACCEPTED, answer.body) if answer else None,
            now,
        )
