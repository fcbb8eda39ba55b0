"""Every topic and event type visits consumes, in one place."""

from __future__ import annotations

from followup.core.consumer import Subscription
from followup.events import topics
from followup.visits.handlers import VisitHandlers

# followup.customers too: account managers assign visits and agents need the contact.
CONSUMES = [topics.SCHEDULING, topics.CUSTOMERS]
PUBLISHES = [topics.VISITS]


def visits_subscription(handlers: VisitHandlers) -> Subscription:
    """VisitDue queues visits; CustomerDelivered names account managers; the clock marks misses."""
    return Subscription(
        consumer="visits",
        topics=CONSUMES,
        handlers={
            "VisitDue": handlers.add_visit_to_due_queue,
            "CustomerDelivered": handlers.remember_customer,
        },
        on_tick=handlers.mark_missed_visits,
    )
