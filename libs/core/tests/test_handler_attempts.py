"""The bound on handler attempts holds across restarts and processes that die in a handler."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from followup.core.attempts import INTERRUPTED
from followup.core.subscription import Subscription, Tx
from followup.events import Event, topics

from .conftest import Env, make_consumer, read_topic, send_events, started, table_count, wait_until

WORKER = Path(__file__).resolve().parent / "worker.py"


async def _offsets_sum(pool: asyncpg.Pool, consumer: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE consumer = $1",
            consumer,
        )
    )


async def test_attempts_count_across_a_restart_and_an_interrupted_attempt(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """3 attempts in all: one fails, one is cut short by a stop, the next process makes the 3rd."""
    topic = env.topic(topics.CUSTOMERS)
    poison_id = f"poison-{uuid.uuid4().hex[:6]}"
    calls: list[str] = []
    hang = asyncio.Event()  # never set: the second isolated attempt hangs until stopped

    async def handler(tx: Tx, event: Event[Any]) -> None:
        await tx.conn.execute(
            "INSERT INTO started (event_id, customer_id, started_at) VALUES ($1, $2, $3)",
            event.id,
            event.subject,
            event.data.started_at,
        )
        if event.id != poison_id:
            return
        calls.append(event.id)
        # First process: the fast path (1), isolated attempt 1 (2), isolated attempt 2 (3).
        if len(calls) == 3:
            await hang.wait()
        raise ValueError("poison")

    events = [started("C-a", i) for i in range(10)]
    events.insert(4, started("C-a", 99, event_id=poison_id))
    await send_events(producer, topic, events)
    settings = env.with_settings(max_handler_attempts=3, stop_timeout_s=1.0)
    sub = Subscription(
        consumer="attempts", topics=[topics.CUSTOMERS], handlers={"ProjectStarted": handler}
    )

    first = make_consumer(env, pool, sub, settings=settings)
    await first.start()
    try:
        await wait_until(
            lambda: pool.fetchval(
                "SELECT attempts FROM handler_attempt WHERE consumer = 'attempts' "
                "AND event_id = $1 AND error_type = $2",
                poison_id,
                INTERRUPTED,
            ),
            what="the second attempt under way",
        )
    finally:
        await first.stop()  # abandons the hanging attempt after stop_timeout_s
    assert len(calls) == 3
    assert await _offsets_sum(pool, "attempts") == 0  # nothing committed
    assert await table_count(pool, "dead_letter") == 0

    second = make_consumer(env, pool, sub, settings=settings)
    await second.start()
    try:
        await wait_until(lambda: _offsets_sum_is(pool, "attempts", len(events)), what="offsets")
    finally:
        await second.stop()
    # The new process: its fast path, then only the one attempt left (not three more).
    assert len(calls) == 5
    assert await table_count(pool, "started") == 10
    row = await pool.fetchrow("SELECT * FROM dead_letter WHERE consumer = 'attempts'")
    assert row["event_id"] == poison_id
    assert (row["reason"], row["error_type"], row["error"]) == (
        "handler_failed",
        "ValueError",
        "poison",
    )
    assert await table_count(pool, "handler_attempt") == 0


async def _offsets_sum_is(pool: asyncpg.Pool, consumer: str, n: int) -> bool:
    return await _offsets_sum(pool, consumer) == n


async def test_a_process_killed_between_attempts_leaves_only_the_rest_to_its_successor(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    """A worker process SIGKILLed while retrying a failing event; the next makes the rest."""
    topic = env.topic(topics.CUSTOMERS)
    poison_id = f"bad-{uuid.uuid4().hex[:6]}"
    events = [started("C-k", i) for i in range(30)]
    events.insert(12, started("C-k", 99, event_id=poison_id))
    await send_events(producer, topic, events)
    bound = 4
    first = _spawn_worker(env, tmp_path / "first.log", poison_id, bound)
    try:
        await wait_until(
            lambda: pool.fetchval(
                "SELECT attempts FROM handler_attempt WHERE consumer = 'worker' "
                "AND event_id = $1 AND error_type = 'ValueError'",
                poison_id,
            ),
            what="a failed attempt recorded",
            every=0.005,
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(20)
    made = int(
        await pool.fetchval("SELECT attempts FROM handler_attempt WHERE event_id = $1", poison_id)
    )
    assert 1 <= made < bound
    assert await _offsets_sum(pool, "worker") == 0  # the killed batch left nothing

    second = _spawn_worker(env, tmp_path / "second.log", poison_id, bound)
    try:
        await wait_until(
            lambda: _offsets_sum_is(pool, "worker", len(events)), what="offsets", timeout=60
        )
    finally:
        second.terminate()
        assert second.wait(30) == 0
    isolated = (tmp_path / "second.log").read_text().count("in a run of 1\n")
    assert isolated == bound - made  # the attempts left, not the bound again
    assert await table_count(pool, "started") == 30
    row = await pool.fetchrow("SELECT * FROM dead_letter WHERE consumer = 'worker'")
    assert row["event_id"] == poison_id
    assert (row["reason"], row["error_type"], row["error"]) == (
        "handler_failed",
        "ValueError",
        "poison",
    )
    assert await table_count(pool, "handler_attempt") == 0
    letters = await read_topic(env.infra.kafka_bootstrap, env.topic(topics.DEAD_LETTER))
    assert [orjson.loads(r.value)["id"] for r in letters] == [poison_id]


def _spawn_worker(env: Env, log_path: Path, fail_on: str, bound: int) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                "--dsn",
                env.dsn,
                "--bootstrap",
                env.infra.kafka_bootstrap,
                "--prefix",
                env.prefix,
                f"--group-suffix=-{log_path.stem}",
                "--consumer",
                "worker",
                "--app-name",
                f"kill-{uuid.uuid4().hex[:6]}",
                "--fail-on",
                fail_on,
                "--max-attempts",
                str(bound),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
