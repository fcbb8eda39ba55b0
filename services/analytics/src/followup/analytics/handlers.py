"""Analytics' use cases on the consumer side: store the facts each contract event states."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from followup.analytics import projections
from followup.core.consumer import Tx
from followup.events import Event


class AnalyticsHandlers:
    """One batch handler: every event analytics reads is a fact to keep, nothing to decide."""

    def __init__(self, on_stored: Callable[[int], None] | None = None) -> None:
        self._on_stored = on_stored

    async def record_facts(self, tx: Tx, events: list[Event[Any]]) -> None:
        """Stores the facts of a run of events in one statement per table."""
        written = await projections.record_facts(tx.conn, ((e.id, e.data) for e in events))
        if self._on_stored is not None:
            self._on_stored(written)
