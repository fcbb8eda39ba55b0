"""Kafka topics of the contract (SPEC §6): one per producer, keyed by customer id."""

from __future__ import annotations

CUSTOMERS = "followup.customers"
SCHEDULING = "followup.scheduling"
VISITS = "followup.visits"
ISSUES = "followup.issues"
DEAD_LETTER = "followup.dead-letter"
CLOCK = "followup.clock"

ALL_TOPICS: tuple[str, ...] = (CUSTOMERS, SCHEDULING, VISITS, ISSUES, DEAD_LETTER, CLOCK)

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
    "ClockAdvanced": CLOCK,
}


def topic_for(type_name: str) -> str:
    """The topic that carries events of this type."""
    return TOPIC_OF_TYPE[type_name]
