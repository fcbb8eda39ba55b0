"""The consumer on real Kafka and PostgreSQL: batches, offsets in the database, dedup."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from followup.core.subscription import Subscription, Tx
from followup.events import Event, encode, topics

from .conftest import (
    Env,
    assigned,
    fold,
    make_consumer,
    metric,
    project_started,
    projection_subscription,
    send_events,
    send_raw,
    started,
    table_count,
    wait_until,
)


async def test_batches_are_applied_once_and_offsets_resume_from_the_database(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic = env.topic(topics.CUSTOMERS)
    first = [started(f"C-{i % 37}", i) for i in range(700)]
    await send_events(producer, topic, first)
    consumer = make_consumer(env, pool, projection_subscription("proj"))
    await consumer.start()
    try:
        await wait_until(lambda: _count_is(pool, 700), what="700 rows")
    finally:
        await consumer.stop()
    stored = await pool.fetchval(
        "SELECT sum(next_offset) FROM consumer_offset WHERE consumer = 'proj'"
    )
    assert stored == 700

    # A new instance (another process, say) resumes where the database says, not earlier.
    second = [started(f"C-{i % 37}", i) for i in range(300)]
    await send_events(producer, topic, second)
    again = make_consumer(
        env,
        pool,
        projection_subscription("proj"),
        settings=env.with_settings(consumer_group_suffix="-other"),
    )
    await again.start()
    try:
        await wait_until(lambda: _count_is(pool, 1000), what="1000 rows")
        assert await wait_until(lambda: _lag_zero(again))
    finally:
        await again.stop()
    assert await pool.fetchval("SELECT sum(n) FROM tally") == 1000
    assert (
        metric(env.metrics, "followup_events_consumed_total", consumer="proj", outcome="ok") == 1000
    )
    assert (
        metric(env.metrics, "followup_events_consumed_total", consumer="proj", outcome="duplicate")
        == 0
    )


async def _lag_zero(consumer: Any) -> bool:
    lag = consumer.lag()
    return bool(lag) and all(v == 0 for v in lag.values())


async def _count_is(pool: asyncpg.Pool, n: int) -> bool:
    return await table_count(pool, "started") == n


async def test_the_same_event_at_two_offsets_has_one_effect(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """§7d: one id delivered twice, on two partitions and later again, is applied once."""
    topic = env.topic(topics.CUSTOMERS)
    twice = started("C-dup", 1)
    raw = encode(twice)
    # The same bytes on two partitions, and once more later on the first.
    for partition in (0, 3, 0):
        await producer.send_and_wait(topic, raw, key=b"C-dup", partition=partition)
    others = [started("C-dup", i) for i in range(2, 6)]
    await send_events(producer, topic, others)
    consumer = make_consumer(env, pool, projection_subscription("dedup"))
    await consumer.start()
    try:
        await wait_until(lambda: _count_is(pool, 5), what="5 distinct events")
        await wait_until(lambda: _offsets_sum(pool, "dedup", 7), what="all 7 offsets stored")
    finally:
        await consumer.stop()
    assert await pool.fetchval("SELECT n FROM tally WHERE customer_id = 'C-dup'") == 5
    assert (
        metric(env.metrics, "followup_events_consumed_total", consumer="dedup", outcome="duplicate")
        == 2
    )
    assert await pool.fetchval("SELECT count(*) FROM processed_event WHERE consumer = 'dedup'") == 5


async def _offsets_sum(pool: asyncpg.Pool, consumer: str, n: int) -> bool:
    got = await pool.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE consumer = $1", consumer
    )
    return bool(got == n)


async def test_known_types_without_a_handler_are_skipped_not_dead_lettered(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    issues = env.topic(topics.ISSUES)
    await send_events(producer, issues, [assigned("C-1", f"I-{i}") for i in range(10)])
    sub = Subscription(
        consumer="skipper",
        topics=[topics.ISSUES],
        batch_handlers={"ProjectStarted": project_started},
    )
    consumer = make_consumer(env, pool, sub)
    await consumer.start()
    try:
        await wait_until(lambda: _offsets_sum(pool, "skipper", 10), what="offsets")
    finally:
        await consumer.stop()
    assert (
        metric(env.metrics, "followup_events_consumed_total", consumer="skipper", outcome="skipped")
        == 10
    )
    assert await table_count(pool, "dead_letter") == 0


async def test_handler_that_keeps_failing_is_dead_lettered_and_the_rest_committed(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic = env.topic(topics.CUSTOMERS)
    poison_id = f"poison-{uuid.uuid4().hex[:6]}"
    calls: dict[str, int] = {}

    async def handler(tx: Tx, event: Event[Any]) -> None:
        calls[event.id] = calls.get(event.id, 0) + 1
        await tx.conn.execute(
            "INSERT INTO started (event_id, customer_id, started_at) VALUES ($1, $2, $3)",
            event.id,
            event.subject,
            event.data.started_at,
        )
        if event.id == poison_id:
            # A database error mid-transaction: only a savepoint can keep the others.
            await tx.conn.execute("SELECT 1/0")

    events = [started("C-p", i) for i in range(20)]
    events.insert(7, started("C-p", 99, event_id=poison_id))
    await send_events(producer, topic, events)
    settings = env.with_settings(max_handler_attempts=3)
    sub = Subscription(
        consumer="poisoned", topics=[topics.CUSTOMERS], handlers={"ProjectStarted": handler}
    )
    consumer = make_consumer(env, pool, sub, settings=settings)
    await consumer.start()
    try:
        await wait_until(lambda: _offsets_sum(pool, "poisoned", 21), what="offsets")
    finally:
        await consumer.stop()
    assert await table_count(pool, "started") == 20
    assert calls[poison_id] == 1 + 3  # the fast path, then 3 isolated attempts
    row = await pool.fetchrow("SELECT * FROM dead_letter WHERE consumer = 'poisoned'")
    assert row["reason"] == "handler_failed"
    assert row["error_type"] == "DivisionByZeroError"
    assert row["event_id"] == poison_id
    assert not await pool.fetchval(
        "SELECT count(*) FROM processed_event WHERE event_id = $1", poison_id
    )
    assert (
        metric(
            env.metrics, "followup_dead_letters_total", consumer="poisoned", reason="handler_failed"
        )
        == 1
    )
    assert (
        metric(
            env.metrics,
            "followup_handler_failures_total",
            consumer="poisoned",
            event_type="ProjectStarted",
        )
        == 3
    )
    from .conftest import read_topic

    letters = await read_topic(env.infra.kafka_bootstrap, env.topic(topics.DEAD_LETTER))
    assert len(letters) == 1
    headers = dict(letters[0].headers)
    assert headers["reason"] == b"handler_failed"
    assert headers["consumer"] == b"poisoned"
    assert orjson.loads(letters[0].value)["id"] == poison_id


async def test_publish_from_a_handler_goes_to_the_outbox_once(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic = env.topic(topics.CUSTOMERS)

    async def handler(tx: Tx, event: Event[Any]) -> None:
        derived = assigned(event.subject, f"I-{event.subject}", event_id=f"d-{event.subject}")
        tx.publish(derived)
        tx.publish(derived)  # twice in one transaction: still once

    await send_events(producer, topic, [started(f"C-{i}", i) for i in range(5)])
    await send_events(producer, topic, [started("C-1", 50)])  # derives the same id again
    sub = Subscription(
        consumer="pub", topics=[topics.CUSTOMERS], handlers={"ProjectStarted": handler}
    )
    consumer = make_consumer(env, pool, sub)
    await consumer.start()
    try:
        await wait_until(lambda: _offsets_sum(pool, "pub", 6), what="offsets")
    finally:
        await consumer.stop()
    rows = await pool.fetch("SELECT event_id, topic, key FROM outbox ORDER BY id")
    assert [r["event_id"] for r in rows] == [f"d-C-{i}" for i in range(5)] or sorted(
        r["event_id"] for r in rows
    ) == sorted(f"d-C-{i}" for i in range(5))
    assert {r["topic"] for r in rows} == {env.topic(topics.ISSUES)}
    assert all(r["key"] == r["event_id"][2:] for r in rows)


async def test_raw_sender_helper_roundtrip(env: Env, producer: AIOKafkaProducer) -> None:
    """The helpers themselves: a raw message lands on the topic with its headers."""
    from .conftest import read_topic

    topic = env.topic(topics.VISITS)
    await send_raw(producer, topic, [("k", b"v")], headers=[("x", b"1")])
    [record] = await read_topic(env.infra.kafka_bootstrap, topic)
    assert record.value == b"v" and dict(record.headers)["x"] == b"1"


async def test_readiness_fails_while_lag_is_above_the_bound(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    import asyncio

    gate = asyncio.Event()

    async def slow(tx: Tx, events: list[Event[Any]]) -> None:
        await gate.wait()
        await project_started(tx, events)

    await send_events(
        producer, env.topic(topics.CUSTOMERS), [started(f"C-{i}", i) for i in range(600)]
    )
    sub = Subscription(
        consumer="ready", topics=[topics.CUSTOMERS], batch_handlers={"ProjectStarted": slow}
    )
    consumer = make_consumer(env, pool, sub)
    assert await consumer.readiness(10) == "consumer not running"
    await consumer.start()
    try:

        async def lagging() -> str | None:
            why = await consumer.readiness(10)
            return why if why and "lag" in why else None

        assert "above 10" in await wait_until(lagging, what="lag reported")
        gate.set()

        async def ready() -> bool:
            return await consumer.readiness(10) is None

        await wait_until(ready, what="ready once caught up")
        assert consumer.max_lag() == 0
    finally:
        gate.set()
        await consumer.stop()


async def test_sigterm_path_finishes_the_batch_flushes_the_outbox_and_resumes_exactly(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """§6: stop() mid-stream, then a new instance: nothing lost, nothing applied twice."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    from followup.core.metrics import Metrics
    from followup.core.outbox import OutboxRelay

    async def derive(tx: Tx, events: list[Event[Any]]) -> None:
        await project_started(tx, events)
        for e in events:
            tx.publish(assigned(e.subject, "I", event_id=f"d-{e.id}"))

    topic = env.topic(topics.CUSTOMERS)
    sub = Subscription(
        consumer="term", topics=[topics.CUSTOMERS], batch_handlers={"ProjectStarted": derive}
    )
    sending = asyncio.create_task(
        send_events(producer, topic, [started(f"C-{i % 13}", i) for i in range(4000)])
    )
    relay = OutboxRelay(pool, env.settings, Metrics())
    await relay.start()
    first = make_consumer(env, pool, sub)
    await first.start()
    await wait_until(lambda: _count_at_least(pool, 500), what="some progress")
    await first.stop()
    await relay.stop()
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    # Kafka's committed offsets (for lag tools) caught up with the database's.
    stored = {
        (r["topic"], r["partition"]): r["next_offset"]
        for r in await pool.fetch(
            "SELECT topic, partition, next_offset FROM consumer_offset WHERE consumer = 'term'"
        )
    }
    probe = AIOKafkaConsumer(
        bootstrap_servers=env.infra.kafka_bootstrap,
        group_id=first.group_id,
        enable_auto_commit=False,
    )
    await probe.start()
    try:
        for (t, p), offset in stored.items():
            if offset:
                assert await probe.committed(TopicPartition(t, p)) == offset
    finally:
        await probe.stop()

    await sending
    second = make_consumer(env, pool, sub)
    relay = OutboxRelay(pool, env.settings, Metrics())
    await relay.start()
    await second.start()
    try:
        await wait_until(lambda: _count_is(pool, 4000), what="all 4000")
        await wait_until(lambda: _offsets_sum(pool, "term", 4000), what="offsets")
    finally:
        await second.stop()
        await relay.stop()
    assert await pool.fetchval("SELECT sum(n) FROM tally") == 4000
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 4000
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def _count_at_least(pool: asyncpg.Pool, n: int) -> bool:
    return await table_count(pool, "started") >= n


@pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "plain"])
async def test_batches_claimed_early_or_one_at_a_time_apply_each_event_once(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer, pipelined: bool
) -> None:
    """With pipelined claims a batch's ids are claimed while the batch before it is still in the
    database (without, never); the read model equals the fold either way, with ids repeated
    across neighbouring batches and a batch that must start over (a handler failing once),
    which makes the next give its early claim up."""
    topic = env.topic(topics.CUSTOMERS)
    flaky_id = f"flaky-{uuid.uuid4().hex[:6]}"
    failed_once: list[str] = []
    early_seen: list[int] = []

    async def handler(tx: Tx, events: list[Event[Any]]) -> None:
        if any(e.id == flaky_id for e in events) and not failed_once:
            failed_once.append(flaky_id)
            raise ValueError("fails once")
        await project_started(tx, events)
        # The next batch's transaction, opened with its ids claimed, waits for this one.
        early_seen.append(
            await tx.conn.fetchval(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND pid <> pg_backend_pid()
                     AND state = 'idle in transaction'
                     AND query LIKE '%json_array_elements_text%'"""
            )
        )
        await asyncio.sleep(0.02)  # slow enough that the next batch is decoded meanwhile

    events = [started(f"C-{i % 7}", i) for i in range(900)]
    events.insert(450, started("C-f", 0, event_id=flaky_id))
    messages = [(e.subject, encode(e)) for e in events]
    # Every 40th message again a few records later: often in the next batch, at a new offset.
    for i in range(0, len(messages) - 5, 40):
        messages.insert(i + 5, messages[i])
    await send_raw(producer, topic, messages)
    settings = env.with_settings(
        batch_max_records=30, max_handler_attempts=3, pipelined_claims=pipelined
    )
    sub = Subscription(
        consumer="piped", topics=[topics.CUSTOMERS], batch_handlers={"ProjectStarted": handler}
    )
    consumer = make_consumer(env, pool, sub, settings=settings)
    await consumer.start()
    try:
        await wait_until(
            lambda: _offsets_sum(pool, "piped", len(messages)), what="offsets", timeout=60
        )
    finally:
        await consumer.stop()
    ids, tally = fold([value for _, value in messages])
    assert len(ids) == 901
    assert {r[0] for r in await pool.fetch("SELECT event_id FROM started")} == ids
    assert await table_count(pool, "started") == 901
    got = {r["customer_id"]: (r["n"], r["last_event"]) for r in await pool.fetch("TABLE tally")}
    assert got == tally
    assert (
        await pool.fetchval("SELECT count(*) FROM processed_event WHERE consumer = 'piped'") == 901
    )
    assert failed_once == [flaky_id]
    assert not await pool.fetchval("SELECT count(*) FROM dead_letter WHERE consumer = 'piped'")
    if pipelined:
        assert max(early_seen) >= 1, "no batch was ever claimed ahead"
    else:
        assert max(early_seen) == 0, "a batch was claimed ahead with pipelining off"
    assert (
        metric(env.metrics, "followup_events_consumed_total", consumer="piped", outcome="duplicate")
        == len(messages) - 901
    )
