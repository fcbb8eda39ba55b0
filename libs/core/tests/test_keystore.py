"""The key store on a real broker: keys published by one store reach others; tombstones erase."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from followup.core.keystore import KeyStore, KeyUnavailable
from followup.core.sealing import (
    ERASED,
    DataKey,
    MasterKeys,
    new_data_key,
    seal_text,
    unseal_text,
)
from followup.core.service import ServiceParts, build_service
from followup.core.settings import CoreSettings
from followup.core.testing import Infra, create_topics
from followup.events import topics

from .conftest import read_topic, wait_until

MASTER = MasterKeys({1: bytes([3]) * 32})
FEEDBACK = "Please call back on 139 1234 5678."

StoreFactory = Callable[..., Awaitable[KeyStore]]


@pytest.fixture
async def keys_topic(infra: Infra) -> str:
    """A fresh `followup.keys` under a test prefix, created as the stack creates it."""
    name = f"t{uuid.uuid4().hex[:8]}.{topics.KEYS}"
    await create_topics(infra.kafka_bootstrap, [name])
    return name


@pytest.fixture
async def stores(infra: Infra, keys_topic: str) -> AsyncIterator[StoreFactory]:
    """Starts key stores on the test topic; stops them after the test."""
    started: list[KeyStore] = []

    async def start(master: MasterKeys = MASTER) -> KeyStore:
        store = KeyStore(infra.kafka_bootstrap, master, topic=keys_topic, wait_s=20)
        await store.start(timeout_s=30)
        started.append(store)
        return store

    yield start
    for store in started:
        await store.stop()


async def test_the_keys_topic_is_compacted_and_keeps_its_tombstones(
    infra: Infra, keys_topic: str
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, keys_topic)]
        )
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for entry in response.resources[0][4]}
    assert configs["cleanup.policy"] == "compact"
    assert int(configs["delete.retention.ms"]) >= 100 * 365 * 86_400_000


async def test_a_key_published_by_one_store_is_read_by_another_and_a_tombstone_erases_both(
    infra: Infra, keys_topic: str, stores: StoreFactory
) -> None:
    intake = await stores()
    with pytest.raises(KeyUnavailable, match="no key on"):
        await intake.key("C-000123")
    follower = await stores()  # started before the key exists

    key = await intake.key_for_sealing("C-000123")
    assert isinstance(key, DataKey)
    sealed = seal_text(key, FEEDBACK)
    assert await intake.key_for_sealing("C-000123") == key  # made once

    later = await stores()  # reads it from the beginning
    assert unseal_text(await later.key("C-000123"), sealed) == FEEDBACK
    assert unseal_text(await follower.key("C-000123"), sealed) == FEEDBACK

    await intake.erase("C-000123")
    assert intake.peek("C-000123") is ERASED
    for other in (later, follower):
        await wait_until(
            lambda s=other: _erased(s, "C-000123"),  # type: ignore[misc]
            timeout=20,
            what="tombstone read by the other stores",
        )
    assert unseal_text(await later.key("C-000123"), sealed) is ERASED
    assert unseal_text(await follower.key("C-000123"), sealed) is ERASED
    # Erased stays erased: the intake does not make a new key for an erased customer.
    assert await intake.key_for_sealing("C-000123") is ERASED
    after = await stores()
    assert await after.key("C-000123") is ERASED

    records = await read_topic(infra.kafka_bootstrap, keys_topic)
    assert [(r.key, r.value is None) for r in records] == [
        (b"C-000123", False),
        (b"C-000123", True),
    ]
    assert key.secret not in records[0].value


async def _erased(store: KeyStore, customer_id: str) -> bool:
    return store.peek(customer_id) is ERASED


async def test_keys_for_many_customers_are_published_together_and_only_once(
    infra: Infra, keys_topic: str, stores: StoreFactory
) -> None:
    intake = await stores()
    first = await intake.keys_for_sealing(["C-1", "C-2", "C-1", "C-3"])
    assert list(first) == ["C-1", "C-2", "C-3"]
    again = await intake.keys_for_sealing(["C-3", "C-2", "C-4"])
    assert again["C-2"] == first["C-2"] and again["C-3"] == first["C-3"]
    records = await read_topic(infra.kafka_bootstrap, keys_topic)
    assert sorted(r.key.decode() for r in records) == ["C-1", "C-2", "C-3", "C-4"]
    assert intake.stats() == {"keys": 4, "erased": 0}


async def test_a_store_with_another_master_key_reports_the_key_unavailable(
    infra: Infra, stores: StoreFactory
) -> None:
    intake = await stores()
    await intake.key_for_sealing("C-000123")
    stranger = await stores(MasterKeys({1: bytes([9]) * 32}))
    with pytest.raises(KeyUnavailable, match="fails authentication") as err:
        await stranger.key("C-000123")
    assert err.value.error_type == "key_unavailable"
    # A newer configuration that keeps the old master key reads it.
    rotated = await stores(MasterKeys({1: bytes([3]) * 32, 2: bytes([4]) * 32}))
    assert isinstance(await rotated.key("C-000123"), DataKey)


async def test_rotation_rewraps_every_key_so_the_old_master_key_can_be_removed(
    infra: Infra, keys_topic: str, stores: StoreFactory
) -> None:
    old, new = bytes([3]) * 32, bytes([4]) * 32
    before = await stores(MasterKeys({1: old}))
    keys = await before.keys_for_sealing(["C-1", "C-2"])
    sealed = {c: seal_text(k, FEEDBACK) for c, k in keys.items() if isinstance(k, DataKey)}
    await before.erase("C-2")

    during = await stores(MasterKeys({1: old, 2: new}))
    assert await during.rewrap_all() == 1  # C-2 is erased: nothing to rewrap
    assert await during.rewrap_all() == 0

    after = await stores(MasterKeys({2: new}))
    assert unseal_text(await after.key("C-1"), sealed["C-1"]) == FEEDBACK
    assert await after.key("C-2") is ERASED


async def test_a_key_published_after_a_tombstone_does_not_bring_the_customer_back(
    infra: Infra, keys_topic: str, stores: StoreFactory
) -> None:
    intake = await stores()
    key = await intake.key_for_sealing("C-000123")
    assert isinstance(key, DataKey)
    sealed = seal_text(key, FEEDBACK)
    wrapped = MASTER.wrap(key)
    await intake.erase("C-000123")
    # What a rewrap racing the erasure would leave: the old key again, after the tombstone.
    await intake._publish({"C-000123": wrapped})
    assert intake.peek("C-000123") is ERASED
    later = await stores()
    assert unseal_text(await later.key("C-000123"), sealed) is ERASED


async def test_of_two_keys_made_for_one_customer_the_first_on_the_topic_wins_for_good(
    infra: Infra, keys_topic: str, stores: StoreFactory
) -> None:
    intake = await stores()
    first = await intake.key_for_sealing("C-000123")
    assert isinstance(first, DataKey)
    sealed = seal_text(first, FEEDBACK)
    # What a second intake instance that had not read the first key yet would publish.
    other = await stores()
    await other._publish({"C-000123": MASTER.wrap(new_data_key("C-000123"))})
    assert other.peek("C-000123") == first
    later = await stores()
    assert unseal_text(await later.key("C-000123"), sealed) == FEEDBACK

    async def first_key_last() -> bool:
        records = await read_topic(infra.kafka_bootstrap, keys_topic)
        last = [r.value for r in records if r.key == b"C-000123"][-1]
        return last is not None and MASTER.unwrap("C-000123", last) == first

    # Republished after the later one, so compaction (which keeps the last) keeps the first.
    await wait_until(first_key_last, timeout=20, what="the first key republished")


async def test_a_service_with_a_key_store_starts_it_before_serving_and_reports_it_ready(
    infra: Infra, keys_topic: str, fresh_db: str, tmp_path: Path
) -> None:
    prefix = keys_topic.removesuffix(topics.KEYS)
    settings = CoreSettings(
        service="keystest",
        kafka_bootstrap=infra.kafka_bootstrap,
        pg_dsn=fresh_db,
        topic_prefix=prefix,
    )
    store = KeyStore.from_settings(settings, MASTER)
    assert store.topic == keys_topic
    (tmp_path / "migrations").mkdir()
    parts = ServiceParts(
        name="keystest",
        migrations_dir=tmp_path / "migrations",
        subscription=None,
        routers=lambda auth: [],
        key_store=store,
    )
    app = build_service(settings, parts)
    async with app.router.lifespan_context(app):
        assert app.state.key_store is store and store.started
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            ready = (await client.get("/readyz")).json()
        assert ready["checks"]["keys"] == "ok"
        assert isinstance(await store.key_for_sealing("C-000123"), DataKey)
    assert not store.started


async def test_the_rewrap_command_moves_every_key_to_the_current_master_key(
    infra: Infra, keys_topic: str, stores: StoreFactory
) -> None:
    old, new = bytes([3]) * 32, bytes([4]) * 32
    before = await stores(MasterKeys({1: old}))
    key = await before.key_for_sealing("C-000123")
    assert isinstance(key, DataKey)
    sealed = seal_text(key, FEEDBACK)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).decode()  # noqa: E731
    env = {**os.environ, "FOLLOWUP_MASTER_KEYS": f"1={b64(old)},2={b64(new)}"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "followup.core.cli", "keys", "rewrap",
        "--bootstrap", infra.kafka_bootstrap,
        "--topic-prefix", keys_topic.removesuffix(topics.KEYS),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert "1 of 1 keys rewrapped with master key 2" in out.decode()
    after = await stores(MasterKeys({2: new}))
    assert unseal_text(await after.key("C-000123"), sealed) == FEEDBACK
