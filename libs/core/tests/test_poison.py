"""Deterministic errors never stall a partition: the culprit is dead-lettered, the rest goes on.

Each test puts one poison message between valid ones on one partition and waits for every
offset to be stored (the partition moved past it) with the valid events applied.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from followup.core.subscription import Subscription, Tx
from followup.events import Event, encode, topics

from .conftest import (
    Env,
    make_consumer,
    project_started,
    projection_subscription,
    send_raw,
    started,
    table_count,
    wait_until,
)


async def _stored(pool: asyncpg.Pool, consumer: str, n: int) -> bool:
    got = await pool.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE consumer = $1", consumer
    )
    return bool(got == n)


def _around(poison: bytes) -> tuple[list[tuple[str, bytes]], set[str]]:
    """100 valid events, the poison, 100 more, all keyed C-1; and the valid ids."""
    before = [started("C-1", i) for i in range(100)]
    after = [started("C-1", i) for i in range(100, 200)]
    messages = [(e.subject, encode(e)) for e in before]
    messages.append(("C-1", poison))
    messages += [(e.subject, encode(e)) for e in after]
    return messages, {e.id for e in before + after}


async def _letters(pool: asyncpg.Pool, consumer: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT reason, error, event_id FROM dead_letter WHERE consumer = $1", consumer
    )


async def _run(
    env: Env, pool: asyncpg.Pool, sub: Subscription, n: int, wait_s: float = 30, **settings: Any
) -> None:
    consumer = make_consumer(env, pool, sub, settings=env.with_settings(**settings))
    await consumer.start()
    try:
        await wait_until(
            lambda: _stored(pool, sub.consumer, n), what="every offset stored", timeout=wait_s
        )
    finally:
        await consumer.stop()


async def test_an_event_id_with_a_nul_is_dead_lettered_at_decode_and_its_neighbours_applied(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """Finding 1: PostgreSQL cannot store a NUL in text, so the claim of its batch failed."""
    doc = orjson.loads(encode(started("C-1", 999)))
    doc["id"] = f"x\u0000{uuid.uuid4().hex}"
    messages, valid = _around(orjson.dumps(doc))
    await send_raw(producer, env.topic(topics.CUSTOMERS), messages)
    await _run(env, pool, projection_subscription("nul"), len(messages))
    assert {r[0] for r in await pool.fetch("SELECT event_id FROM started")} == valid
    [letter] = await _letters(pool, "nul")
    assert letter["reason"] == "not_cloudevent"
    assert "control character" in letter["error"]


async def test_a_subject_with_a_control_character_is_dead_lettered_at_decode(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    doc = orjson.loads(encode(started("C-1", 999)))
    doc["subject"] = "C-1\u0007"
    messages, valid = _around(orjson.dumps(doc))
    await send_raw(producer, env.topic(topics.CUSTOMERS), messages)
    await _run(env, pool, projection_subscription("bell"), len(messages))
    assert await table_count(pool, "started") == len(valid)
    [letter] = await _letters(pool, "bell")
    assert letter["reason"] == "not_cloudevent"


async def test_a_publish_the_outbox_refuses_dead_letters_its_event_only(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """The outbox insert runs after the handlers (outside their error handling)."""
    poison = started("C-1", 999)

    async def handler(tx: Tx, events: list[Event[Any]]) -> None:
        await project_started(tx, events)
        for e in events:
            if e.id == poison.id:
                # A key PostgreSQL cannot store: the flush fails, not the handler.
                tx.publish(started("C-\u0000", 1), topic=topics.CUSTOMERS)

    messages, valid = _around(encode(poison))
    await send_raw(producer, env.topic(topics.CUSTOMERS), messages)
    sub = Subscription(
        consumer="flush", topics=[topics.CUSTOMERS], batch_handlers={"ProjectStarted": handler}
    )
    await _run(env, pool, sub, len(messages), max_handler_attempts=2)
    assert {r[0] for r in await pool.fetch("SELECT event_id FROM started")} == valid
    [letter] = await _letters(pool, "flush")
    assert letter["reason"] == "handler_failed" and letter["event_id"] == poison.id
    assert await table_count(pool, "outbox") == 0


async def test_a_handler_error_whose_text_has_a_nul_is_dead_lettered_with_the_text_escaped(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """The error text is stored with the attempts and the dead letter, both outside handlers."""
    poison = started("C-1", 999)

    async def handler(tx: Tx, events: list[Event[Any]]) -> None:
        if any(e.id == poison.id for e in events):
            raise ValueError("bad value 'a\x00b'")
        await project_started(tx, events)

    messages, valid = _around(encode(poison))
    await send_raw(producer, env.topic(topics.CUSTOMERS), messages)
    sub = Subscription(
        consumer="errnul", topics=[topics.CUSTOMERS], batch_handlers={"ProjectStarted": handler}
    )
    await _run(env, pool, sub, len(messages), max_handler_attempts=2)
    assert await table_count(pool, "started") == len(valid)
    [letter] = await _letters(pool, "errnul")
    assert letter["reason"] == "handler_failed" and letter["event_id"] == poison.id
    assert "a\\x00b" in letter["error"]


async def test_a_dead_letter_the_table_refuses_is_dead_lettered_bare_and_the_rest_applied(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """Any deterministic error outside handlers (here the dead-letter insert: jsonb refuses a
    NUL in a header name) takes the bounded path: one record at a time, the culprit letter bare."""
    messages, valid = _around(b"not json")
    topic = env.topic(topics.CUSTOMERS)
    await send_raw(producer, topic, messages[:100])
    await send_raw(producer, topic, [messages[100]], headers=[("bad\u0000name", b"v")])
    await send_raw(producer, topic, messages[101:])
    # Isolated once, then one transaction per record: slower than the other paths.
    await _run(env, pool, projection_subscription("bare"), len(messages), wait_s=90)
    assert await table_count(pool, "started") == len(valid)
    [letter] = await _letters(pool, "bare")
    assert letter["reason"] == "processing_failed"
    assert "Untranslatable" in letter["error"] or "Unicode" in letter["error"]
