"""The public event contract (SPEC §6): CloudEvents envelope, event data models, topics, codec."""

from followup.events import topics
from followup.events.asyncapi import build_asyncapi
from followup.events.base import ContractModel, EventData, Id, Instant, Text
from followup.events.clock import ClockAdvanced
from followup.events.codec import (
    RejectedMessage,
    RejectReason,
    decode,
    decode_many,
    encode,
    make_event,
    to_document,
)
from followup.events.customers import (
    Contact,
    CustomerDelivered,
    IntentSigned,
    ProjectStarted,
    Segment,
    Tier,
)
from followup.events.envelope import CONTENT_TYPE, SPECVERSION, AnyEvent, Envelope, Event
from followup.events.ids import derived_id
from followup.events.issues import (
    Department,
    IssueAssigned,
    IssueClosed,
    IssueRaised,
    IssueReopened,
    IssueResolved,
    IssueSource,
)
from followup.events.registry import (
    MODELS,
    TYPE_NAMES,
    json_schema,
    latest_version,
    model_for,
    type_of,
)
from followup.events.scheduling import VisitDue, VisitKind
from followup.events.topics import ALL_TOPICS, topic_for, types_on
from followup.events.visits import (
    Channel,
    Checklist,
    Need,
    Outcome,
    Problem,
    ProblemCategory,
    Score,
    Severity,
    SpotCheckResult,
    VisitLogged,
    VisitSpotChecked,
)

__all__ = [
    "ALL_TOPICS",
    "CONTENT_TYPE",
    "MODELS",
    "SPECVERSION",
    "TYPE_NAMES",
    "AnyEvent",
    "Channel",
    "Checklist",
    "ClockAdvanced",
    "Contact",
    "ContractModel",
    "CustomerDelivered",
    "Department",
    "Envelope",
    "Event",
    "EventData",
    "Id",
    "Instant",
    "IntentSigned",
    "IssueAssigned",
    "IssueClosed",
    "IssueRaised",
    "IssueReopened",
    "IssueResolved",
    "IssueSource",
    "Need",
    "Outcome",
    "Problem",
    "ProblemCategory",
    "ProjectStarted",
    "RejectReason",
    "RejectedMessage",
    "Score",
    "Segment",
    "Severity",
    "SpotCheckResult",
    "Text",
    "Tier",
    "VisitDue",
    "VisitKind",
    "VisitLogged",
    "VisitSpotChecked",
    "build_asyncapi",
    "decode",
    "decode_many",
    "derived_id",
    "encode",
    "json_schema",
    "latest_version",
    "make_event",
    "model_for",
    "to_document",
    "topic_for",
    "topics",
    "type_of",
    "types_on",
]
