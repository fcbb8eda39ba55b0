"""Every topic and event type scheduling consumes, in one place."""

from __future__ import annotations

from followup.core.consumer import Subscription
from followup.events import topics
from followup.scheduling.handlers import SchedulingHandlers

CONSUMES = [topics.CUSTOMERS, topics.VISITS, topics.ISSUES]
PUBLISHES = [topics.SCHEDULING]


def scheduling_subscription(handlers: SchedulingHandlers) -> Subscription:
    """Customer facts re-plan; VisitLogged closes or retries; the clock makes visits due."""
    return Subscription(
        consumer="scheduling",
        topics=CONSUMES,
        handlers={
            "CustomerDelivered": handlers.plan_visits_for_delivery,
            "IntentSigned": handlers.plan_intent_follow_ups,
            "ProjectStarted": handlers.stop_intent_follow_ups,
            "IssueResolved": handlers.plan_issue_follow_up,
            "VisitLogged": handlers.record_visit_outcome,
        },
        on_tick=handlers.on_tick,
    )
