"""The intake (SPEC §8): `followup.customers` sealed and republished on its sealed copy.

Producers write contact data in plaintext on `followup.customers`, an intake buffer with a short
retention. Scheduling reads it in a consumer of its own, seals each event's personal data with
the customer's key (made on first sight) and republishes the event otherwise unchanged (same id,
type, time, subject) on `followup.customers.sealed`, which every other consumer reads. An
erased customer's later events go out with "[erased]" in place of their personal data.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from followup.core.keystore import KeyStore
from followup.core.personal import erase_personal, has_personal_data, seal_personal
from followup.core.sealing import DataKey, Erased
from followup.core.subscription import Subscription, Tx
from followup.events import Event, topics

INTAKE_CONSUMER = "scheduling-intake"


def sealed_event(event: Event[Any], key: DataKey | Erased | None) -> Event[Any]:
    """The event with its personal data sealed with `key` ("[erased]" once it is erased)."""
    if not has_personal_data(event.type):
        return event
    raw = event.data.model_dump(mode="json", exclude_none=True)
    if isinstance(key, DataKey):
        data = seal_personal(event.type, raw, key)
    else:
        data = erase_personal(event.type, raw)
    # The contract models are strict: their JSON mode is the one that reads RFC 3339 text.
    return dataclasses.replace(event, data=type(event.data).model_validate_json(orjson.dumps(data)))


class Intake:
    """Seals a batch of customer events and publishes them through the outbox."""

    def __init__(self, store: KeyStore, sealed_topic: str) -> None:
        self.store = store
        self.sealed_topic = sealed_topic

    async def seal_batch(self, tx: Tx, events: list[Event[Any]]) -> None:
        """One key look-up (and at most one key publication) per batch, then the outbox."""
        personal = [e.subject for e in events if has_personal_data(e.type)]
        keys = await self.store.keys_for_sealing(personal) if personal else {}
        for event in events:
            tx.publish(sealed_event(event, keys.get(event.subject)), topic=self.sealed_topic)


def intake_subscription(intake: Intake) -> Subscription:
    """Every type of `followup.customers`, in one batch handler."""
    return Subscription(
        consumer=INTAKE_CONSUMER,
        topics=[topics.CUSTOMERS],
        batch_handlers=dict.fromkeys(topics.types_on(topics.CUSTOMERS), intake.seal_batch),
    )
