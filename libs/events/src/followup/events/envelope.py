"""The CloudEvents 1.0 envelope (structured mode) around every message (SPEC §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import Field

from followup.events.base import ContractModel, EventData, Id, Instant

CONTENT_TYPE = "application/cloudevents+json"
SPECVERSION = "1.0"

DataT = TypeVar("DataT", covariant=True)


class Envelope(ContractModel):
    """The envelope's attributes; `data` is validated against its type's model by the codec.

    Unknown attributes (CloudEvents extensions such as `traceparent`) are ignored. A missing
    `dataversion` reads as 1; one the registry does not know is the codec's
    `unsupported_dataversion`, not an envelope error.
    """

    specversion: Literal["1.0"]
    id: Id
    source: Annotated[str, Field(min_length=1)]
    type: Annotated[str, Field(min_length=1)]
    time: Instant
    subject: Id
    datacontenttype: Literal["application/json"] = "application/json"
    dataversion: int = 1
    correlationid: str | None = None
    causationid: str | None = None
    # Checked here only for being an object; its type's model validates the content.
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event(Generic[DataT]):
    """A decoded event: envelope attributes plus typed data."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str
    dataversion: int
    data: DataT
    correlationid: str | None = None
    causationid: str | None = None

    @property
    def customer_id(self) -> str:
        """The Kafka key: the subject is the customer id on every topic but the clock."""
        return self.subject


AnyEvent = Event[EventData]
