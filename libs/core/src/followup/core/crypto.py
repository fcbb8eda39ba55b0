"""Personal data at rest in a service's own database, sealed with a per-customer key, so
forgetting a customer is deleting one key (crypto-shredding, SPEC §8). The keys are wrapped by
the master keys (`followup.core.sealing`); rows written before it, with Fernet, still open."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

import asyncpg
import structlog
from cryptography.fernet import Fernet, InvalidToken

from followup.core.sealing import (
    DataKey,
    MasterKeys,
    SealError,
    is_development,
    master_keys_from_env,
    new_data_key,
)

log = structlog.get_logger(__name__)

# The key every development database was sealed with before followup.core.sealing (and
# FOLLOWUP_DATA_KEY for a deployment that set one): only to open what it sealed.
_LEGACY_DEV_SEED = b"followup local development data key - not for production"
_LEGACY_KEY_VAR = "FOLLOWUP_DATA_KEY"


@dataclass(frozen=True)
class VaultKeys:
    """The master keys, and the pre-sealing Fernet key if there is one to read old rows."""

    master: MasterKeys
    legacy: bytes | None = None


def master_key_from_env() -> VaultKeys:
    """FOLLOWUP_MASTER_KEYS (development mode derives one); refuses without it otherwise."""
    legacy = os.environ.get(_LEGACY_KEY_VAR, "").encode() or None
    if legacy is None and is_development():
        legacy = base64.urlsafe_b64encode(hashlib.sha256(_LEGACY_DEV_SEED).digest())
    return VaultKeys(master_keys_from_env(), legacy)


class PersonalDataVault:
    """Seals and opens one customer's personal data with that customer's own key.

    Expects a table `customer_key(customer_id text primary key, wrapped_key bytea)`.
    """

    def __init__(self, keys: VaultKeys) -> None:
        self._master = keys.master
        self._legacy = Fernet(keys.legacy) if keys.legacy else None

    def _unwrap(self, customer_id: str, wrapped: bytes) -> DataKey | Fernet | None:
        try:
            if not wrapped.startswith(b"gAAAAA"):  # a Fernet token: a pre-sealing key
                return self._master.unwrap(customer_id, wrapped)
            if self._legacy is not None:
                return Fernet(self._legacy.decrypt(wrapped))
        except (SealError, InvalidToken) as exc:
            log.warning("vault: customer key unreadable", customer_id=customer_id, error=str(exc))
        return None

    async def _key(
        self, conn: asyncpg.Connection, customer_id: str, create: bool
    ) -> DataKey | Fernet | None:
        wrapped = await conn.fetchval(
            "SELECT wrapped_key FROM customer_key WHERE customer_id = $1", customer_id
        )
        if wrapped is None:
            if not create:
                return None
            await conn.execute(
                "INSERT INTO customer_key (customer_id, wrapped_key) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING",
                customer_id,
                self._master.wrap(new_data_key(customer_id)),
            )
            wrapped = await conn.fetchval(
                "SELECT wrapped_key FROM customer_key WHERE customer_id = $1", customer_id
            )
        return self._unwrap(customer_id, wrapped)

    async def seal(self, conn: asyncpg.Connection, customer_id: str, plaintext: bytes) -> bytes:
        """Encrypts with the customer's key (made on first use)."""
        key = await self._key(conn, customer_id, create=True)
        if key is None:
            raise SealError(f"the key of {customer_id} cannot be opened")
        return key.encrypt(plaintext) if isinstance(key, Fernet) else key.seal(plaintext)

    async def open(
        self, conn: asyncpg.Connection, customer_id: str, ciphertext: bytes | None
    ) -> bytes | None:
        """The plaintext, or None once the customer's key is gone (forgotten)."""
        if ciphertext is None:
            return None
        key = await self._key(conn, customer_id, create=False)
        try:
            if isinstance(key, Fernet):
                return key.decrypt(ciphertext)
            if key is not None:
                return key.open(ciphertext)
        except (SealError, InvalidToken) as exc:
            log.warning("vault: sealed value unreadable", customer_id=customer_id, error=str(exc))
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
