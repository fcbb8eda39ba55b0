"""The consume loop is supervised: if it dies the consumer is never ready again and says so."""

from __future__ import annotations

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from followup.core.applier import Item
from followup.core.readiness import Health
from followup.events import encode, topics

from .conftest import (
    Env,
    make_consumer,
    projection_subscription,
    send_raw,
    started,
    wait_until,
)


async def test_a_dead_consume_loop_fails_readiness_and_calls_the_fatal_hook(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """Finding 9: an exception escaping a batch killed the loop silently; /readyz stayed green."""
    fatal: list[BaseException] = []

    def broken_hook(items: list[Item]) -> None:
        raise RuntimeError("instrumentation bug")

    consumer = make_consumer(
        env,
        pool,
        projection_subscription("dies"),
        after_commit=broken_hook,
        on_fatal=fatal.append,
    )
    await consumer.start()
    try:
        await send_raw(
            producer,
            env.topic(topics.CUSTOMERS),
            [(e.subject, encode(e)) for e in (started("C-1", i) for i in range(10))],
        )

        async def died() -> bool:
            return bool(fatal)

        await wait_until(died, what="the fatal hook")
        why = await consumer.readiness(max_lag=10**9)
        assert why is not None and "consume loop died" in why
        assert "instrumentation bug" in repr(fatal[0])
    finally:
        await consumer.stop()


async def test_lag_is_read_only_for_partitions_the_kafka_client_still_holds(env: Env) -> None:
    """During a rebalance a batch may commit for a partition aiokafka no longer holds; its
    highwater() asserts the partition is assigned, which killed the consume loop."""
    topic = env.topic(topics.CUSTOMERS)
    mine, gone = TopicPartition(topic, 0), TopicPartition(topic, 1)
    kafka = AIOKafkaConsumer(bootstrap_servers=env.infra.kafka_bootstrap, group_id=None)
    await kafka.start()
    try:
        kafka.assign([mine])
        health = Health("lagtest", env.metrics, {mine, gone}, {mine: 0, gone: 0})
        health.kafka = kafka
        health.observe_committed([mine, gone])
        assert (topic, 1) not in health.lag()
        assert await health.readiness(assigned_once=True, max_lag=10**9) is None
    finally:
        await kafka.stop()
