"""Personal data at rest: encrypted with a per-customer key, so forgetting a customer is
deleting one key (crypto-shredding, SPEC §8). Keys are wrapped by the service's master key."""

from __future__ import annotations

import base64
import hashlib
import os

import asyncpg
from cryptography.fernet import Fernet, InvalidToken

# Only for the local stack and tests; a deployment sets FOLLOWUP_DATA_KEY (a Fernet key).
_DEV_SEED = b"followup local development data key - not for production"


def master_key_from_env() -> bytes:
    """FOLLOWUP_DATA_KEY, else a fixed development key."""
    key = os.environ.get("FOLLOWUP_DATA_KEY")
    if key:
        return key.encode()
    return base64.urlsafe_b64encode(hashlib.sha256(_DEV_SEED).digest())


class PersonalDataVault:
    """Seals and opens one customer's personal data with that customer's own key.

    Expects a table `customer_key(customer_id text primary key, wrapped_key bytea)`.
    """

    def __init__(self, master_key: bytes) -> None:
        self._master = Fernet(master_key)

    async def _key(self, conn: asyncpg.Connection, customer_id: str, create: bool) -> Fernet | None:
        wrapped = await conn.fetchval(
            "SELECT wrapped_key FROM customer_key WHERE customer_id = $1", customer_id
        )
        if wrapped is None:
            if not create:
                return None
            fresh = Fernet.generate_key()
            await conn.execute(
                "INSERT INTO customer_key (customer_id, wrapped_key) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING",
                customer_id,
                self._master.encrypt(fresh),
            )
            wrapped = await conn.fetchval(
                "SELECT wrapped_key FROM customer_key WHERE customer_id = $1", customer_id
            )
        return Fernet(self._master.decrypt(wrapped))

    async def seal(self, conn: asyncpg.Connection, customer_id: str, plaintext: bytes) -> bytes:
        """Encrypts with the customer's key (made on first use)."""
        key = await self._key(conn, customer_id, create=True)
        assert key is not None
        return key.encrypt(plaintext)

    async def open(
        self, conn: asyncpg.Connection, customer_id: str, ciphertext: bytes | None
    ) -> bytes | None:
        """The plaintext, or None once the customer's key is gone (forgotten)."""
        if ciphertext is None:
            return None
        key = await self._key(conn, customer_id, create=False)
        if key is None:
            return None
        try:
            return key.decrypt(ciphertext)
        except InvalidToken:
            return None

    async def forget(self, conn: asyncpg.Connection, customer_id: str) -> None:
        """Erasure: without its key the customer's ciphertext is noise."""
        await conn.execute("DELETE FROM customer_key WHERE customer_id = $1", customer_id)


def mask_phone(phone: str) -> str:
    """+86 138 0000 1234 -> +86 *** **** 1234: enough to recognise, not to call."""
    digits = [i for i, ch in enumerate(phone) if ch.isdigit()]
    keep = set(digits[-4:]) | set(digits[:2] if phone.startswith("+") else [])
    return "".join(ch if (i in keep or not ch.isdigit()) else "*" for i, ch in enumerate(phone))


def mask_name(name: str) -> str:
    """Li Lei -> L*****: first character only."""
    return name[:1] + "*" * max(len(name) - 1, 0)
