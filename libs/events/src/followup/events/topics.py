"""Kafka topics of the contract (SPEC §6): one per producer, keyed by customer id."""

from __future__ import annotations

CUSTOMERS = "followup.customers"
SCHEDULING = "followup.scheduling"
VISITS = "followup.visits"
ISSUES = "followup.issues"
DEAD_LETTER = "followup.dead-letter"
CLOCK = "followup.clock"

ALL_TOPICS: tuple[str, ...] = (CUSTOMERS, SCHEDULING, VISITS, ISSUES, DEAD_LETTER, CLOCK)

# Every topic is keyed by the customer id (the envelope's `subject`); followup.clock by "clock".
CLOCK_KEY = "clock"

TOPIC_OF_TYPE: dict[str, str] = {
    "CustomerDelivered": CUSTOMERS,
    "IntentSigned": CUSTOMERS,
    "ProjectStarted": CUSTOMERS,
    "VisitDue": SCHEDULING,
    "VisitLogged": VISITS,
    "VisitSpotChecked": VISITS,
    "IssueRaised": ISSUES,
    "IssueAssigned": ISSUES,
    "IssueResolved": ISSUES,
    "IssueReopened": ISSUES,
    "IssueClosed": ISSUES,
    "IssuePaused": ISSUES,
    "IssueResumed": ISSUES,
    "IssueSlaBreached": ISSUES,
    "IssueDeadlinesRecomputed": ISSUES,
    "VisitDeadlineRecomputed": SCHEDULING,
    "ClockAdvanced": CLOCK,
}


def topic_for(type_name: str) -> str:
    """The topic that carries events of this type; KeyError for a type outside the contract."""
    return TOPIC_OF_TYPE[type_name]


def types_on(topic: str) -> tuple[str, ...]:
    """The event types a topic carries, in contract order (none on the dead-letter topic)."""
    return tuple(t for t, tp in TOPIC_OF_TYPE.items() if tp == topic)
