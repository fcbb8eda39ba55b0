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
from followup.core.consumer import Subscription, Tx
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
    # The new process finds the batch left unfinished (its probe), so it goes one event at a
    # time at once, and makes only the one attempt left (not three more).
    assert len(calls) == 4
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


async def test_a_handler_that_kills_its_process_is_dead_lettered_after_the_bound(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    """Like an OOM kill each time: the process dies in the handler, and is restarted."""
    topic = env.topic(topics.CUSTOMERS)
    poison_id = f"oom-{uuid.uuid4().hex[:6]}"
    events = [started("C-k", i) for i in range(30)]
    events.insert(12, started("C-k", 99, event_id=poison_id))
    await send_events(producer, topic, events)
    bound = 3
    exits: list[int] = []
    for _ in range(bound + 3):
        if await _offsets_sum(pool, "worker") == len(events):
            break
        proc = _spawn_worker(env, tmp_path / f"worker-{len(exits)}.log", poison_id, bound)
        code = await _wait_exit_or_done(proc, pool, len(events))
        exits.append(code)
    # Killed in the fast path once, then once per counted attempt; the next start gives up.
    assert exits[: bound + 1] == [-signal.SIGKILL] * (bound + 1), exits
    assert exits[bound + 1] == 0, exits
    assert await _offsets_sum(pool, "worker") == len(events)
    assert await table_count(pool, "started") == 30
    row = await pool.fetchrow("SELECT * FROM dead_letter WHERE consumer = 'worker'")
    assert row["event_id"] == poison_id
    assert (row["reason"], row["error_type"]) == ("handler_failed", INTERRUPTED)
    assert f"after {bound} attempts" in row["error"]
    assert await table_count(pool, "handler_attempt") == 0
    letters = await read_topic(env.infra.kafka_bootstrap, env.topic(topics.DEAD_LETTER))
    assert [orjson.loads(r.value)["id"] for r in letters] == [poison_id]


def _spawn_worker(env: Env, log_path: Path, die_on: str, bound: int) -> subprocess.Popen[bytes]:
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
                "--group-suffix=-oom",
                "--consumer",
                "worker",
                "--app-name",
                f"oom-{uuid.uuid4().hex[:6]}",
                "--die-on",
                die_on,
                "--max-attempts",
                str(bound),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


async def _wait_exit_or_done(proc: subprocess.Popen[bytes], pool: asyncpg.Pool, n: int) -> int:
    """The worker's exit code: it dies by itself, or is stopped once every offset is stored."""
    for _ in range(600):
        code = proc.poll()
        if code is not None:
            return code
        if await _offsets_sum(pool, "worker") == n:
            proc.terminate()
            return proc.wait(20)
        await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("worker neither died nor finished in 60 s")
