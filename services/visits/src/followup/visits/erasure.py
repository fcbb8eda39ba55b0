"""Visits' part of forgetting a customer (SPEC §8), and the move of its own keys to followup.keys.

Contacts are sealed with the customer's key from the key store, so the tombstone erases them;
CustomerErased drops the sealed contact and, for contacts sealed before the key store, the
service's own key. At start, such older contacts are sealed anew with the key store's key and
the service's own keys deleted, so a tombstone reaches them too.
"""

from __future__ import annotations

from typing import cast

import asyncpg
import structlog

from followup.core.crypto import PersonalDataVault
from followup.core.subscription import Tx
from followup.events import CustomerErased, Event
from followup.visits.projections import customers

log = structlog.get_logger(__name__)


class Erasure:
    """CustomerErased's handler and the start-up move of older contacts."""

    def __init__(self, vault: PersonalDataVault) -> None:
        self.vault = vault

    async def forget_customer(self, tx: Tx, event: Event[CustomerErased]) -> None:
        """CustomerErased: the contact and any key of the service's own are deleted."""
        customer_id = event.data.customer_id
        await self.vault.forget(tx.conn, customer_id)
        await customers.forget_contact(tx.conn, customer_id)

    async def move_keys_to_store(self, pool: asyncpg.Pool) -> int:
        """Seals every older contact with the key store's key; returns how many were moved."""
        async with pool.acquire() as raw, raw.transaction():
            conn = cast(asyncpg.Connection, raw)
            moved = 0
            for customer_id, old in await customers.legacy_contacts(conn):
                plain = await self.vault.open(conn, customer_id, old)
                sealed = None if plain is None else await self.vault.seal(conn, customer_id, plain)
                await customers.replace_contact(conn, customer_id, sealed)
                moved += 1
            await conn.execute("DELETE FROM customer_key")
        if moved:
            log.info("visits: contacts moved to the key store", contacts=moved)
        return moved
