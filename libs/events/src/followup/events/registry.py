"""Which data model reads which (type, dataversion), and the JSON Schema of each."""

from __future__ import annotations

from typing import Any

from followup.events.base import EventData
from followup.events.clock import ClockAdvanced
from followup.events.control import CalendarYearPublished, CustomerErased, PolicyActivated
from followup.events.customers import (
    CustomerDelivered,
    CustomerTierChanged,
    IntentSigned,
    ProjectStarted,
)
from followup.events.issues import (
    IssueAssigned,
    IssueClosed,
    IssueDeadlinesRecomputed,
    IssueEscalated,
    IssuePaused,
    IssueRaised,
    IssueReopened,
    IssueResolved,
    IssueResponded,
    IssueResumed,
    IssueSlaBreached,
    IssueSlaWarning,
)
from followup.events.scheduling import VisitDeadlineRecomputed, VisitDue
from followup.events.visits import VisitAssigned, VisitLogged, VisitSpotChecked

# Each event type's model and its latest dataversion. A later dataversion may only add optional
# fields (SPEC §6), so the latest model reads every earlier version too: a reader handles one
# class per type whatever version a document was written at, and writes the latest version.
# Adding a field: add it (optional) to the model, bump its number here, snapshot, add an example
# (see libs/events/README.md). A breaking change is a new type, never a new version.
LATEST: dict[type[EventData], int] = {
    CustomerDelivered: 1,
    IntentSigned: 1,
    ProjectStarted: 1,
    VisitDue: 1,
    VisitLogged: 2,
    VisitSpotChecked: 1,
    VisitAssigned: 1,
    IssueRaised: 3,
    IssueAssigned: 2,
    IssueResolved: 1,
    IssueReopened: 1,
    IssueClosed: 1,
    IssuePaused: 1,
    IssueResumed: 1,
    IssueSlaBreached: 1,
    IssueDeadlinesRecomputed: 1,
    IssueResponded: 1,
    IssueSlaWarning: 1,
    IssueEscalated: 1,
    VisitDeadlineRecomputed: 1,
    ClockAdvanced: 1,
    CustomerTierChanged: 1,
    PolicyActivated: 1,
    CalendarYearPublished: 1,
    CustomerErased: 1,
}

# type name -> {dataversion -> the model that reads it}: every version from 1 to the latest.
MODELS: dict[str, dict[int, type[EventData]]] = {
    model.__name__: dict.fromkeys(range(1, latest + 1), model) for model, latest in LATEST.items()
}

TYPE_NAMES: tuple[str, ...] = tuple(MODELS)

# model -> (type name, the dataversion it writes).
TYPE_OF_MODEL: dict[type[EventData], tuple[str, int]] = {
    model: (model.__name__, latest) for model, latest in LATEST.items()
}


def latest_version(type_name: str) -> int:
    """The highest dataversion this code can read (and writes) for a type; KeyError if unknown."""
    return max(MODELS[type_name])


def model_for(type_name: str, version: int | None = None) -> type[EventData]:
    """The model that reads a type at a dataversion (default: the latest); KeyError if none."""
    versions = MODELS[type_name]
    return versions[max(versions) if version is None else version]


def type_of(model: type[EventData]) -> tuple[str, int]:
    """The (type name, dataversion) a data model is registered as; TypeError if it is not."""
    try:
        return TYPE_OF_MODEL[model]
    except KeyError:
        raise TypeError(f"{model.__qualname__} is not an event type of the contract") from None


def json_schema(type_name: str, *, ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
    """The JSON Schema of a type's `data` at its latest dataversion (what the latest snapshot,
    `contract/schemas/<type>.v<latest>.json`, records; earlier snapshots are history)."""
    return model_for(type_name).model_json_schema(ref_template=ref_template)
