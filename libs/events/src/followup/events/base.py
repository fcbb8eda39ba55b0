"""Shared building blocks of the event data models."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

# Every instant in the contract is RFC 3339 with an offset; a naive time is rejected (checked in
# pydantic-core, which keeps decoding fast). JSON Schema: {"type": "string", "format": "date-time"}.
Instant = AwareDatetime
Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=4000)]

# Frozen (events are facts), strict (no coercion: "4" is not 4), unknown fields ignored so a
# reader of dataversion N accepts documents written at a later dataversion (additive changes).
CONTRACT_CONFIG = ConfigDict(frozen=True, strict=True, extra="ignore")


class ContractModel(BaseModel):
    """Base of every model of the contract, nested ones included."""

    model_config = CONTRACT_CONFIG


class EventData(ContractModel):
    """Base of every event's `data`: frozen, strict, unknown fields ignored (forward compatible)."""
