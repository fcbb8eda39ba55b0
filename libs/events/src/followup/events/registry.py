"""Which data model reads which (type, dataversion)."""

from __future__ import annotations

from followup.events.base import EventData
from followup.events.clock import ClockAdvanced
from followup.events.customers import CustomerDelivered, IntentSigned, ProjectStarted
from followup.events.issues import (
    IssueAssigned,
    IssueClosed,
    IssueRaised,
    IssueReopened,
    IssueResolved,
)
from followup.events.scheduling import VisitDue
from followup.events.visits import VisitLogged, VisitSpotChecked

# type name -> {dataversion -> model}. A higher dataversion may only add optional fields;
# a breaking change is a new type name.
MODELS: dict[str, dict[int, type[EventData]]] = {
    m.__name__: {1: m}
    for m in (
        CustomerDelivered,
        IntentSigned,
        ProjectStarted,
        VisitDue,
        VisitLogged,
        VisitSpotChecked,
        IssueRaised,
        IssueAssigned,
        IssueResolved,
        IssueReopened,
        IssueClosed,
        ClockAdvanced,
    )
}

TYPE_OF_MODEL: dict[type[EventData], tuple[str, int]] = {
    model: (name, version)
    for name, versions in MODELS.items()
    for version, model in versions.items()
}


def latest_version(type_name: str) -> int:
    """The highest dataversion this code can read for a type."""
    return max(MODELS[type_name])
