"""Blue/green replay (§7g): rebuilt twice, identical checksums, nothing emitted twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from followup.core.cli import app as cli
from followup.core.clock import EPOCH, SimulatedClock, WallClock
from followup.core.metrics import Metrics
from followup.core.outbox import OutboxRelay
from followup.core.replay import rebuild
from followup.core.subscription import Subscription, Tx
from followup.events import ClockAdvanced, Event, derived_id, encode, make_event, topics

from .conftest import (
    Env,
    assigned,
    make_consumer,
    project_started,
    read_topic,
    send_raw,
    started,
    table_count,
    wait_until,
)

CHECKSUM = """
SELECT md5(coalesce((SELECT string_agg(s::text, '|' ORDER BY event_id) FROM started s), '')
        || '#' ||
           coalesce((SELECT string_agg(t::text, '|' ORDER BY customer_id) FROM tally t), ''))
"""


async def project_and_derive(tx: Tx, events: list[Event[Any]]) -> None:
    """The projection, plus one derived event per input with a deterministic id."""
    await project_started(tx, events)
    for e in events:
        tx.publish(assigned(e.subject, f"I-{e.id}", event_id=derived_id("test", e.id)))


def subscription() -> Subscription:
    return Subscription(
        consumer="rebuilt",
        topics=[topics.CUSTOMERS],
        batch_handlers={"ProjectStarted": project_and_derive},
    )


async def _caught_up(pool: asyncpg.Pool, n: int) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE consumer = 'rebuilt'"
        )
        == n
    )


async def test_replay_twice_gives_identical_checksums_and_emits_nothing_again(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    topic = env.topic(topics.CUSTOMERS)
    events = [started(f"C-{i % 40}", i) for i in range(2000)]
    messages = [(e.subject, encode(e)) for e in events]
    messages += [(e.subject, encode(e)) for e in events[:100]]  # redelivered duplicates
    messages += [("C-1", b"not json"), ("C-2", b'{"specversion": "1.0"}')]
    await send_raw(producer, topic, messages)
    total = len(messages)

    relay = OutboxRelay(pool, env.settings, Metrics())
    await relay.start()
    live = make_consumer(env, pool, subscription())
    await live.start()
    try:
        await wait_until(lambda: _caught_up(pool, total), timeout=60, what="live caught up")
        await wait_until(lambda: _all_published(pool), what="outbox drained")
        checksum = await pool.fetchval(CHECKSUM)
        emitted = await table_count(pool, "outbox")
        assert emitted == 2000 and await table_count(pool, "started") == 2000
        dead = len(await read_topic(env.infra.kafka_bootstrap, env.topic(topics.DEAD_LETTER)))
        assert dead == 2

        progress: list[Any] = []
        first = await rebuild(
            subscription(),
            settings=env.settings,
            migrations_dir=env.migrations,
            on_progress=progress.append,
            keep_old=True,
        )
        assert first.swapped and first.events == total
        assert set(first.tables) == {"started", "tally", "consumer_offset", "processed_event"}
        assert progress and progress[-1].lag == 0
        assert await pool.fetchval(CHECKSUM) == checksum
        # The old tables are kept aside on request, identical.
        old = await pool.fetchval(f"SELECT count(*) FROM {first.retired_schema}.started")
        assert old == 2000

        # The live consumer carries on in the new tables, without a second effect.
        more = [started(f"C-{i % 40}", 5000 + i) for i in range(150)]
        await send_raw(producer, topic, [(e.subject, encode(e)) for e in more])
        await wait_until(
            lambda: _caught_up(pool, total + 150), timeout=30, what="live continues after the swap"
        )
        assert await table_count(pool, "started") == 2150
        assert await pool.fetchval("SELECT sum(n) FROM tally") == 2150
        checksum2 = await pool.fetchval(CHECKSUM)

        second = await rebuild(subscription(), settings=env.settings, migrations_dir=env.migrations)
        assert second.events == total + 150
        assert await pool.fetchval(CHECKSUM) == checksum2
        await wait_until(lambda: _all_published(pool), what="outbox drained")
    finally:
        await live.stop()
        await relay.stop()

    # Nothing emitted twice: no new outbox rows, no new messages, no new dead letters.
    assert await table_count(pool, "outbox") == 2150
    derived = await read_topic(env.infra.kafka_bootstrap, env.topic(topics.ISSUES))
    assert len(derived) == 2150
    assert len(await read_topic(env.infra.kafka_bootstrap, env.topic(topics.DEAD_LETTER))) == dead
    schemas = {
        r[0]
        for r in await pool.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'followup_re%'"
        )
    }
    assert "followup_rebuild" not in schemas


async def _all_published(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


async def test_cli_lists_and_migrates(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    await producer.send_and_wait(env.topic(topics.CUSTOMERS), b"junk", key=b"C-1")
    consumer = make_consumer(env, pool, Subscription(consumer="clitest", topics=[topics.CUSTOMERS]))
    await consumer.start()
    try:
        await wait_until(lambda: _has_letter(pool), what="dead letter")
    finally:
        await consumer.stop()
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, cli, ["dead-letters", "list", "--service", "coretest", "--dsn", env.dsn]
    )
    assert result.exit_code == 0, result.output
    assert "not_json" in result.output and "clitest" in result.output
    result = await asyncio.to_thread(runner.invoke, cli, ["migrate", "coretest", "--dsn", env.dsn])
    assert result.exit_code == 0, result.output
    assert "0 migration(s) applied" in result.output


async def _has_letter(pool: asyncpg.Pool) -> bool:
    return bool(await table_count(pool, "dead_letter"))


async def test_a_replay_decides_with_the_time_each_event_first_arrived_not_todays(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    # A handler deciding "deadline still ahead?" must decide in a replay as it did live: its
    # `now` is what the clock read when the record reached the broker, not the replay's now.
    seen: dict[str, datetime] = {}

    async def remember_now(tx: Tx, event: Event[Any]) -> None:
        seen[event.id] = tx.now

    async def remember_batch_now(tx: Tx, events: list[Event[Any]]) -> None:
        await project_started(tx, events)
        for e in events:
            seen[e.id] = tx.now

    topic = env.topic(topics.CUSTOMERS)
    events = [started(f"C-{i}", i) for i in range(6)]
    arrived: dict[str, datetime] = {}
    for e in events:
        meta = await producer.send_and_wait(topic, encode(e), key=e.subject.encode())
        arrived[e.id] = datetime.fromtimestamp(meta.timestamp / 1000, UTC)
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # the replay runs later than every arrival

    def sub(**kw: Any) -> Subscription:
        return Subscription(consumer="rebuilt", topics=[topics.CUSTOMERS], **kw)

    result = await rebuild(
        sub(handlers={"ProjectStarted": remember_now}),
        settings=env.settings,
        migrations_dir=env.migrations,
        swap=False,
    )
    assert result.events == 6
    assert {e.id: seen[e.id] for e in events} == arrived
    seen.clear()
    await rebuild(
        sub(batch_handlers={"ProjectStarted": remember_batch_now}),
        settings=env.settings,
        migrations_dir=env.migrations,
        swap=False,
    )
    # A batch handler gets the latest arrival of its slice.
    assert all(seen[e.id] >= arrived[e.id] for e in events)
    assert max(seen.values()) == max(arrived.values())


def test_the_simulated_clock_tells_what_it_read_at_any_wall_time() -> None:
    clock = SimulatedClock("unused:9092")
    t = [datetime(2026, 3, d, tzinfo=UTC) for d in (1, 2, 3)]
    assert clock.now_at(5_000) == EPOCH
    for wall_ms, now in ((1_000, t[0]), (2_000, t[1]), (3_000, t[2])):
        clock._apply_raw(encode(clock_advanced(now)), wall_ms)
    clock._apply_raw(encode(clock_advanced(t[0])), 4_000)  # moving back: ignored
    assert [clock.now_at(ms) for ms in (999, 1_000, 1_999, 2_500, 9_000)] == [
        EPOCH,
        t[0],
        t[0],
        t[1],
        t[2],
    ]
    wall = WallClock()
    assert wall.now_at(1_000) == datetime.fromtimestamp(1, UTC)


def clock_advanced(now: datetime) -> Event[ClockAdvanced]:
    return make_event(
        ClockAdvanced(now=now), id=str(uuid.uuid4()), source="t", subject="clock", time=now
    )
