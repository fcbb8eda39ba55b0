"""The database vault on the sealing library: new rows sealed, rows from before still open."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import asyncpg
import pytest
from cryptography.fernet import Fernet

from followup.core.crypto import PersonalDataVault, VaultKeys, master_key_from_env
from followup.core.sealing import MasterKeys

CONTACT = b'{"name":"Zhao Lei","phone":"+86 137 0000 4321"}'
# The development key every local database was sealed with before followup.core.sealing.
OLD_DEV_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"followup local development data key - not for production").digest()
)


@pytest.fixture
async def conn(fresh_db: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection on a database with the vault's key table."""
    c = await asyncpg.connect(fresh_db)
    await c.execute("CREATE TABLE customer_key (customer_id text PRIMARY KEY, wrapped_key bytea)")
    yield c
    await c.close()


async def test_a_contact_sealed_by_the_vault_opens_and_is_gone_once_forgotten(
    conn: asyncpg.Connection,
) -> None:
    vault = PersonalDataVault(VaultKeys(MasterKeys({1: bytes([5]) * 32})))
    sealed = await vault.seal(conn, "C-000123", CONTACT)
    assert b"4321" not in sealed and sealed[:1] == b"\x01"
    wrapped = await conn.fetchval("SELECT wrapped_key FROM customer_key")
    assert wrapped.startswith(b"FK")
    assert await vault.open(conn, "C-000123", sealed) == CONTACT
    other = PersonalDataVault(VaultKeys(MasterKeys({1: bytes([6]) * 32})))
    assert await other.open(conn, "C-000123", sealed) is None
    await vault.forget(conn, "C-000123")
    assert await vault.open(conn, "C-000123", sealed) is None


async def test_rows_sealed_before_the_sealing_library_still_open_in_development(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_master, data_key = Fernet(OLD_DEV_KEY), Fernet.generate_key()
    await conn.execute(
        "INSERT INTO customer_key VALUES ($1, $2)", "C-000123", old_master.encrypt(data_key)
    )
    old_sealed = Fernet(data_key).encrypt(CONTACT)
    monkeypatch.setenv("FOLLOWUP_ENV", "development")
    monkeypatch.delenv("FOLLOWUP_MASTER_KEYS", raising=False)
    monkeypatch.delenv("FOLLOWUP_DATA_KEY", raising=False)
    vault = PersonalDataVault(master_key_from_env())
    assert await vault.open(conn, "C-000123", old_sealed) == CONTACT
    # The customer keeps its one key, so a later contact is sealed with it and forgetting
    # still erases both.
    newer = await vault.seal(conn, "C-000123", b'{"name":"Zhao Lei","phone":"+86 137 0000 9999"}')
    assert await vault.open(conn, "C-000123", newer) is not None
    await vault.forget(conn, "C-000123")
    assert await vault.open(conn, "C-000123", old_sealed) is None
    assert await vault.open(conn, "C-000123", newer) is None


async def test_outside_development_old_rows_open_only_with_their_configured_key(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_master, data_key = Fernet.generate_key(), Fernet.generate_key()
    await conn.execute(
        "INSERT INTO customer_key VALUES ($1, $2)", "C-1", Fernet(old_master).encrypt(data_key)
    )
    old_sealed = Fernet(data_key).encrypt(CONTACT)
    monkeypatch.setenv("FOLLOWUP_ENV", "production")
    monkeypatch.setenv("FOLLOWUP_MASTER_KEYS", "1=" + base64.urlsafe_b64encode(bytes(32)).decode())
    monkeypatch.delenv("FOLLOWUP_DATA_KEY", raising=False)
    assert await PersonalDataVault(master_key_from_env()).open(conn, "C-1", old_sealed) is None
    monkeypatch.setenv("FOLLOWUP_DATA_KEY", old_master.decode())
    assert await PersonalDataVault(master_key_from_env()).open(conn, "C-1", old_sealed) == CONTACT
