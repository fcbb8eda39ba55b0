"""What visits keeps of a customer: the account manager and the sealed contact."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def upsert_customer(
    conn: asyncpg.Connection,
    customer_id: str,
    account_manager_id: str | None,
    contact_ciphertext: bytes | None,
    now: datetime,
) -> None:
    """The customer's account manager and sealed contact."""
    await conn.execute(
        """
        INSERT INTO customer (customer_id, account_manager_id, contact_ciphertext, updated_at)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (customer_id) DO UPDATE SET
            account_manager_id = COALESCE(EXCLUDED.account_manager_id,
                                          customer.account_manager_id),
            contact_ciphertext = COALESCE(EXCLUDED.contact_ciphertext,
                                          customer.contact_ciphertext),
            updated_at = EXCLUDED.updated_at
        """,
        customer_id,
        account_manager_id,
        contact_ciphertext,
        now,
    )


async def customer_contact(conn: asyncpg.Connection, customer_id: str) -> bytes | None:
    """The sealed contact of a customer."""
    value: bytes | None = await conn.fetchval(
        "SELECT contact_ciphertext FROM customer WHERE customer_id = $1", customer_id
    )
    return value
