"""Messages a consumer cannot accept go to the dead-letter topic and table; never block."""

from __future__ import annotations

import random
import uuid
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from followup.core.clock import WallClock
from followup.core.deadletter import list_dead_letters
from followup.core.deadletter_replay import replay_dead_letters
from followup.core.subscription import Subscription, Tx
from followup.events import Event, RejectedMessage, decode, encode, topics

from .conftest import (
    Env,
    make_consumer,
    metric,
    project_started,
    projection_subscription,
    read_topic,
    send_events,
    started,
    table_count,
    wait_until,
)


def _valid_doc(rng: random.Random) -> dict[str, Any]:
    customer = f"C-{rng.randrange(50)}"
    return orjson.loads(encode(started(customer, rng.randrange(1000))))


def malformed_messages(rng: random.Random, n: int) -> list[bytes | None]:
    """n messages of every kind SPEC §6 rejects, plus byte-level fuzz of valid ones."""

    def not_json() -> bytes | None:
        return rng.choice(
            [
                b"",
                b"{",
                b"not json at all",
                bytes(rng.randrange(256) for _ in range(40)),
                encode(started("C-1"))[:-7],
                b"\xff\xfe{}",
                b"{'single': 'quotes'}",
                b"NaN",
            ]
        )

    def not_cloudevent() -> bytes:
        doc = _valid_doc(rng)
        mutation = rng.randrange(7)
        if mutation == 0:
            return orjson.dumps([doc])
        if mutation == 1:
            del doc[rng.choice(["id", "source", "type", "time", "subject", "specversion"])]
        elif mutation == 2:
            doc["specversion"] = "0.3"
        elif mutation == 3:
            doc["time"] = "2026-01-01T00:00:00"  # no offset
        elif mutation == 4:
            doc["id"] = ""
        elif mutation == 5:
            doc["data"] = "a string"
        else:
            doc["subject"] = 42
        return orjson.dumps(doc)

    def unknown_type() -> bytes:
        doc = _valid_doc(rng)
        doc["type"] = rng.choice(["CustomerTeleported", "projectstarted", "Visit Due", "X" * 9])
        return orjson.dumps(doc)

    def unsupported_version() -> bytes:
        doc = _valid_doc(rng)
        doc["dataversion"] = rng.choice([0, 2, 99, -1])
        return orjson.dumps(doc)

    def invalid_data() -> bytes:
        doc = _valid_doc(rng)
        mutation = rng.randrange(4)
        if mutation == 0:
            del doc["data"]["customer_id"]
        elif mutation == 1:
            doc["data"]["started_at"] = "yesterday"
        elif mutation == 2:
            doc["data"]["customer_id"] = 123
        else:
            doc["data"]["started_at"] = "2026-01-01T00:00:00"
        return orjson.dumps(doc)

    def fuzz() -> bytes:
        raw = bytearray(encode(started(f"C-{rng.randrange(50)}", rng.randrange(1000))))
        for _ in range(rng.randrange(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(raw)

    makers = [not_json, not_cloudevent, unknown_type, unsupported_version, invalid_data, fuzz]
    return [rng.choice(makers)() for _ in range(n)]


def _reason(value: bytes | None) -> str | None:
    try:
        decode(value or b"")
    except RejectedMessage as exc:
        return exc.reason.value
    return None


async def test_a_thousand_malformed_messages_are_dead_lettered_and_valid_ones_processed(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """§7f: 1,000 malformed or fuzzed messages mixed into valid traffic."""
    rng = random.Random(20261122)
    topic = env.topic(topics.CUSTOMERS)
    bad: list[bytes | None] = []
    while len(bad) < 1000:
        # Fuzz sometimes leaves a message valid: those count as valid traffic, not bad.
        bad += [m for m in malformed_messages(rng, 1000 - len(bad)) if _reason(m) is not None]
    valid = [encode(started(f"C-{i % 50}", i)) for i in range(3000)]
    mixed: list[tuple[str, bytes | None]] = [(f"C-{i % 50}", v) for i, v in enumerate(valid)]
    for i, value in enumerate(bad):
        mixed.insert(rng.randrange(len(mixed) + 1), (f"C-{i % 50}", value))
    futures = [
        await producer.send(
            topic,
            value,
            key=key.encode(),
            headers=[("content-type", b"application/cloudevents+json"), ("trace", str(n).encode())],
        )
        for n, (key, value) in enumerate(mixed)
    ]
    for f in futures:
        await f
    consumer = make_consumer(env, pool, projection_subscription("fuzzed"))
    await consumer.start()
    try:
        await wait_until(
            lambda: _stored(pool, "fuzzed", len(mixed)), timeout=60, what="every offset stored"
        )
    finally:
        await consumer.stop()

    assert await table_count(pool, "started") == 3000
    rows = await pool.fetch("SELECT * FROM dead_letter WHERE consumer = 'fuzzed'")
    assert len(rows) == 1000
    by_value: dict[bytes | None, set[str]] = {}
    for value in bad:
        reason = _reason(value)
        assert reason is not None
        by_value.setdefault(value or None, set()).add(reason)
    for row in rows:
        assert row["reason"] in by_value[row["value"] or None]
        assert row["error_type"] == "RejectedMessage"
    assert (
        sum(
            metric(env.metrics, "followup_dead_letters_total", consumer="fuzzed", reason=r)
            for r in (
                "not_json",
                "not_cloudevent",
                "unknown_type",
                "unsupported_dataversion",
                "invalid_data",
            )
        )
        == 1000
    )
    assert (
        metric(
            env.metrics, "followup_events_consumed_total", consumer="fuzzed", outcome="dead_letter"
        )
        == 1000
    )

    letters = await read_topic(env.infra.kafka_bootstrap, env.topic(topics.DEAD_LETTER))
    assert len(letters) == 1000
    for letter in letters:
        headers = dict(letter.headers)
        assert headers["consumer"] == b"fuzzed"
        assert headers["reason"].decode() == _reason(letter.value)
        assert headers["error_type"] == b"RejectedMessage"
        assert headers["original_topic"] == topic.encode()
        assert int(headers["original_partition"]) in range(6)
        original = mixed[int(headers["trace"])]
        assert letter.value == original[1] or (not letter.value and not original[1])
        assert letter.key == original[0].encode()
        assert headers["content-type"] == b"application/cloudevents+json"
    assert (
        len(
            {
                (dict(m.headers)["original_partition"], dict(m.headers)["original_offset"])
                for m in letters
            }
        )
        == 1000
    )


async def _stored(pool: asyncpg.Pool, consumer: str, n: int) -> bool:
    got = await pool.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE consumer = $1", consumer
    )
    return bool(got == n)


async def test_dead_letters_replay_once_the_cause_is_fixed(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic = env.topic(topics.CUSTOMERS)
    broken = True

    async def flaky(tx: Tx, events: list[Event[Any]]) -> None:
        if broken and any(e.subject == "C-bad" for e in events):
            raise RuntimeError("bug in the projection")
        await project_started(tx, events)

    events = [started("C-ok", i) for i in range(5)] + [started("C-bad", 9)]
    await send_events(producer, topic, events)
    await producer.send_and_wait(topic, b"garbage", key=b"C-ok")
    sub = Subscription(
        consumer="dl", topics=[topics.CUSTOMERS], batch_handlers={"ProjectStarted": flaky}
    )
    consumer = make_consumer(env, pool, sub, settings=env.with_settings(max_handler_attempts=2))
    await consumer.start()
    try:
        await wait_until(lambda: _stored(pool, "dl", 7), what="offsets")
    finally:
        await consumer.stop()
    assert await table_count(pool, "started") == 5
    open_letters = await list_dead_letters(pool, consumer="dl")
    assert sorted(d["reason"] for d in open_letters) == ["handler_failed", "not_json"]

    broken = False  # the fix is deployed
    report = await replay_dead_letters(
        pool, sub, settings=env.settings, clock=WallClock(), metrics=env.metrics
    )
    assert len(report.replayed) == 1 and len(report.failed) == 1
    assert await table_count(pool, "started") == 6
    again = await replay_dead_letters(
        pool, sub, settings=env.settings, clock=WallClock(), metrics=env.metrics
    )
    assert not again.replayed  # a replayed letter is closed; the undecodable one stays open
    assert await table_count(pool, "started") == 6
    [still_open] = await list_dead_letters(pool, consumer="dl")
    assert still_open["reason"] == "not_json" and still_open["replay_attempts"] == 2


async def test_a_redelivered_bad_message_is_dead_lettered_once(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic = env.topic(topics.CUSTOMERS)
    marker = uuid.uuid4().hex
    await producer.send_and_wait(topic, f"bad {marker}".encode(), key=b"C-1", partition=0)
    for suffix in ("-a", "-b"):
        # Two groups over one database: the second re-reads nothing (offsets from the DB),
        # and even a forced rewind would not send the letter twice.
        consumer = make_consumer(
            env,
            pool,
            projection_subscription("once"),
            settings=env.with_settings(consumer_group_suffix=suffix),
        )
        await consumer.start()
        try:
            await wait_until(lambda: _stored(pool, "once", 1), what="offset")
        finally:
            await consumer.stop()
        await pool.execute("UPDATE consumer_offset SET next_offset = 0 WHERE consumer = 'once'")
    letters = await read_topic(env.infra.kafka_bootstrap, env.topic(topics.DEAD_LETTER))
    assert len(letters) == 1
    assert await table_count(pool, "dead_letter") == 1
