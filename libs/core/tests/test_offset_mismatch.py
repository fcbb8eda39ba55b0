"""A partition whose log no longer matches the stored offset stops, with an alarm (finding 11)."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from followup.core.testing import create_topics
from followup.events import encode, topics

from .conftest import (
    Env,
    make_consumer,
    metric,
    projection_subscription,
    send_raw,
    started,
    table_count,
    wait_until,
)


async def _stored(pool: asyncpg.Pool) -> int:
    return int(
        await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE consumer = 'recr'"
        )
    )


async def _recreate(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        deadline = asyncio.get_running_loop().time() + 60
        while topic in set(await admin.list_topics()):
            assert asyncio.get_running_loop().time() < deadline, "topic not deleted"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    await create_topics(bootstrap, [topic])


async def test_a_recreated_topic_stops_its_partitions_instead_of_skipping_its_records(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """1,000 events applied, the topic deleted and recreated with 300: the stored offsets are
    past the new logs' ends, which the client would read from 0 as if applied already."""
    topic = env.topic(topics.CUSTOMERS)
    first = [started(f"C-{i % 29}", i) for i in range(1000)]
    await send_raw(producer, topic, [(e.subject, encode(e)) for e in first])
    sub = projection_subscription("recr")
    consumer = make_consumer(env, pool, sub)
    await consumer.start()
    try:

        async def all_stored() -> bool:
            return await _stored(pool) == 1000

        await wait_until(all_stored, what="1000 offsets")
    finally:
        await consumer.stop()

    await _recreate(env.infra.kafka_bootstrap, topic)
    again = [started(f"C-{i % 29}", i) for i in range(1000, 1300)]
    await send_raw(producer, topic, [(e.subject, encode(e)) for e in again])
    consumer = make_consumer(env, pool, sub)
    await consumer.start()
    try:

        async def stopped() -> int:
            return sum(
                metric(
                    env.metrics,
                    "followup_consumer_partition_stopped",
                    consumer="recr",
                    topic=topic,
                    partition=str(p),
                )
                for p in range(6)
            )

        assert await wait_until(stopped, what="partitions stopped", timeout=60) >= 1
        await asyncio.sleep(2)  # a consumer that went on would store offsets meanwhile
    finally:
        await consumer.stop()
    assert await _stored(pool) == 1000, "offsets moved over records never applied"
    assert await table_count(pool, "started") == 1000
