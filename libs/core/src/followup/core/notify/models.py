"""The values notifications are made of: people, endpoints, notices and deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from followup.core.auth import Role

Channel = Literal["webhook", "email"]
CHANNELS: tuple[Channel, ...] = ("webhook", "email")
Locale = Literal["zh-CN", "en"]
# Why a person hears of an event: it decides what of the event they may read (render.py).
Reason = Literal["owner", "assignee", "manager", "director"]

# Delivery ids are UUIDv5 under their own namespace, so a receiver can deduplicate retries.
_DELIVERY_NAMESPACE = uuid.UUID("6f0c1e2a-5b7d-4c39-9a41-3d2f7e8b9c10")


@dataclass(frozen=True)
class Person:
    """Someone notifications reach: a role (SPEC §8) and the channels configured for them."""

    id: str
    role: Role
    department: str | None = None
    locale: Locale = "zh-CN"
    email: str | None = None
    webhook: str | None = None

    def channels(self) -> tuple[Channel, ...]:
        """The channels this person has an address on, in a fixed order."""
        return tuple(
            c for c in CHANNELS if (self.webhook if c == "webhook" else self.email) is not None
        )


@dataclass(frozen=True)
class Webhook:
    """An HTTP endpoint that receives signed notifications."""

    name: str
    url: str
    secret: bytes


@dataclass(frozen=True)
class Addressee:
    """A recipient of one notice and why they receive it."""

    person_id: str
    reason: Reason


@dataclass(frozen=True)
class Notice:
    """What one event tells people: its facts (ids, clock, times, department) and to whom."""

    event_id: str
    event_type: str
    occurred_at: datetime
    facts: Mapping[str, str | int]
    addressees: tuple[Addressee, ...]


@dataclass(frozen=True)
class Delivery:
    """One notice to one person on one channel: a notification row."""

    event_id: str
    event_type: str
    person_id: str
    role: Role
    channel: Channel
    reason: Reason
    occurred_at: datetime
    # Only what the person's role may see (render.visible_facts); stored as it is sent.
    facts: Mapping[str, str | int] = field(default_factory=dict)

    @property
    def delivery_id(self) -> str:
        """The idempotency key of this delivery: event id + recipient + channel."""
        return delivery_id(self.event_id, self.person_id, self.channel)


def delivery_id(event_id: str, person_id: str, channel: str) -> str:
    """The stable id of a delivery; the same on every retry and every replay."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{event_id}\x1f{person_id}\x1f{channel}"))
