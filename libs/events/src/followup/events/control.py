"""Events on followup.control, published by operators' CLI and API (SPEC §11).

A policy or calendar change is an event so a replay decides as the live system did: each
service applies it from `effective_at` (a calendar year from when it arrives) on.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from followup.events.base import ContractModel, EventData, Id, Instant, Text

# sha256 of the canonical document (followup.core.policy.canonical_bytes), lower-case hex.
Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
# The calendar's region codes: CN, HK, CN-44.
Region = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]


class PolicyActivated(EventData):
    """A policy in force from `effective_at` on; key and subject "policy"."""

    policy_id: Id
    version: Annotated[int, Field(ge=1)]
    digest: Digest
    effective_at: Instant
    # The canonical document: the policy file as JSON values, keys sorted on the wire.
    document: dict[str, Any]


class CalendarDay(ContractModel):
    """A day of a published calendar year and what it is called."""

    day: date
    name: Text


class CalendarYearPublished(EventData):
    """A region's official year: its days off and make-up working days (调休); key and subject
    "calendar/<region>"."""

    region: Region
    year: Annotated[int, Field(ge=1900, le=2199)]
    holidays: list[CalendarDay]
    workdays: list[CalendarDay]
    source: Text | None = None


class CustomerErased(EventData):
    """A customer forgotten (SPEC §8): its key is tombstoned on followup.keys and every service
    drops its personal data; events, ids and KPIs stay. Key and subject: the customer id."""

    customer_id: Id
    erased_at: Instant
    # Who asked: the admin's principal, for the audit trail (no personal data).
    requested_by: Id
