"""Proofs on real infrastructure: the broker (§7b) and PostgreSQL (§7c) restarted under load.

Each test starts its own broker or cluster on free ports (infra/kafka.sh, infra/pg.sh) so the
shared ones are never disturbed.
"""

# ruff: noqa: ASYNC109  (polling helpers with deadlines, in tests)
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from followup.core.clock import WallClock
from followup.core.consumer import EventConsumer
from followup.core.db import create_pool, migrate
from followup.core.deadletter import DeadLetterPublisher
from followup.core.metrics import Metrics
from followup.core.outbox import OutboxRelay, publish_events
from followup.core.settings import CoreSettings
from followup.core.subscription import Subscription, Tx
from followup.core.testing import Infra, create_database, create_topics
from followup.events import Event, derived_id, encode, topics

from .conftest import (
    assigned,
    project_started,
    read_topic,
    send_raw,
    settings_for,
    started,
    write_migrations,
)
from .projection import fold

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 20000


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair() -> int:
    """A port p with p and p + 1 free (Kafka's listener and controller)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 65000 and _free(port + 1):
            return port
    raise RuntimeError("no free port pair")


def _run(script: str, action: str, env: dict[str, str]) -> None:
    subprocess.run(
        ["bash", str(ROOT / "infra" / script), action],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=120,
    )


@dataclass
class OwnKafka:
    """A broker of this test's own, on free ports, in a private home."""

    home: Path
    port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "FOLLOWUP_HOME": str(self.home),
            "FOLLOWUP_KAFKA_PORT": str(self.port),
            "FOLLOWUP_KAFKA_HEAP": "512m",
        }

    async def start(self) -> None:
        await asyncio.to_thread(_run, "kafka.sh", "start", self.env)
        deadline = time.monotonic() + 90
        while True:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
            try:
                await admin.start()
                await admin.list_topics()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
            finally:
                await admin.close()

    async def stop(self) -> None:
        await asyncio.to_thread(_run, "kafka.sh", "stop", self.env)


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster of this test's own, on a free port."""

    home: Path
    port: int

    @property
    def env(self) -> dict[str, str]:
        return {"FOLLOWUP_HOME": str(self.home), "FOLLOWUP_PG_PORT": str(self.port)}

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def start(self) -> None:
        await asyncio.to_thread(_run, "pg.sh", "start", self.env)

    async def stop(self) -> None:
        await asyncio.to_thread(_run, "pg.sh", "stop", self.env)


@pytest.fixture
async def own_kafka(tmp_path: Path) -> AsyncIterator[OwnKafka]:
    kafka = OwnKafka(tmp_path / "kafka-home", free_port_pair())
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


def _private_home() -> Path:
    home = Path(f"/tmp/followup-core-pg-{uuid.uuid4().hex[:8]}")
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    return home


@pytest.fixture
async def own_postgres() -> AsyncIterator[OwnPostgres]:
    # Not under pytest's tmp dir: the server runs as `postgres`, which must enter every parent.
    home = _private_home()
    pg = OwnPostgres(home, free_port_pair())
    await pg.start()
    try:
        yield pg
    finally:
        with contextlib.suppress(Exception):
            await pg.stop()
        shutil.rmtree(home, ignore_errors=True)


def _consumer(
    pool: asyncpg.Pool, settings: CoreSettings, subscription: Subscription
) -> EventConsumer:
    metrics = Metrics()
    return EventConsumer(
        subscription,
        pool=pool,
        settings=settings,
        clock=WallClock(),
        metrics=metrics,
        dead_letters=DeadLetterPublisher(settings, metrics),
    )


async def _until(fn: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await fn():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached in {timeout} s")
        await asyncio.sleep(0.2)


async def _stored(pool: asyncpg.Pool, consumer: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE consumer = $1",
            consumer,
        )
    )


async def _check_fold(pool: asyncpg.Pool, bootstrap: str, topic: str, expect: int) -> None:
    records = await read_topic(bootstrap, topic)
    ids, tally = fold([r.value for r in records])
    assert len(ids) == expect
    rows = await pool.fetch("SELECT event_id FROM started")
    assert len(rows) == len(ids) and {r["event_id"] for r in rows} == ids
    got = {
        r["customer_id"]: (r["n"], r["last_event"])
        for r in await pool.fetch("SELECT customer_id, n, last_event FROM tally")
    }
    assert got == tally


