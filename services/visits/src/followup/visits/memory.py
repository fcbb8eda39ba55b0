"""A command store in memory: the same contract as PostgreSQL's, for rule tests in milliseconds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from followup.events import Event, VisitAssigned, VisitLogged, VisitSpotChecked
from followup.visits.domain.model import Visit, VisitEvent, assign_account_manager, evolve
from followup.visits.store import RememberedAnswer


class InMemoryCommandStore:
    """Events per visit, queue rows, published events and remembered answers, in dicts."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, VisitEvent]] = {}
        self.rows: dict[str, Visit] = {}
        self.published: list[Event[Any]] = []
        self.answers: dict[str, RememberedAnswer] = {}
        self.account_managers: dict[str, str] = {}
        # One lock for all: commands are serialised, as PostgreSQL serialises those of a visit.
        self._lock = asyncio.Lock()

    def append(self, visit_id: str, event_id: str, event: VisitEvent) -> None:
        """Stores a fact once per id (what the consumer does with a VisitDue)."""
        if any(event_id in events for events in self.events.values()):
            return
        self.events.setdefault(visit_id, {})[event_id] = event
        visit = self.fold(visit_id)
        if visit is not None and visit.due is not None:
            self.rows[visit_id] = visit

    def fold(self, visit_id: str) -> Visit | None:
        """The visit folded from its stored events, with its customer's account manager."""
        visit: Visit | None = None
        for event in self.events.get(visit_id, {}).values():
            visit = evolve(visit, event)
        manager = self.account_managers.get(visit.customer_id) if visit else None
        return assign_account_manager(visit, manager) if visit and manager else visit

    @asynccontextmanager
    async def locked(self, visit_id: str, idempotency_key: str | None) -> AsyncIterator[None]:
        """Serialises the command; what it wrote is undone when the block raises."""
        async with self._lock:
            before = (
                {v: dict(e) for v, e in self.events.items()},
                dict(self.rows),
                list(self.published),
            )
            answers = dict(self.answers)
            try:
                yield
            except BaseException:
                (self.events, self.rows, self.published), self.answers = before, answers
                raise

    async def load(
        self, visit_id: str, idempotency_key: str | None
    ) -> tuple[RememberedAnswer | None, Visit | None]:
        """The answer remembered under the key, if any, and the folded visit."""
        answer = self.answers.get(idempotency_key) if idempotency_key is not None else None
        return answer, self.fold(visit_id)

    async def record(
        self,
        event: Event[VisitLogged | VisitSpotChecked | VisitAssigned],
        visit: Visit,
        answer: RememberedAnswer | None,
        now: datetime,
    ) -> None:
        """Stores the event and its queue row once per id, publishes it once, keeps the answer."""
        if not any(event.id in events for events in self.events.values()):
            self.events[visit.visit_id] = {
                **self.events.get(visit.visit_id, {}),
                event.id: event.data,
            }
            self.rows[visit.visit_id] = visit
        if all(p.id != event.id for p in self.published):
            self.published.append(event)
        if answer is not None:
            self.answers[answer.key] = answer
