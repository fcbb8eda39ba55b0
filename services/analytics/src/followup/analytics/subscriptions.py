"""Every topic and event type analytics consumes, in one place."""

from __future__ import annotations

from followup.analytics.handlers import AnalyticsHandlers
from followup.core.subscription import Subscription
from followup.events import topics

# Every producer's topic (SPEC §1). followup.clock is not among them: the service's clock reads
# it itself, and the KPIs' `as_of` is that clock's now.
CONSUMES = [topics.CUSTOMERS_SEALED, topics.SCHEDULING, topics.VISITS, topics.ISSUES]
PUBLISHES: list[str] = []
# The types whose facts some KPI reads; ProjectStarted is skipped (no KPI reads it).
FACT_TYPES = (
    "CustomerDelivered",
    "IntentSigned",
    *topics.types_on(topics.SCHEDULING),
    *topics.types_on(topics.VISITS),
    *topics.types_on(topics.ISSUES),
)


def analytics_subscription(handlers: AnalyticsHandlers) -> Subscription:
    """Every fact-bearing event goes to one batch handler, so a batch is a few inserts."""
    return Subscription(
        consumer="analytics",
        topics=CONSUMES,
        batch_handlers=dict.fromkeys(FACT_TYPES, handlers.record_facts),
    )
