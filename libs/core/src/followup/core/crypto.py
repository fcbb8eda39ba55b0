"""Personal data at rest in a service's own database, sealed with a per-customer key, so
forgetting a customer is deleting one key (crypto-shredding, SPEC §8). The keys are wrapped by
the master keys (`followup.core.sealing`); rows written before it, with Fernet, still open."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import asyncpg
import orjson
import structlog
from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel

from followup.core.keystore import KeyStore, KeyUnavailable
from followup.core.personal import erase_personal, has_personal_data, seal_personal
from followup.core.sealing import (
    ERASED,
    DataKey,
    Erased,
    MasterKeys,
    SealError,
    is_development,
    is_sealed,
    master_keys_from_env,
    new_data_key,
    seal_text,
    unseal_text,
)
from followup.events import Event

log = structlog.get_logger(__name__)
_T = TypeVar("_T")
_D = TypeVar("_D", bound=BaseModel)

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

    With a key store, the key is the customer's on `followup.keys` (a tombstone erases it in
    every service) and what is kept is a JSON object of sealed strings. Without one, and to open
    rows written before, it is a table `customer_key(customer_id text primary key, wrapped_key
    bytea)` of the service's own.
    """

    def __init__(self, keys: VaultKeys, store: KeyStore | None = None) -> None:
        self._master = keys.master
        self._legacy = Fernet(keys.legacy) if keys.legacy else None
        self._store = store

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
        """Encrypts with the customer's key (made on first use); with a key store, `plaintext`
        is a JSON object whose string values are sealed (those sealed already kept)."""
        if self._store is not None:
            return await self._seal_fields(customer_id, plaintext)
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
        if self._store is not None and ciphertext.startswith(b"{"):
            return await self._open_fields(customer_id, ciphertext)
        key = await self._key(conn, customer_id, create=False)
        try:
            if isinstance(key, Fernet):
                return key.decrypt(ciphertext)
            if key is not None:
                return key.open(ciphertext)
        except (SealError, InvalidToken) as exc:
            log.warning("vault: sealed value unreadable", customer_id=customer_id, error=str(exc))
        return None

    async def _seal_fields(self, customer_id: str, plaintext: bytes) -> bytes:
        assert self._store is not None
        key = await self._store.key_for_sealing(customer_id)
        if isinstance(key, Erased):
            return b"{}"
        fields = orjson.loads(plaintext)
        return orjson.dumps(
            {k: v if is_sealed(v) else seal_text(key, v) for k, v in fields.items() if v}
        )

    async def _open_fields(self, customer_id: str, sealed: bytes) -> bytes | None:
        assert self._store is not None
        try:
            key = await self._store.key(customer_id)
        except KeyUnavailable as exc:
            log.warning("vault: customer key unavailable", customer_id=customer_id, error=str(exc))
            return None
        if isinstance(key, Erased):
            return None
        try:
            opened = {k: str(unseal_text(key, v)) for k, v in orjson.loads(sealed).items()}
        except SealError as exc:
            log.warning("vault: sealed value unreadable", customer_id=customer_id, error=str(exc))
            return None
        return orjson.dumps(opened)

    async def seal_event(self, event: Event[Any]) -> Event[Any]:
        """The event with its personal data sealed with the customer's key (SPEC §8), or
        "[erased]" in its place once the customer is erased; as it is without a key store."""
        data = await self.seal_data(event.type, event.subject, event.data)
        return event if data is event.data else dataclasses.replace(event, data=data)

    async def seal_data(self, type_name: str, customer_id: str, data: _D) -> _D:
        """An event's data with its personal fields sealed (see `seal_event`)."""
        if self._store is None or not has_personal_data(type_name):
            return data
        key = await self._store.key_for_sealing(customer_id)
        raw = data.model_dump(mode="json", exclude_none=True)
        if isinstance(key, Erased):
            sealed = erase_personal(type_name, raw)
        else:
            sealed = seal_personal(type_name, raw, key)
        # The contract models are strict: their JSON mode is the one that reads RFC 3339 text.
        return type(data).model_validate_json(orjson.dumps(sealed))

    async def open_texts(self, customer_id: str, value: _T) -> _T:
        """`value` (a JSON-like answer) with every sealed string opened with the customer's
        key: "[erased]" once erased or when the key cannot be had."""
        if self._store is None or not _any_sealed(value):
            return value
        try:
            key: DataKey | Erased = await self._store.key(customer_id)
        except KeyUnavailable as exc:
            log.warning("vault: customer key unavailable", customer_id=customer_id, error=str(exc))
            key = ERASED
        return cast(_T, _open_all(value, key))

    async def forget(self, conn: asyncpg.Connection, customer_id: str) -> None:
        """Erasure: without its key the customer's ciphertext is noise."""
        await conn.execute("DELETE FROM customer_key WHERE customer_id = $1", customer_id)


def _any_sealed(value: object) -> bool:
    if isinstance(value, str):
        return is_sealed(value)
    if isinstance(value, dict):
        return any(_any_sealed(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_any_sealed(v) for v in value)
    return False


def _open_all(value: object, key: DataKey | Erased) -> object:
    if isinstance(value, str) and is_sealed(value):
        try:
            return str(unseal_text(key, value))
        except SealError:
            return str(ERASED)
    if isinstance(value, dict):
        return {k: _open_all(v, key) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_open_all(v, key) for v in value]
    return value


def mask_phone(phone: str) -> str:
    """+86 138 0000 1234 -> +86 *** **** 1234: enough to recognise, not to call."""
    digits = [i for i, ch in enumerate(phone) if ch.isdigit()]
    keep = set(digits[-4:]) | set(digits[:2] if phone.startswith("+") else [])
    return "".join(ch if (i in keep or not ch.isdigit()) else "*" for i, ch in enumerate(phone))


def mask_name(name: str) -> str:
    """Li Lei -> L*****: first character only."""
    return name[:1] + "*" * max(len(name) - 1, 0)
