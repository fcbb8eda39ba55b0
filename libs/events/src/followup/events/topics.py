"""Kafka topics of the contract (SPEC §6): one per producer, keyed by customer id."""

from __future__ import annotations

CUSTOMERS = "followup.customers"
SCHEDULING = "followup.scheduling"
VISITS = "followup.visits"
ISSUES = "followup.issues"
DEAD_LETTER = "followup.dead-letter"
CLOCK = "followup.clock"
# Added 2026-12 (SPEC §8): the intake's sealed copy of CUSTOMERS, the customers' data keys
# (compacted; not CloudEvents: key = customer id, value = wrapped key, tombstone = erased) and
# operators' control events.
CUSTOMERS_SEALED = "followup.customers.sealed"
KEYS = "followup.keys"
CONTROL = "followup.control"

ALL_TOPICS: tuple[str, ...] = (
    CUSTOMERS,
    SCHEDULING,
    VISITS,
    ISSUES,
    DEAD_LETTER,
    CLOCK,
    CUSTOMERS_SEALED,
    KEYS,
    CONTROL,
)

# The sealed topic carries the intake's events under their own types.
_SAME_TYPES_AS = {CUSTOMERS_SEALED: CUSTOMERS}

# Tombstones on the keys topic are what erases a customer everywhere, replays included: they
# are kept (100 years) rather than compacted away after the broker's default day.
_KEYS_CONFIG = {"cleanup.policy": "compact", "delete.retention.ms": str(100 * 365 * 86_400_000)}
_EVENTS_CONFIG = {"retention.ms": "-1", "cleanup.policy": "delete"}
# followup.customers is the intake's buffer of producers' plaintext (SPEC §8): kept a week.
CUSTOMERS_RETENTION_MS = 7 * 86_400_000

# Every topic is keyed by the customer id (the envelope's `subject`); followup.clock by "clock".
CLOCK_KEY = "clock"
# followup.control is keyed by what an event configures (SPEC §11).
POLICY_KEY = "policy"


def calendar_key(region: str) -> str:
    """The key and subject of a region's CalendarYearPublished."""
    return f"calendar/{region}"


TOPIC_OF_TYPE: dict[str, str] = {
    "CustomerDelivered": CUSTOMERS,
    "IntentSigned": CUSTOMERS,
    "ProjectStarted": CUSTOMERS,
    "VisitDue": SCHEDULING,
    "VisitLogged": VISITS,
    "VisitSpotChecked": VISITS,
    "VisitAssigned": VISITS,
    "IssueRaised": ISSUES,
    "IssueAssigned": ISSUES,
    "IssueResolved": ISSUES,
    "IssueReopened": ISSUES,
    "IssueClosed": ISSUES,
    "IssuePaused": ISSUES,
    "IssueResumed": ISSUES,
    "IssueSlaBreached": ISSUES,
    "IssueDeadlinesRecomputed": ISSUES,
    "IssueResponded": ISSUES,
    "IssueSlaWarning": ISSUES,
    "IssueEscalated": ISSUES,
    "VisitDeadlineRecomputed": SCHEDULING,
    "ClockAdvanced": CLOCK,
    "CustomerTierChanged": CUSTOMERS,
    "PolicyActivated": CONTROL,
    "CalendarYearPublished": CONTROL,
    "CustomerErased": CONTROL,
}


def topic_for(type_name: str) -> str:
    """The topic that carries events of this type; KeyError for a type outside the contract."""
    return TOPIC_OF_TYPE[type_name]


def types_on(topic: str) -> tuple[str, ...]:
    """The event types a topic carries, in contract order (none on the dead-letter topic)."""
    topic = _SAME_TYPES_AS.get(topic, topic)
    return tuple(t for t, tp in TOPIC_OF_TYPE.items() if tp == topic)


def config_for(topic: str, customers_retention_ms: int = CUSTOMERS_RETENTION_MS) -> dict[str, str]:
    """Broker settings of a topic, prefixed or not: events kept forever but the intake buffer's,
    keys compacted."""
    if topic.endswith(KEYS):
        return dict(_KEYS_CONFIG)
    if topic.endswith(CUSTOMERS):
        return {**_EVENTS_CONFIG, "retention.ms": str(customers_retention_ms)}
    return dict(_EVENTS_CONFIG)
