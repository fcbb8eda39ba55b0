"""The public event contract (SPEC §6): CloudEvents envelope, event data models, topics, codec."""

from followup.events import topics
from followup.events.base import EventData
from followup.events.clock import ClockAdvanced
from followup.events.codec import (
    RejectedMessage,
    RejectReason,
    decode,
    encode,
    make_event,
    to_document,
)
from followup.events.customers import Contact, CustomerDelivered, IntentSigned, ProjectStarted
from followup.events.envelope import CONTENT_TYPE, AnyEvent, Envelope, Event
from followup.events.ids import derived_id
from followup.events.issues import (
    IssueAssigned,
    IssueClosed,
    IssueRaised,
    IssueReopened,
    IssueResolved,
)
from followup.events.registry import MODELS, latest_version
from followup.events.scheduling import VisitDue
from followup.events.topics import topic_for
from followup.events.visits import Checklist, Problem, VisitLogged, VisitSpotChecked

__all__ = [
    "CONTENT_TYPE",
    "MODELS",
    "AnyEvent",
    "Checklist",
    "ClockAdvanced",
    "Contact",
    "CustomerDelivered",
    "Envelope",
    "Event",
    "EventData",
    "IntentSigned",
    "IssueAssigned",
    "IssueClosed",
    "IssueRaised",
    "IssueReopened",
    "IssueResolved",
    "Problem",
    "ProjectStarted",
    "RejectReason",
    "RejectedMessage",
    "VisitDue",
    "VisitLogged",
    "VisitSpotChecked",
    "decode",
    "derived_id",
    "encode",
    "latest_version",
    "make_event",
    "to_document",
    "topic_for",
    "topics",
]
