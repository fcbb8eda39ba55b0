"""Every topic and event type visits consumes, in one place."""

from __future__ import annotations

from followup.core.subscription import Subscription
from followup.events import topics
from followup.visits.erasure import Erasure
from followup.visits.handlers import VisitHandlers

# followup.customers too: account managers assign visits and agents need the contact.
# followup.visits too: the service reads its own logs and spot checks back, so a replay
# rebuilds what was decided through the API (live they are already stored: a no-op).
# followup.control: CustomerErased drops a forgotten customer's contact (SPEC §8).
CONSUMES = [topics.SCHEDULING, topics.CUSTOMERS_SEALED, topics.VISITS, topics.CONTROL]
PUBLISHES = [topics.VISITS]
# Idempotency-Keys of API commands come from no topic: a replay keeps them, so a client's
# retry after a rebuild still gets its first answer instead of running the command again.
KEPT_ON_REPLAY = ("idempotent_request",)


def visits_subscription(handlers: VisitHandlers) -> Subscription:
    """VisitDue queues visits, VisitDeadlineRecomputed moves deadlines; CustomerDelivered names
    account managers; its own events rebuild logs and checks; the clock marks misses."""
    # One batch handler for the facts that need no decision: a run of them is one lookup.
    facts = {t: handlers.record_visit_facts for t in ("VisitDue", *topics.types_on(topics.VISITS))}
    return Subscription(
        consumer="visits",
        topics=CONSUMES,
        handlers={
            "VisitDeadlineRecomputed": handlers.move_visit_deadline,
            "CustomerDelivered": handlers.remember_customer,
            "IntentSigned": handlers.remember_customer,
            "CustomerErased": Erasure(handlers.vault).forget_customer,
        },
        batch_handlers=facts,
        on_tick=handlers.mark_missed_visits,
        replay_keep_tables=KEPT_ON_REPLAY,
    )
