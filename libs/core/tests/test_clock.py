"""The simulated clock of SPEC §9 and time-driven work in the consumer's machinery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from followup.core.clock import EPOCH, SimulatedClock, WallClock, publish_clock_advance
from followup.core.settings import CoreSettings
from followup.core.subscription import Tx
from followup.events import topics

from .conftest import Env, assigned, make_consumer, projection_subscription, wait_until

T1 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_simulated_clock_starts_at_epoch_moves_forward_only_and_restarts_at_latest(
    env: Env,
) -> None:
    bootstrap, topic = env.infra.kafka_bootstrap, env.topic(topics.CLOCK)
    clock = SimulatedClock(bootstrap, topic)
    await clock.start()
    try:
        assert clock.now() == EPOCH == datetime(1970, 1, 1, tzinfo=UTC)
        await publish_clock_advance(bootstrap, T1, topic=topic)
        await clock.wait_advance(EPOCH, timeout=10)
        assert clock.now() == T1
        # An earlier now is ignored; the same now again changes nothing.
        await publish_clock_advance(bootstrap, T1 - timedelta(days=1), topic=topic)
        await publish_clock_advance(bootstrap, T1, topic=topic)
        later = T1 + timedelta(hours=5)
        # Offsets need not be UTC: the clock still reads UTC.
        await publish_clock_advance(
            bootstrap, later.astimezone(timezone(timedelta(hours=8))), topic=topic
        )
        assert await clock.wait_advance(T1, timeout=10) == later
        assert clock.now().tzinfo is not None and clock.now().utcoffset() == timedelta(0)
    finally:
        await clock.stop()

    # A new reader starts at the latest ClockAdvanced, reading the topic from its beginning,
    # even when an earlier one was published last.
    await publish_clock_advance(bootstrap, T1 + timedelta(hours=1), topic=topic)
    restarted = SimulatedClock(bootstrap, topic)
    await restarted.start()
    try:
        assert restarted.now() == later
    finally:
        await restarted.stop()


async def test_simulated_clock_without_its_topic_reads_epoch(env: Env) -> None:
    clock = SimulatedClock(env.infra.kafka_bootstrap, env.topic("no.such.clock"))
    await clock.start()
    try:
        assert clock.now() == EPOCH
    finally:
        await clock.stop()


async def test_ticks_run_on_clock_advances_in_a_transaction_with_the_outbox(
    env: Env, pool: asyncpg.Pool
) -> None:
    bootstrap, topic = env.infra.kafka_bootstrap, env.topic(topics.CLOCK)
    seen: list[datetime] = []

    async def on_tick(tx: Tx, now: datetime) -> None:
        seen.append(now)
        assert tx.now == now
        # A sweep publishing a derived event with a deterministic id: ticking twice at the
        # same time publishes it once.
        tx.publish(assigned("C-1", "I-1", event_id=f"tick-{now.date()}"))

    clock = SimulatedClock(bootstrap, topic)
    await clock.start()
    settings = env.with_settings(clock="simulated")
    consumer = make_consumer(
        env,
        pool,
        projection_subscription("ticker", on_tick=on_tick),
        clock=clock,
        settings=settings,
    )
    await consumer.start()
    try:
        await wait_until(lambda: _ran(seen, 1), what="first tick at start")
        assert seen[0] == EPOCH
        await publish_clock_advance(bootstrap, T1, topic=topic)
        await wait_until(lambda: _ran(seen, 2), what="tick on advance")
        assert seen[-1] == T1
        assert await consumer.tick(T1)  # the same time again
        await publish_clock_advance(bootstrap, T1 + timedelta(days=1), topic=topic)
        await wait_until(lambda: _ran(seen, 4), what="tick on second advance")
    finally:
        await consumer.stop()
        await clock.stop()
    rows = await pool.fetch("SELECT event_id FROM outbox ORDER BY id")
    assert [r["event_id"] for r in rows] == [
        "tick-1970-01-01",
        "tick-2026-03-01",
        "tick-2026-03-02",
    ]


async def _ran(seen: list[datetime], n: int) -> bool:
    return len(seen) >= n


async def test_wall_clock_is_aware_utc_and_ticks() -> None:
    clock = WallClock(tick_interval_s=0.05)
    before = clock.now()
    assert before.tzinfo is UTC
    assert await clock.wait_advance(before) > before


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLLOWUP_CLOCK", "simulated")
    monkeypatch.setenv("FOLLOWUP_SERVICE", "visits")
    monkeypatch.setenv("FOLLOWUP_BATCH_MAX_RECORDS", "123")
    monkeypatch.delenv("FOLLOWUP_PG_DSN", raising=False)
    monkeypatch.delenv("FOLLOWUP_TOPIC_PREFIX", raising=False)
    s = CoreSettings()
    assert s.clock == "simulated" and s.batch_max_records == 123
    assert s.pg_dsn.endswith("/visits")
    assert s.max_handler_attempts == 5 and s.readiness_max_lag == 1000
    assert s.topic(topics.CLOCK) == "followup.clock"
