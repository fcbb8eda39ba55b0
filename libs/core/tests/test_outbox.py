"""The outbox relay: each row published once, in order per key, one active relay."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import asyncpg
import orjson
import pytest

from followup.core.metrics import Metrics
from followup.core.outbox import (
    CHANNEL,
    OutboxRelay,
    outbox_cte,
    outbox_params,
    outbox_row,
    outbox_stats,
    publish_events,
)
from followup.core.retention import prune
from followup.events import topics

from .conftest import Env, assigned, read_topic, table_count, wait_until


async def _published(pool: asyncpg.Pool, n: int) -> bool:
    return bool(
        await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") == n
    )


async def test_relay_publishes_each_row_once_in_order_per_key(env: Env, pool: asyncpg.Pool) -> None:
    written: list[str] = []

    # Four concurrent writers, each the only writer of its customers (as a consumer is of its
    # partitions'): a customer's events must leave in the order they were written. Across
    # concurrent transactions on one key there is no order to keep.
    async def writer(w: int) -> None:
        for batch in range(10):
            async with pool.acquire() as conn, conn.transaction():
                events = [
                    assigned(f"C-{w}-{i % 3}", f"I-{w}-{batch}-{i}", event_id=f"e-{w}-{batch}-{i}")
                    for i in range(6)
                ]
                await publish_events(conn, events, topic_prefix=env.prefix)
                # The same ids again in the same transaction: nothing new.
                assert await publish_events(conn, events, topic_prefix=env.prefix) == 0
            written.extend(e.id for e in events)

    relay = OutboxRelay(pool, env.settings, env.metrics)
    await relay.start()
    try:
        await asyncio.gather(*(writer(w) for w in range(4)))
        await wait_until(lambda: _published(pool, 240), what="240 published")
    finally:
        await relay.stop()

    records = await read_topic(env.infra.kafka_bootstrap, env.topic(topics.ISSUES))
    ids = [orjson.loads(r.value)["id"] for r in records]
    assert sorted(ids) == sorted(written) and len(set(ids)) == 240
    outbox_order = [
        r["event_id"] for r in await pool.fetch("SELECT event_id FROM outbox ORDER BY id")
    ]
    rank = {event_id: i for i, event_id in enumerate(outbox_order)}
    per_key: dict[bytes, list[str]] = defaultdict(list)
    for r in records:  # sorted by partition, offset: a key's records in topic order
        per_key[r.key].append(orjson.loads(r.value)["id"])
    for key, key_ids in per_key.items():
        assert key_ids == sorted(key_ids, key=rank.__getitem__), key
        assert all(orjson.loads(r.value)["subject"].encode() == r.key for r in records)
    assert await outbox_stats(pool) == (0, 0.0)


async def test_a_row_committed_late_behind_a_higher_id_is_still_published(
    env: Env, pool: asyncpg.Pool
) -> None:
    """The reason the relay never tails `id > last_id`."""
    relay = OutboxRelay(pool, env.settings, env.metrics)
    await relay.start()
    try:
        slow = await pool.acquire()
        tx = slow.transaction()
        await tx.start()
        await publish_events(
            slow, [assigned("C-1", "I-1", event_id="late")], topic_prefix=env.prefix
        )  # takes the lower id
        async with pool.acquire() as conn, conn.transaction():
            await publish_events(
                conn, [assigned("C-2", "I-2", event_id="early")], topic_prefix=env.prefix
            )
        await wait_until(lambda: _published(pool, 1), what="early published")
        await tx.commit()
        await pool.release(slow)
        await wait_until(lambda: _published(pool, 2), what="late published")
    finally:
        await relay.stop()
    ids = await pool.fetch("SELECT event_id FROM outbox ORDER BY id")
    assert [r["event_id"] for r in ids] == ["late", "early"]


async def test_a_second_relay_waits_on_the_lock_and_takes_over(
    env: Env, pool: asyncpg.Pool
) -> None:
    first = OutboxRelay(pool, env.settings, Metrics())
    second = OutboxRelay(pool, env.settings, Metrics())
    await first.start()
    await wait_until(lambda: _is_active(first), what="first active")
    await second.start()
    try:
        await asyncio.sleep(1.5)
        assert first.active and not second.active
        async with pool.acquire() as conn, conn.transaction():
            await publish_events(
                conn,
                [assigned("C-1", f"I-{i}", event_id=f"a-{i}") for i in range(20)],
                topic_prefix=env.prefix,
            )
        await wait_until(lambda: _published(pool, 20), what="first batch")
        await first.stop()
        await wait_until(lambda: _is_active(second), timeout=15, what="second takes over")
        async with pool.acquire() as conn, conn.transaction():
            await publish_events(
                conn,
                [assigned("C-1", f"J-{i}", event_id=f"b-{i}") for i in range(20)],
                topic_prefix=env.prefix,
            )
        await wait_until(lambda: _published(pool, 40), what="second batch")
    finally:
        await first.stop()
        await second.stop()
    records = await read_topic(env.infra.kafka_bootstrap, env.topic(topics.ISSUES))
    ids = [orjson.loads(r.value)["id"] for r in records]
    assert ids == [f"a-{i}" for i in range(20)] + [f"b-{i}" for i in range(20)]


async def _is_active(relay: OutboxRelay) -> bool:
    return relay.active


async def test_retention_forgets_old_processed_ids_and_old_payloads_but_keeps_every_event_id(
    env: Env, pool: asyncpg.Pool
) -> None:
    settings = env.settings.model_copy(update={"prune_batch": 3})
    old = [assigned("C-1", f"I-old-{i}") for i in range(5)]
    recent = [assigned("C-1", f"I-new-{i}") for i in range(2)]
    waiting = assigned("C-1", "I-unpublished")
    async with pool.acquire() as conn:
        await publish_events(conn, [*old, *recent, waiting], topic_prefix=env.prefix)
        await conn.execute(
            """UPDATE outbox SET published_at = now() - interval '8 days'
               WHERE event_id = ANY($1::text[])""",
            [e.id for e in old],
        )
        await conn.execute(
            "UPDATE outbox SET published_at = now() WHERE event_id = ANY($1::text[])",
            [e.id for e in recent],
        )
        await conn.execute(
            """INSERT INTO processed_event (consumer, event_id, processed_at)
               SELECT 'c', 'old-' || n, now() - interval '91 days' FROM generate_series(1, 4) n
               UNION ALL SELECT 'c', 'new-' || n, now() - interval '89 days'
               FROM generate_series(1, 2) n"""
        )
        metrics = Metrics()
        first = await prune(conn, settings, metrics)
        second = await prune(conn, settings, metrics)
        third = await prune(conn, settings, metrics)
        kept_ids = {r[0] for r in await conn.fetch("SELECT event_id FROM processed_event")}
        payloads = {
            r["event_id"]: len(r["value"])
            for r in await conn.fetch("SELECT event_id, value FROM outbox")
        }
        # A replay deriving an old event again still finds its id: nothing is published twice.
        assert await publish_events(conn, [old[0]], topic_prefix=env.prefix) == 0

    assert (first.processed_event, first.outbox_payload) == (3, 3)  # one bounded batch each
    assert (second.processed_event, second.outbox_payload) == (1, 2)
    assert (third.processed_event, third.outbox_payload) == (0, 0)
    assert kept_ids == {"new-1", "new-2"}
    assert len(payloads) == 8  # every event id stays
    assert {e.id for e in old} == {i for i, n in payloads.items() if n == 0}
    assert all(payloads[e.id] > 0 for e in [*recent, waiting])
    assert metrics.pruned_rows.labels("processed_event")._value.get() == 4


async def test_a_burst_shares_relay_cycles_and_a_lone_event_is_not_held_back(
    env: Env, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    interval = 1.0
    settings = env.with_settings(outbox_min_cycle_interval_s=interval, outbox_poll_interval_s=5.0)
    relay = OutboxRelay(pool, settings, env.metrics)
    published_per_cycle: list[int] = []
    cycle = relay._cycle

    async def counted_cycle() -> int:
        n = await cycle()
        if n:
            published_per_cycle.append(n)
        return n

    monkeypatch.setattr(relay, "_cycle", counted_cycle)

    async def commit(event_id: str) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await publish_events(
                conn, [assigned("C-1", event_id, event_id=event_id)], topic_prefix=env.prefix
            )

    await relay.start()
    try:
        await wait_until(lambda: _is_active(relay), what="relay active")
        # A burst: 20 commits one after another, each waking the relay.
        burst = [f"burst-{i:02d}" for i in range(20)]
        for event_id in burst:
            await commit(event_id)
        await wait_until(lambda: _published(pool, 20), every=0.01, what="burst published")
        # Without the interval each commit tends to get a cycle of its own.
        assert sum(published_per_cycle) == 20, published_per_cycle
        assert len(published_per_cycle) <= 3, published_per_cycle
        # A lone event after a quiet spell goes out at once, not an interval later.
        await asyncio.sleep(interval * 1.2)
        started = time.monotonic()
        await commit("lone")
        await wait_until(lambda: _published(pool, 21), every=0.005, what="lone published")
        assert time.monotonic() - started < interval * 0.6
    finally:
        await relay.stop()
    records = await read_topic(env.infra.kafka_bootstrap, env.topic(topics.ISSUES))
    assert [orjson.loads(r.value)["id"] for r in records] == [*burst, "lone"]


async def test_outbox_rows_ride_in_the_callers_statement_and_wake_the_relay(
    env: Env, pool: asyncpg.Pool
) -> None:
    listener = await asyncpg.connect(env.dsn)
    woken: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: woken.put_nowait(args[2]))
    try:
        rows = [
            outbox_row(assigned("C-1", f"I-{i}", event_id=f"ride-{i}"), topic_prefix=env.prefix)
            for i in range(3)
        ]
        async with pool.acquire() as conn, conn.transaction():
            # The caller's own statement, which never reads the WITH item.
            answer = await conn.fetchval(
                f"WITH {outbox_cte(2)} SELECT $1::int + 1", 41, *outbox_params(rows)
            )
            assert answer == 42
            assert woken.empty()  # notifications leave at commit
        assert await asyncio.wait_for(woken.get(), 5) == CHANNEL
        await asyncio.sleep(0.2)
        assert woken.empty()  # one wake-up for the transaction, not one per row
        stored = await pool.fetch("SELECT event_id, topic, value FROM outbox ORDER BY id")
        assert [(r["event_id"], r["topic"], r["value"]) for r in stored] == [
            (r.event_id, r.topic, r.value) for r in rows
        ]
        # Once per event id, as enqueue.
        async with pool.acquire() as conn:
            await conn.execute(f"WITH {outbox_cte(1)} SELECT 1", *outbox_params(rows))
        assert await table_count(pool, "outbox") == 3
    finally:
        await listener.close()


async def test_outbox_rows_ride_only_for_the_ids_the_callers_insert_found_new(
    env: Env, pool: asyncpg.Pool
) -> None:
    rows = [
        outbox_row(assigned("C-1", f"I-{i}", event_id=f"only-{i}"), topic_prefix=env.prefix)
        for i in range(4)
    ]
    async with pool.acquire() as conn, conn.transaction():
        # The caller's insert finds only-1 and only-3 new; only their rows reach the outbox.
        await conn.execute(
            f"""WITH found AS (SELECT unnest($1::text[]) AS event_id),
                {outbox_cte(2, only_ids_in="found")}
                SELECT 1""",
            ["only-1", "only-3"],
            *outbox_params(rows),
        )
    stored = await pool.fetch("SELECT event_id FROM outbox ORDER BY id")
    assert [r["event_id"] for r in stored] == ["only-1", "only-3"]
