"""Proofs on real infrastructure: consumer processes killed mid-batch (§7a, §7e).

The read model must equal a pure in-memory fold of the messages on the topic, with no
duplicate effect, however often and wherever the consumers die.
"""

# ruff: noqa: ASYNC109, ASYNC110  (polling helpers with deadlines, in tests)
from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from followup.events import encode, topics

from .conftest import Env, read_topic, send_raw, started
from .projection import fold

WORKER = Path(__file__).resolve().parent / "worker.py"
EVENTS = int(os.environ.get("CORE_PROOF_EVENTS", "50000"))


class Worker:
    """One consumer process."""

    def __init__(
        self,
        env: Env,
        *,
        group_suffix: str,
        log_dir: Path,
        stall_ms: int = 0,
        pipelined: bool = True,
        idle_timeout_s: float = 30.0,
    ) -> None:
        self.app_name = f"w{uuid.uuid4().hex[:10]}"
        self.log_path = log_dir / f"{self.app_name}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(WORKER),
                    "--dsn",
                    env.dsn,
                    "--bootstrap",
                    env.infra.kafka_bootstrap,
                    "--prefix",
                    env.prefix,
                    f"--group-suffix={group_suffix}",
                    "--app-name",
                    self.app_name,
                    "--stall-ms",
                    str(stall_ms),
                    *([] if pipelined else ["--plain"]),
                    f"--idle-timeout-s={idle_timeout_s}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    async def terminate(self, timeout: float = 30) -> int:
        self.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
            pytest.fail(f"worker ignored SIGTERM:\n{self.tail()}")
        return self.proc.returncode

    async def wait_dead(self) -> None:
        while self.proc.poll() is None:
            await asyncio.sleep(0.01)

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])


async def in_transaction(pool: asyncpg.Pool, app_name: str) -> bool:
    """True while the worker's connection is inside a batch transaction (between statements,
    or running one of the batch's statements), not in a single-statement one."""
    return bool(
        await pool.fetchval(
            """SELECT count(*) FROM pg_stat_activity
           WHERE application_name = $1 AND xact_start IS NOT NULL
             AND (state = 'idle in transaction'
                  OR (state = 'active' AND (query LIKE '%WITH moved AS%'
                                            OR query LIKE '%INSERT INTO started%'
                                            OR query LIKE '%INSERT INTO tally%')))""",
            app_name,
        )
    )


