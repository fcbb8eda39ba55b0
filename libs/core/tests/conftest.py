"""Helpers for the core's tests on real Kafka and PostgreSQL (see followup.core.testing)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from followup.core.clock import Clock, WallClock
from followup.core.consumer import EventConsumer, Subscription, Tx
from followup.core.db import create_pool, migrate
from followup.core.deadletter import DeadLetterPublisher
from followup.core.metrics import Metrics
from followup.core.settings import CoreSettings
from followup.core.testing import Infra, create_topics
from followup.events import (
    CONTENT_TYPE,
    Event,
    IssueAssigned,
    ProjectStarted,
    encode,
    make_event,
    topics,
)

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 1, 1, tzinfo=UTC)

# A 1-row-per-event read model plus a per-customer counter: duplicates would show in both.
PROJECTION_SQL = """
CREATE TABLE started (
    event_id    text PRIMARY KEY,
    customer_id text NOT NULL,
    started_at  timestamptz NOT NULL
);
CREATE TABLE tally (
    customer_id text PRIMARY KEY,
    n           bigint NOT NULL,
    last_event  text NOT NULL
);
"""


def write_migrations(directory: Path, sql: str = PROJECTION_SQL) -> Path:
    """A service migrations dir holding one file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "0001_projection.sql").write_text(sql)
    return directory


def started(customer: str, n: int = 0, *, event_id: str | None = None) -> Event[Any]:
    """A ProjectStarted event for a customer."""
    return make_event(ProjectStarted(customer_id=customer, started_at=T0 + timedelta(minutes=n)),
                      id=event_id or str(uuid.uuid4()), source="test", subject=customer,
                      time=T0 + timedelta(minutes=n))


def assigned(customer: str, issue: str, *, event_id: str | None = None) -> Event[Any]:
    """An IssueAssigned event (a type the test projection skips)."""
    return make_event(
        IssueAssigned(issue_id=issue, customer_id=customer, assignee_id="A-1",
                      department="technical", assigned_at=T0),
        id=event_id or str(uuid.uuid4()), source="test", subject=customer, time=T0)


async def project_started(tx: Tx, events: list[Event[Any]]) -> None:
    """Batch handler: one row per event plus a per-customer counter."""
    await tx.conn.execute(
        """INSERT INTO started (event_id, customer_id, started_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])""",
        [e.id for e in events], [e.subject for e in events],
        [e.data.started_at for e in events])
    counts: dict[str, list[Any]] = {}
    for e in events:
        c = counts.setdefault(e.subject, [0, ""])
        c[0] += 1
        c[1] = e.id
    await tx.conn.execute(
        """INSERT INTO tally (customer_id, n, last_event)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
           ON CONFLICT (customer_id) DO UPDATE
           SET n = tally.n + excluded.n, last_event = excluded.last_event""",
        list(counts), [c[0] for c in counts.values()], [c[1] for c in counts.values()])


def projection_subscription(consumer: str, **kw: Any) -> Subscription:
    """The test projection over followup.customers."""
    return Subscription(consumer=consumer, topics=[topics.CUSTOMERS],
                        batch_handlers={"ProjectStarted": project_started}, **kw)


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
        "service": "coretest", "kafka_bootstrap": infra.kafka_bootstrap, "pg_dsn": dsn,
        "topic_prefix": prefix, "consumer_group_suffix": f"-{uuid.uuid4().hex[:8]}",
        "batch_timeout_ms": 20, "fetch_max_wait_ms": 20, "retry_initial_s": 0.05,
        "retry_max_s": 1.0, "tick_interval_s": 0.2, "stop_timeout_s": 10.0,
        "outbox_poll_interval_s": 0.2,
    }
    base.update(kw)
    return CoreSettings(**base)


@pytest.fixture
async def env(infra: Infra, fresh_db: str, tmp_path: Path) -> Env:
    """A prefix with the contract topics (6 partitions, clock 1), a migrated database."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(infra.kafka_bootstrap,
                        [f"{prefix}{t}" for t in topics.ALL_TOPICS if t != topics.CLOCK])
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
    p = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all",
                         enable_idempotence=True, linger_ms=2)
    await p.start()
    yield p
    await p.stop()


async def send_raw(producer: AIOKafkaProducer, topic: str,
                   messages: Iterable[tuple[str, bytes]],
                   headers: list[tuple[str, bytes]] | None = None) -> None:
    """Sends (key, value) pairs and waits for every ack."""
    hdrs = headers if headers is not None else [("content-type", CONTENT_TYPE.encode())]
    futures = [await producer.send(topic, value, key=key.encode(), headers=hdrs)
               for key, value in messages]
    await asyncio.gather(*futures)


async def send_events(producer: AIOKafkaProducer, topic: str,
                      events: Iterable[Event[Any]]) -> None:
    """Sends events keyed by subject."""
    await send_raw(producer, topic, ((e.subject, encode(e)) for e in events))


async def wait_until(fn: Callable[[], Awaitable[Any]], *, timeout: float = 30,  # noqa: ASYNC109
                     every: float = 0.1, what: str = "condition") -> Any:
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
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
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


def make_consumer(env: Env, pool: asyncpg.Pool, subscription: Subscription, *,
                  clock: Clock | None = None, settings: CoreSettings | None = None,
                  **kw: Any) -> EventConsumer:
    """An EventConsumer on the test world."""
    s = settings or env.settings
    return EventConsumer(subscription, pool=pool, settings=s, clock=clock or WallClock(0.2),
                         metrics=env.metrics, dead_letters=DeadLetterPublisher(s, env.metrics),
                         **kw)


async def table_count(pool: asyncpg.Pool, table: str) -> int:
    """Rows in a table."""
    return int(await pool.fetchval(f"SELECT count(*) FROM {table}"))


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    """A sample's value from the registry (0 when absent)."""
    value = metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)
