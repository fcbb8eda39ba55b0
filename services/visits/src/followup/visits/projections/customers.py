"""What visits keeps of a customer: the account manager and the sealed contact."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from followup.visits.domain.routing import CustomerFacts


async def upsert_customer(
    conn: asyncpg.Connection,
    customer_id: str,
    account_manager_id: str | None,
    contact_ciphertext: bytes | None,
    now: datetime,
    facts: CustomerFacts | None = None,
) -> None:
    """The customer's account manager, sealed contact and what routing reads."""
    facts = facts or CustomerFacts()
    await conn.execute(
        """
        INSERT INTO customer (customer_id, account_manager_id, contact_ciphertext, updated_at,
                              region, segment, tier)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (customer_id) DO UPDATE SET
            account_manager_id = COALESCE(EXCLUDED.account_manager_id,
                                          customer.account_manager_id),
            contact_ciphertext = COALESCE(EXCLUDED.contact_ciphertext,
                                          customer.contact_ciphertext),
            region = COALESCE(EXCLUDED.region, customer.region),
            segment = COALESCE(EXCLUDED.segment, customer.segment),
            tier = COALESCE(EXCLUDED.tier, customer.tier),
            updated_at = EXCLUDED.updated_at
        """,
        customer_id,
        account_manager_id,
        contact_ciphertext,
        now,
        facts.region,
        facts.segment,
        facts.tier,
    )


async def customer_facts(
    conn: asyncpg.Connection, customer_ids: list[str]
) -> dict[str, CustomerFacts]:
    """What routing reads of these customers, by id (customers not yet known are left out)."""
    rows = await conn.fetch(
        """SELECT customer_id, account_manager_id, region, segment, tier FROM customer
           WHERE customer_id = ANY($1::text[])""",
        customer_ids,
    )
    return {
        r["customer_id"]: CustomerFacts(
            r["account_manager_id"], r["region"], r["segment"], r["tier"]
        )
        for r in rows
    }


async def customer_contact(conn: asyncpg.Connection, customer_id: str) -> bytes | None:
    """The sealed contact of a customer."""
    value: bytes | None = await conn.fetchval(
        "SELECT contact_ciphertext FROM customer WHERE customer_id = $1", customer_id
    )
    return value


async def forget_contact(conn: asyncpg.Connection, customer_id: str) -> None:
    """Erasure: the sealed contact goes too (the account manager, an id, stays)."""
    await conn.execute(
        "UPDATE customer SET contact_ciphertext = NULL WHERE customer_id = $1", customer_id
    )


async def legacy_contacts(conn: asyncpg.Connection) -> list[tuple[str, bytes]]:
    """Contacts sealed before the key store, with the service's own customer_key table."""
    rows = await conn.fetch(
        "SELECT customer_id, contact_ciphertext FROM customer "
        "WHERE contact_ciphertext IS NOT NULL AND substr(contact_ciphertext, 1, 1) <> '\\x7b'"
    )
    return [(r["customer_id"], r["contact_ciphertext"]) for r in rows]


async def replace_contact(conn: asyncpg.Connection, customer_id: str, sealed: bytes | None) -> None:
    """The contact sealed anew (None: it could not be opened, so it is dropped)."""
    await conn.execute(
        "UPDATE customer SET contact_ciphertext = $2 WHERE customer_id = $1", customer_id, sealed
    )