async def kill_mid_batch(pool: asyncpg.Pool, worker: Worker, timeout: float = 30) -> bool:
    """SIGKILLs the worker as soon as it is seen inside a transaction; True if it was."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            pytest.fail(f"worker died on its own:\n{worker.tail()}")
        if await in_transaction(pool, worker.app_name):
            worker.signal(signal.SIGKILL)
            await worker.wait_dead()
            return True
        await asyncio.sleep(0.003)
    worker.signal(signal.SIGKILL)
    await worker.wait_dead()
    return False


async def stored_total(pool: asyncpg.Pool) -> int:
    return int(
        await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE consumer = 'crashy'"
        )
    )


async def wait_stored(pool: asyncpg.Pool, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (got := await stored_total(pool)) < total:
        if time.monotonic() > deadline:
            pytest.fail(f"only {got} of {total} offsets stored in {timeout} s")
        await asyncio.sleep(0.2)


async def produce_steadily(
    producer: AIOKafkaProducer, topic: str, n: int, *, chunk: int, pause: float, rng: random.Random
) -> int:
    """Sends n events (and re-sends ~2% of them later: same id, new offset); returns the count."""
    sent = 0
    history: list[tuple[str, bytes]] = []
    for start in range(0, n, chunk):
        batch = [started(f"C-{i % 997}", i) for i in range(start, min(n, start + chunk))]
        messages = [(e.subject, encode(e)) for e in batch]
        history.extend(messages)
        messages += rng.sample(history, k=max(1, len(batch) // 50))
        await send_raw(producer, topic, messages)
        sent += len(messages)
        await asyncio.sleep(pause)
    return sent


async def check_against_fold(env: Env, pool: asyncpg.Pool) -> None:
    records = await read_topic(env.infra.kafka_bootstrap, env.topic(topics.CUSTOMERS))
    ids, tally = fold([r.value for r in records])
    rows = await pool.fetch("SELECT event_id FROM started")
    assert len(rows) == len(ids), "a duplicate or a missing effect"
    assert {r["event_id"] for r in rows} == ids
    got = {
        r["customer_id"]: (r["n"], r["last_event"])
        for r in await pool.fetch("SELECT customer_id, n, last_event FROM tally")
    }
    assert got == tally
    assert await pool.fetchval(
        "SELECT count(*) FROM processed_event WHERE consumer = 'crashy'"
    ) == len(ids)


# Both ways: with pipelined claims, and the plain path (one batch at a time).
both_claims = pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "plain"])


@pytest.mark.slow
@both_claims
async def test_kill_9_mid_batch_ten_times_and_the_read_model_equals_the_fold(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer, tmp_path: Path, pipelined: bool
) -> None:
    """§7a: ≥ 50,000 events, a consumer process SIGKILLed mid-batch at least 10 times."""
    rng = random.Random(7)
    topic = env.topic(topics.CUSTOMERS)
    production = asyncio.create_task(
        produce_steadily(producer, topic, EVENTS, chunk=1000, pause=0.25, rng=rng)
    )
    mid_batch_kills = kills = 0
    while kills < 12 or not production.done():
        # A new group each time: offsets come from the database, and a fresh group does not
        # wait out the dead member's session.
        worker = Worker(
            env,
            group_suffix=f"-{uuid.uuid4().hex[:6]}",
            log_dir=tmp_path,
            stall_ms=15,
            pipelined=pipelined,
        )
        await asyncio.sleep(rng.uniform(0.0, 1.5))
        mid_batch_kills += await kill_mid_batch(pool, worker)
        kills += 1
        if kills > 60:
            break
    total = await production
    assert mid_batch_kills >= 10, f"only {mid_batch_kills} of {kills} kills were mid-batch"
    final = Worker(
        env, group_suffix=f"-{uuid.uuid4().hex[:6]}", log_dir=tmp_path, pipelined=pipelined
    )
    try:
        await wait_stored(pool, total, timeout=120)
    finally:
        assert await final.terminate() == 0, final.tail()
    await check_against_fold(env, pool)
    print(f"\n§7a: {total} messages, {kills} SIGKILLs ({mid_batch_kills} mid-batch)")


@pytest.mark.slow
@both_claims
async def test_three_instances_one_killed_one_frozen_totals_exact(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer, tmp_path: Path, pipelined: bool
) -> None:
    """§7e: three instances in one group; one SIGKILLed mid-batch, one frozen past its session
    (a zombie that wakes up holding a batch); the totals are exact."""
    rng = random.Random(11)
    topic = env.topic(topics.CUSTOMERS)
    suffix = f"-{uuid.uuid4().hex[:6]}"
    workers = [
        Worker(env, group_suffix=suffix, log_dir=tmp_path, stall_ms=10, pipelined=pipelined)
        for _ in range(3)
    ]
    production = asyncio.create_task(
        produce_steadily(producer, topic, 30000, chunk=1000, pause=0.3, rng=rng)
    )
    try:
        # All three members are applying batches before anything happens to them.
        for w in workers:
            deadline = time.monotonic() + 30
            while not await in_transaction(pool, w.app_name):
                assert time.monotonic() < deadline, f"worker never processed:\n{w.tail()}"
                await asyncio.sleep(0.003)
        assert await kill_mid_batch(pool, workers[0]), "the kill was not mid-batch"
        frozen = workers[1]
        deadline = time.monotonic() + 20
        while not await in_transaction(pool, frozen.app_name):
            assert time.monotonic() < deadline, "the frozen worker never held a batch"
            await asyncio.sleep(0.003)
        frozen.signal(signal.SIGSTOP)
        await asyncio.sleep(9)  # past the 6 s session: its partitions move on
        frozen.signal(signal.SIGCONT)
        total = await production
        await wait_stored(pool, total, timeout=120)
    finally:
        for w in workers:
            w.signal(signal.SIGCONT)
        codes = [await w.terminate() for w in workers[1:]]
    assert codes == [0, 0], [w.tail() for w in workers[1:]]
    await check_against_fold(env, pool)


async def stored_for(pool: asyncpg.Pool, partitions: set[int]) -> int:
    return int(
        await pool.fetchval(
            """SELECT coalesce(sum(next_offset), 0) FROM consumer_offset
               WHERE consumer = 'crashy' AND partition = ANY($1::int[])""",
            sorted(partitions),
        )
    )


async def locked_partitions(pool: asyncpg.Pool, app_name: str) -> set[int]:
    """The partitions whose offset rows the worker's open transactions hold."""
    rows = await pool.fetch(
        """SELECT DISTINCT o.partition FROM consumer_offset o
           JOIN pg_locks l ON l.locktype = 'transactionid' AND l.granted
                            AND l.mode = 'ExclusiveLock'
           JOIN pg_stat_activity a ON a.pid = l.pid AND a.application_name = $1
           WHERE o.consumer = 'crashy' AND o.xmax::text = l.transactionid::text""",
        app_name,
    )
    return {r[0] for r in rows}


