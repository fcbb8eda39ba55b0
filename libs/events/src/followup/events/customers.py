"""Events on followup.customers, published by external systems (ERP, CRM)."""

from __future__ import annotations

from typing import Literal

from followup.events.base import ContractModel, EventData, Id, Instant, Text

Tier = Literal["gold", "silver", "bronze"]
Segment = Literal["individual", "enterprise", "institution"]


class Contact(ContractModel):
    """Personal data (SPEC §8): never copied into derived events or logs."""

    name: Text
    phone: Text
    email: Text | None = None
    address: Text | None = None


class CustomerDelivered(EventData):
    customer_id: Id
    order_id: Id
    delivered_at: Instant
    product: Text
    tier: Tier
    segment: Segment
    timezone: str | None = None
    region: str | None = None
    account_manager_id: Id | None = None
    contact: Contact


class IntentSigned(EventData):
    customer_id: Id
    signed_at: Instant
    expected_start: Instant | None = None
    tier: Tier
    segment: Segment
    timezone: str | None = None
    region: str | None = None
    contact: Contact


class ProjectStarted(EventData):
    customer_id: Id
    started_at: Instant


class CustomerTierChanged(EventData):
    """A CRM's tier change, in force from `changed_at` on (SPEC §11)."""

    customer_id: Id
    tier: Tier
    changed_at: Instant
    reason: Text | None = None
