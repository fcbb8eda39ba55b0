"""Every topic and event type issues consumes, in one place."""

from __future__ import annotations

from followup.core.consumer import Subscription
from followup.events import topics
from followup.issues.handlers import IssueHandlers

CONSUMES = [topics.VISITS]
PUBLISHES = [topics.ISSUES]


def issues_subscription(handlers: IssueHandlers) -> Subscription:
    """VisitLogged raises issues and closes or reopens them; the clock finds breaches."""
    return Subscription(
        consumer="issues",
        topics=CONSUMES,
        handlers={"VisitLogged": handlers.raise_issues_from_visit_log},
        on_tick=handlers.record_breaches,
    )