@pytest.mark.slow
async def test_broker_restart_while_producing_and_consuming_loses_nothing(
    infra: Infra, own_kafka: OwnKafka, fresh_db: str, tmp_path: Path
) -> None:
    """§7b: the relay publishes and a consumer consumes through a broker stop and start."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(
        own_kafka.bootstrap, [f"{prefix}{t}" for t in (topics.CUSTOMERS, topics.DEAD_LETTER)]
    )
    own = Infra(own_kafka.bootstrap, infra.pg_admin_dsn)
    migrations = write_migrations(tmp_path / "migrations")
    source_dsn = fresh_db  # the publishing service's database (outbox)
    sink_dsn = await create_database(infra.pg_admin_dsn)  # the consuming service's
    for dsn in (source_dsn, sink_dsn):
        await migrate(dsn, service="coretest", migrations_dir=migrations)
    source_settings = settings_for(own, source_dsn, prefix)
    sink_settings = settings_for(own, sink_dsn, prefix, kafka_session_timeout_ms=6000)
    source = await create_pool(source_dsn, min_size=1, max_size=4)
    sink = await create_pool(sink_dsn, min_size=1, max_size=4)
    relay = OutboxRelay(source, source_settings, Metrics())
    consumer = _consumer(
        sink,
        sink_settings,
        Subscription(
            consumer="sink",
            topics=[topics.CUSTOMERS],
            batch_handlers={"ProjectStarted": project_started},
        ),
    )

    async def write() -> None:
        for start in range(0, EVENTS, 200):
            events = [started(f"C-{i % 301}", i) for i in range(start, start + 200)]
            async with source.acquire() as conn, conn.transaction():
                await publish_events(conn, events, topic_prefix=prefix)
            await asyncio.sleep(0.06)

    await relay.start()
    await consumer.start()
    writer = asyncio.create_task(write())
    try:
        await asyncio.sleep(3)
        await own_kafka.stop()
        await asyncio.sleep(2)
        await own_kafka.start()
        await writer

        async def published() -> bool:
            return not await source.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )

        await _until(published, 120, "outbox drained")
        end = len(await read_topic(own_kafka.bootstrap, f"{prefix}{topics.CUSTOMERS}"))

        async def consumed() -> bool:
            return await _stored(sink, "sink") == end

        await _until(consumed, 120, "consumer caught up")
    finally:
        writer.cancel()
        await consumer.stop()
        await relay.stop()
    # Possibly sent twice by the relay (a send acked, the mark lost), never lost, applied once.
    assert end >= EVENTS
    await _check_fold(sink, own_kafka.bootstrap, f"{prefix}{topics.CUSTOMERS}", EVENTS)
    await source.close()
    await sink.close()
    conn = await asyncpg.connect(infra.pg_admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{sink_dsn.rsplit("/", 1)[-1]}" WITH (FORCE)')
    finally:
        await conn.close()


async def project_and_derive(tx: Tx, events: list[Event[Any]]) -> None:
    """The projection, publishing one derived event per input (deterministic id)."""
    await project_started(tx, events)
    for e in events:
        tx.publish(assigned(e.subject, f"I-{e.id}", event_id=derived_id("pg", e.id)))


@pytest.mark.slow
async def test_postgres_restart_under_load_loses_nothing_and_recovers_by_itself(
    infra: Infra, own_postgres: OwnPostgres, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    """§7c: consumer and relay through a PostgreSQL stop and start, recovering by themselves."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(
        infra.kafka_bootstrap,
        [f"{prefix}{t}" for t in (topics.CUSTOMERS, topics.ISSUES, topics.DEAD_LETTER)],
    )
    dsn = await create_database(own_postgres.admin_dsn)
    migrations = write_migrations(tmp_path / "migrations")
    await migrate(dsn, service="coretest", migrations_dir=migrations)
    settings = settings_for(infra, dsn, prefix)
    pool = await create_pool(dsn, min_size=1, max_size=6)
    consumer = _consumer(
        pool,
        settings,
        Subscription(
            consumer="pgload",
            topics=[topics.CUSTOMERS],
            batch_handlers={"ProjectStarted": project_and_derive},
        ),
    )
    relay = OutboxRelay(pool, settings, Metrics())
    topic = f"{prefix}{topics.CUSTOMERS}"

    async def produce() -> None:
        for start in range(0, EVENTS, 250):
            await send_raw(
                producer,
                topic,
                [
                    (e.subject, encode(e))
                    for e in (started(f"C-{i % 301}", i) for i in range(start, start + 250))
                ],
            )
            await asyncio.sleep(0.08)

    await relay.start()
    await consumer.start()
    production = asyncio.create_task(produce())
    saw_unready: list[str] = []

    async def watch() -> None:
        while True:
            why = await consumer.readiness(10**9)
            if why and "unavailable" in why:
                saw_unready.append(why)
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.sleep(3)
        await own_postgres.stop()
        await asyncio.sleep(3)
        await own_postgres.start()
        await production

        async def caught_up() -> bool:
            try:
                return await _stored(pool, "pgload") == EVENTS and not await pool.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                return False

        await _until(caught_up, 120, "consumer and relay caught up")
        assert await consumer.readiness(10**9) is None
    finally:
        watcher.cancel()
        production.cancel()
        await consumer.stop()
        await relay.stop()
    assert saw_unready, "readiness never reported the database outage"
    await _check_fold(pool, infra.kafka_bootstrap, topic, EVENTS)
    derived = [
        orjson.loads(r.value)["id"]
        for r in await read_topic(infra.kafka_bootstrap, f"{prefix}{topics.ISSUES}")
    ]
    expected = {
        derived_id("pg", r["event_id"]) for r in await pool.fetch("SELECT event_id FROM started")
    }
    assert set(derived) == expected  # every derived event published, at least once
    assert await pool.fetchval("SELECT count(*) FROM outbox") == EVENTS
    await pool.close()


async def test_pg_sh_start_right_after_a_kill_9_brings_postgres_back(
    own_postgres: OwnPostgres,
) -> None:
    """A postmaster killed and not yet reaped still looked alive to `pg_ctl status`, so
    `pg.sh start` answered "already running" and left PostgreSQL down."""
    [pid_file] = own_postgres.home.glob("postgres/data/postmaster.pid")
    pid = int(pid_file.read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    await own_postgres.start()
    conn = await asyncpg.connect(own_postgres.admin_dsn, timeout=10)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
