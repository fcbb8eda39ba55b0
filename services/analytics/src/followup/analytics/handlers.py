"""Analytics' use cases on the consumer side: store the facts each contract event states and
the aggregates they move, in the batch's transaction."""

from __future__ import annotations

from typing import Any

from followup.analytics import aggregates, projections
from followup.analytics.metrics import AnalyticsMetrics
from followup.core.subscription import Tx
from followup.events import Event


class AnalyticsHandlers:
    """One batch handler: every event analytics reads is a fact to keep, nothing to decide."""

    def __init__(self, metrics: AnalyticsMetrics) -> None:
        self._metrics = metrics

    async def record_facts(self, tx: Tx, events: list[Event[Any]]) -> None:
        """Stores the facts of a run of events, then the aggregates of what they touched."""
        written = await projections.record_facts(tx.conn, ((e.id, e.data) for e in events))
        await aggregates.refresh(tx.conn, [e.data for e in events])
        self._metrics.facts_stored.inc(written)
