"""Every topic and event type scheduling consumes, in one place."""

from __future__ import annotations

from followup.core.consumer import Subscription
from followup.events import topics
from followup.scheduling.handlers import SchedulingHandlers

CONSUMES = [topics.CUSTOMERS, topics.VISITS, topics.ISSUES]
PUBLISHES = [topics.SCHEDULING]


def scheduling_subscription(handlers: SchedulingHandlers) -> Subscription:
    """CustomerDelivered plans visits; VisitLogged closes them; the clock makes them due."""
    return Subscription(
        consumer="scheduling",
        topics=CONSUMES,
        handlers={
            "CustomerDelivered": handlers.plan_visits_for_delivery,
            "VisitLogged": handlers.record_visit_logged,
        },
        on_tick=handlers.on_tick,
    )
