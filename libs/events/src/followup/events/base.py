"""Shared building blocks of the event data models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("time must carry a UTC offset (RFC 3339)")
    return value


# Every instant in the contract is RFC 3339 with an offset; a naive time is rejected.
Instant = Annotated[datetime, AfterValidator(_aware)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=4000)]


class EventData(BaseModel):
    """Base of every event's `data`: frozen, strict, unknown fields ignored (forward compatible)."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