@pytest.mark.slow
async def test_a_member_frozen_mid_batch_releases_its_partitions_in_seconds(
    env: Env, pool: asyncpg.Pool, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    """Finding 5: a member frozen inside its batch (SIGSTOP: its socket stays open, so neither
    the client's command timeout nor TCP notices) held its offset rows, and the partitions'
    new owner waited on them, for as long as it stayed frozen. The server now ends its session
    after the idle timeout and the others go on while it is still frozen."""
    rng = random.Random(5)
    topic = env.topic(topics.CUSTOMERS)
    suffix = f"-{uuid.uuid4().hex[:6]}"
    workers = [
        Worker(env, group_suffix=suffix, log_dir=tmp_path, stall_ms=100, idle_timeout_s=8)
        for _ in range(3)
    ]
    production = asyncio.create_task(
        produce_steadily(producer, topic, 30000, chunk=1000, pause=0.3, rng=rng)
    )
    frozen = workers[0]
    try:
        deadline = time.monotonic() + 60
        held: set[int] = set()
        while not held:
            assert time.monotonic() < deadline, f"the worker never held a batch:\n{frozen.tail()}"
            if await in_transaction(pool, frozen.app_name):
                frozen.signal(signal.SIGSTOP)
                # What it had sent (a commit, say) runs meanwhile: only then are its locks known.
                await asyncio.sleep(1.0)
                held = await locked_partitions(pool, frozen.app_name)
                if not held:
                    frozen.signal(signal.SIGCONT)
            await asyncio.sleep(0.003)
        before = await stored_for(pool, held)
        total = await production
        # Its partitions move on while it is frozen: past the session (6 s), its rows are
        # free once the server ends its idle session (8 s), well before 90 s.
        deadline = time.monotonic() + 90
        while await stored_for(pool, held) <= before:
            assert time.monotonic() < deadline, f"partitions {held} stuck behind the frozen member"
            await asyncio.sleep(0.5)
        await wait_stored(pool, total, timeout=120)
        assert frozen.proc.poll() is None, "the frozen member is still there, stopped"
    finally:
        for w in workers:
            w.signal(signal.SIGCONT)
        codes = [await w.terminate() for w in workers]
    assert codes == [0, 0, 0], [w.tail() for w in workers]
    await check_against_fold(env, pool)
