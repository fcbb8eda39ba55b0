"""Every topic and event type scheduling consumes, in one place."""

from __future__ import annotations

from followup.core.subscription import Subscription
from followup.events import topics
from followup.scheduling.handlers import FACT_TYPES, SchedulingHandlers

# Planning reads the intake's sealed copy; the intake (intake.py) reads followup.customers.
PLANNING_TOPICS = [topics.CUSTOMERS_SEALED, topics.VISITS, topics.ISSUES, topics.CONTROL]
CONSUMES = [topics.CUSTOMERS, *PLANNING_TOPICS]
PUBLISHES = [topics.SCHEDULING, topics.CUSTOMERS_SEALED]
# Not rebuilt by a replay: the official calendar years the stored deadlines were counted on
# come from the calendar, not from the topics (emptied, the first tick after the swap would
# recompute the deadlines of every customer with a provisional one).
KEPT_ON_REPLAY = ("calendar_year",)


def scheduling_subscription(handlers: SchedulingHandlers) -> Subscription:
    """Customer facts re-plan; VisitLogged closes or retries; the clock makes visits due."""
    return Subscription(
        consumer="scheduling",
        topics=PLANNING_TOPICS,
        # One batch handler for every customer fact: the core hands it each run of them in
        # the batch, so a batch re-plans its customers together, in a few queries.
        batch_handlers=dict.fromkeys(FACT_TYPES, handlers.apply_customer_facts),
        handlers={
            "VisitLogged": handlers.record_visit_outcome,
            "PolicyActivated": handlers.apply_policy,
        },
        on_tick=handlers.on_tick,
        replay_keep_tables=KEPT_ON_REPLAY,
    )
