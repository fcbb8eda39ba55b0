"""Forgetting a customer (SPEC §8): the tombstone on followup.keys and CustomerErased.

The tombstone is what erases: every key store drops the customer's key, so everything sealed
with it, in every database, topic and dead letter, now and after any replay, opens to
"[erased]". CustomerErased on followup.control tells services to drop what they derived in
plaintext, and is the audit record: who asked, when. Both are idempotent: the event's id is
derived from the customer id, so asking twice is one fact.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from followup.core.keystore import KeyStore
from followup.core.sealing import ERASED
from followup.events import CustomerErased, Event, derived_id, make_event

log = structlog.get_logger(__name__)


def erasure_event(
    customer_id: str, requested_by: str, now: datetime, *, source: str
) -> Event[CustomerErased]:
    """The customer's CustomerErased: one id per customer, however often it is asked for."""
    return make_event(
        CustomerErased(customer_id=customer_id, erased_at=now, requested_by=requested_by),
        id=derived_id("CustomerErased", customer_id),
        source=source,
        subject=customer_id,
        time=now,
    )


async def tombstone(store: KeyStore, customer_id: str, requested_by: str) -> bool:
    """Publishes the customer's tombstone (read back before returning); True if it was erased
    already."""
    already = store.peek(customer_id) is ERASED
    await store.erase(customer_id)
    log.info("customer erased", customer_id=customer_id, requested_by=requested_by, already=already)
    return already
