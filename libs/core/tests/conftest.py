"""Helpers for the core's tests on real Kafka and PostgreSQL (see followup.core.testing)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from followup.core.clock import Clock, WallClock
from followup.core.consumer import EventConsumer
from followup.core.db import create_pool, migrate
from followup.core.deadletter import DeadLetterPublisher
from followup.core.metrics import Metrics
from followup.core.settings import CoreSettings
from followup.core.subscription import Subscription
from followup.core.testing import Infra, create_topics
from followup.events import CONTENT_TYPE, Event, encode, topics

from .projection import (  # re-exported for the tests
    PROJECTION_SQL,
    T0,
    assigned,
    fold,
    project_started,
    projection_subscription,
    started,
    write_migrations,
)

__all__ = [
    "PROJECTION_SQL",
    "T0",
    "assigned",
    "fold",
    "project_started",
    "projection_subscription",
    "started",
    "write_migrations",
]

HERE = Path(__file__).resolve().parent


@dataclass
class Env:
    """One test's isolated world: topic prefix, database, settings."""

    infra: Infra
    dsn: str
    prefix: str
    migrations: Path
    settings: CoreSettings
    metrics: Metrics = field(default_factory=Metrics)

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def with_settings(self, **kw: Any) -> CoreSettings:
        return self.settings.model_copy(update=kw)


def settings_for(infra: Infra, dsn: str, prefix: str, **kw: Any) -> CoreSettings:
    """Settings pointed at the test infrastructure, with fast retries."""
    base: dict[str, Any] = {
        "service": "coretest",
        "kafka_bootstrap": infra.kafka_bootstrap,
        "pg_dsn": dsn,
        "topic_prefix": prefix,
        "consumer_group_suffix": f"-{uuid.uuid4().hex[:8]}",
        "batch_timeout_ms": 20,
        "fetch_max_wait_ms": 20,
        "retry_initial_s": 0.05,
        "retry_max_s": 1.0,
        "tick_interval_s": 0.2,
        "stop_timeout_s": 10.0,
        "outbox_poll_interval_s": 0.2,
    }
    base.update(kw)
    return CoreSettings(**base)


@pytest.fixture
async def env(infra: Infra, fresh_db: str, tmp_path: Path) -> Env:
    """A prefix with the contract topics (6 partitions, clock 1), a migrated database."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(
        infra.kafka_bootstrap, [f"{prefix}{t}" for t in topics.ALL_TOPICS if t != topics.CLOCK]
    )
    await create_topics(infra.kafka_bootstrap, [f"{prefix}{topics.CLOCK}"], partitions=1)
    migrations = write_migrations(tmp_path / "migrations")
    await migrate(fresh_db, service="coretest", migrations_dir=migrations)
    return Env(infra, fresh_db, prefix, migrations, settings_for(infra, fresh_db, prefix))


@pytest.fixture
async def pool(env: Env) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test database."""
    p = await create_pool(env.dsn, min_size=1, max_size=8)
    yield p
    await p.close()


@pytest.fixture
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent producer, as an external system would use."""
    p = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=2
    )
    await p.start()
    yield p
    await p.stop()


async def send_raw(
    producer: AIOKafkaProducer,
    topic: str,
    messages: Iterable[tuple[str, bytes]],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Sends (key, value) pairs and waits for every ack."""
    hdrs = headers if headers is not None else [("content-type", CONTENT_TYPE.encode())]
    futures = [
        await producer.send(topic, value, key=key.encode(), headers=hdrs) for key, value in messages
    ]
    await asyncio.gather(*futures)


async def send_events(producer: AIOKafkaProducer, topic: str, events: Iterable[Event[Any]]) -> None:
    """Sends events keyed by subject."""
    await send_raw(producer, topic, ((e.subject, encode(e)) for e in events))


async def wait_until(
    fn: Callable[[], Awaitable[Any]],
    *,
    timeout: float = 30,  # noqa: ASYNC109
    every: float = 0.1,
    what: str = "condition",
) -> Any:
    """Polls `fn` until truthy; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await fn()
        if last:
            return last
        await asyncio.sleep(every)
    pytest.fail(f"{what} not met in {timeout} s; last: {last!r}")


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record currently on a topic (all partitions), in partition then offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.subscribe([topic])
        out: list[Any] = []
        deadline = time.monotonic() + 20
        while not consumer.assignment() and time.monotonic() < deadline:
            for recs in (await consumer.getmany(timeout_ms=200)).values():
                out.extend(recs)
        tps = list(consumer.assignment())
        end = await consumer.end_offsets(tps)
        while True:
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= end[tp] for tp in tps):
                break
            for recs in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(recs)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


def make_consumer(
    env: Env,
    pool: asyncpg.Pool,
    subscription: Subscription,
    *,
    clock: Clock | None = None,
    settings: CoreSettings | None = None,
    **kw: Any,
) -> EventConsumer:
    """An EventConsumer on the test world."""
    s = settings or env.settings
    return EventConsumer(
        subscription,
        pool=pool,
        settings=s,
        clock=clock or WallClock(0.2),
        metrics=env.metrics,
        dead_letters=DeadLetterPublisher(s, env.metrics),
        **kw,
    )


async def table_count(pool: asyncpg.Pool, table: str) -> int:
    """Rows in a table."""
    return int(await pool.fetchval(f"SELECT count(*) FROM {table}"))


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    """A sample's value from the registry (0 when absent)."""
    value = metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)
