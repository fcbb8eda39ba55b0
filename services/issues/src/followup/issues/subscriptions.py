"""Every topic and event type issues consumes, in one place."""

from __future__ import annotations

from followup.core.subscription import Subscription
from followup.events import topics
from followup.issues.deps import IssuesDeps
from followup.issues.domain.model import FOLDED_TYPES

# followup.issues too: the service reads its own history back, so a replay rebuilds what was
# decided through the API and by the clock; followup.customers for each customer's zone.
CONSUMES = [topics.VISITS, topics.ISSUES, topics.CUSTOMERS_SEALED]
PUBLISHES = [topics.ISSUES]


def issues_subscription(deps: IssuesDeps) -> Subscription:
    """VisitLogged raises, closes or reopens issues; the clock finds breaches."""
    handlers = deps.handlers
    own = {
        type_: handlers.apply_published_event
        for type_ in topics.types_on(topics.ISSUES)
        if type_ in FOLDED_TYPES
    }
    return Subscription(
        consumer="issues",
        topics=CONSUMES,
        handlers={
            "VisitLogged": handlers.raise_issues_from_visit_log,
            "CustomerDelivered": handlers.remember_customer_zone,
            "IntentSigned": handlers.remember_customer_zone,
            **own,
        },
        on_tick=deps.sweep.on_clock_tick,
    )
