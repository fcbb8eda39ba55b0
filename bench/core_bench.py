"""Benchmark of the event-processing core against a naive consumer (issue 3 §8).

Both project the same 1-row-per-event read model from the same events on the real broker:
the naive consumer commits one transaction per event (dedup row, projection row, offset); the
core commits one per batch. Then the end-to-end latency from publish (the record's Kafka
timestamp) to the commit of its row, at a steady 200 events/s.

Also prints the CPU each consumer spent per event: this process's (`time.process_time`, broker
client included; the naive's from its first record, the core's including its group join) and
that of the PostgreSQL backends serving it
(read from /proc: the database must run on this machine, as the issue asks). Under a shared
machine wall-clock figures swing; CPU per event is what to compare.

Writes `.local/bench/core.json`. Needs Kafka and PostgreSQL: FOLLOWUP_TEST_KAFKA_BOOTSTRAP and
FOLLOWUP_TEST_PG_DSN (set by `make bench`), else the local stack's defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from followup.core.applier import Item
from followup.core.clock import WallClock
from followup.core.consumer import EventConsumer
from followup.core.db import create_pool, migrate
from followup.core.deadletter import DeadLetterPublisher
from followup.core.metrics import Metrics
from followup.core.settings import CoreSettings
from followup.core.subscription import Subscription, Tx
from followup.core.testing import create_database, create_topics, dsn_for
from followup.events import CONTENT_TYPE, Event, ProjectStarted, decode, encode, make_event

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = os.environ.get("FOLLOWUP_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
ADMIN_DSN = os.environ.get("FOLLOWUP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:15432/postgres")
EVENTS = int(os.environ.get("CORE_BENCH_EVENTS", "100000"))
NAIVE_EVENTS = int(os.environ.get("CORE_BENCH_NAIVE_EVENTS", "3000"))
# The core's transaction cap (CoreSettings.batch_max_records, 2,000 by default): with a backlog
# the database part of a batch, not Python, bounds the rate, and larger batches pay it less
# often (see README, "Throughput"). Light traffic makes small batches either way.
CORE_BATCH = int(os.environ.get("CORE_BENCH_BATCH", "10000"))
LATENCY_RATE = 200
LATENCY_SECONDS = float(os.environ.get("CORE_BENCH_LATENCY_SECONDS", "20"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)

PROJECTION = """
CREATE TABLE started (
    event_id    text PRIMARY KEY,
    customer_id text NOT NULL,
    started_at  timestamptz NOT NULL
);
"""


def event(i: int) -> Event[Any]:
    customer = f"C-{i % 5000:05d}"
    return make_event(
        ProjectStarted(customer_id=customer, started_at=T0 + timedelta(seconds=i)),
        id=str(uuid.uuid4()),
        source="bench",
        subject=customer,
        time=T0 + timedelta(seconds=i),
    )


async def produce(topic: str, n: int) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        headers = [("content-type", CONTENT_TYPE.encode())]
        pending = []
        for i in range(n):
            e = event(i)
            pending.append(
                await producer.send(topic, encode(e), key=e.subject.encode(), headers=headers)
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def new_db(tmp: Path, name: str) -> str:
    dsn = await create_database(ADMIN_DSN, prefix=f"bench_{name}")
    (tmp / name).mkdir()
    (tmp / name / "0001_started.sql").write_text(PROJECTION)
    await migrate(dsn, service="bench", migrations_dir=tmp / name)
    return dsn


async def drop_db(dsn: str) -> None:
    name = dsn.rsplit("/", 1)[-1]
    conn = await asyncpg.connect(dsn_for(ADMIN_DSN, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process on this machine (0 if it is gone or elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backends_cpu_s(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> float:
    """CPU seconds used so far by every backend connected to this connection's database."""
    pids = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return sum(_proc_cpu_s(r["pid"]) for r in pids)


class Cpu:
    """CPU per event of this process and of the database's backends, over one measured run."""

    def __init__(self) -> None:
        self.py_start = time.process_time()
        self.py_us = self.pg_us = 0.0

    def done(self, events: int, pg_seconds: float) -> None:
        self.py_us = 1e6 * (time.process_time() - self.py_start) / events
        self.pg_us = 1e6 * pg_seconds / events


async def naive(topic: str, dsn: str, limit: int, cpu: Cpu) -> float:
    """One transaction per event: dedup id, projection row, offset."""
    conn = await asyncpg.connect(dsn)
    pg_start = 0.0
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        group_id=f"naive-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        done = 0
        started = 0.0
        while done < limit:
            record = await consumer.getone()
            if not started:
                # From the first record, as its rate: the group join is not per-event work.
                pg_start = await backends_cpu_s(conn)
                cpu.py_start = time.process_time()
                started = time.perf_counter()
            e = decode(record.value)
            async with conn.transaction():
                new = await conn.fetchval(
                    """INSERT INTO processed_event (consumer, event_id) VALUES ('naive', $1)
                       ON CONFLICT DO NOTHING RETURNING event_id""",
                    e.id,
                )
                if new:
                    await conn.execute(
                        "INSERT INTO started (event_id, customer_id, started_at) "
                        "VALUES ($1, $2, $3)",
                        e.id,
                        e.subject,
                        e.data.started_at,
                    )
                await conn.execute(
                    """INSERT INTO consumer_offset (consumer, topic, partition, next_offset)
                       VALUES ('naive', $1, $2, $3)
                       ON CONFLICT (consumer, topic, partition)
                       DO UPDATE SET next_offset = excluded.next_offset""",
                    record.topic,
                    record.partition,
                    record.offset + 1,
                )
            done += 1
        eps = done / (time.perf_counter() - started)
        cpu.done(done, await backends_cpu_s(conn) - pg_start)
        return eps
    finally:
        await consumer.stop()
        await conn.close()


async def project(tx: Tx, events: list[Event[Any]]) -> None:
    """The core's batch handler: the same rows in one statement."""
    await tx.conn.execute(
        """INSERT INTO started (event_id, customer_id, started_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])""",
        [e.id for e in events],
        [e.subject for e in events],
        [e.data.started_at for e in events],
    )


def core_consumer(topic: str, pool: asyncpg.Pool, dsn: str, after_commit: Any) -> EventConsumer:
    settings = CoreSettings(
        service="bench",
        kafka_bootstrap=BOOTSTRAP,
        pg_dsn=dsn,
        consumer_group_suffix=f"-{uuid.uuid4().hex[:8]}",
        log_level="WARNING",
        batch_max_records=CORE_BATCH,
    )
    metrics = Metrics()
    sub = Subscription(consumer="core", topics=[topic], batch_handlers={"ProjectStarted": project})
    return EventConsumer(
        sub,
        pool=pool,
        settings=settings,
        clock=WallClock(),
        metrics=metrics,
        dead_letters=DeadLetterPublisher(settings, metrics),
        after_commit=after_commit,
    )


async def core_throughput(topic: str, dsn: str, n: int, cpu: Cpu) -> tuple[float, float]:
    """Events/s of the core over n events, from its first commit to its last."""
    pool = await create_pool(dsn, min_size=2, max_size=4)
    async with pool.acquire() as conn:
        pg_start = await backends_cpu_s(conn)
    first: list[float] = []
    last = [0.0]
    count = [0]
    done = asyncio.Event()

    def committed(items: list[Item]) -> None:
        now = time.perf_counter()
        if not first:
            first.append(now - 0)  # the first batch's commit
            first.append(len(items))
        count[0] += len(items)
        last[0] = now
        if count[0] >= n:
            done.set()

    consumer = core_consumer(topic, pool, dsn, committed)
    started = time.perf_counter()
    await consumer.start()
    try:
        await asyncio.wait_for(done.wait(), 600)
        async with pool.acquire() as conn:
            cpu.done(count[0], await backends_cpu_s(conn) - pg_start)
    finally:
        await consumer.stop()
        await pool.close()
    # Steady rate: events after the first batch over the time after its commit.
    steady = (count[0] - first[1]) / max(last[0] - first[0], 1e-9)
    overall = count[0] / (last[0] - started)
    return steady, overall


async def core_latency(topic: str, dsn: str) -> list[float]:
    """Publish -> commit latencies (ms) at a steady LATENCY_RATE events/s."""
    pool = await create_pool(dsn, min_size=2, max_size=4)
    latencies: list[float] = []
    total = int(LATENCY_RATE * LATENCY_SECONDS)
    all_in = asyncio.Event()

    def committed(items: list[Item]) -> None:
        now_ms = time.time() * 1000
        latencies.extend(now_ms - item.record.timestamp for item in items)
        if len(latencies) >= total:
            all_in.set()

    consumer = core_consumer(topic, pool, dsn, committed)
    await consumer.start()
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=0
    )
    await producer.start()
    try:
        await asyncio.sleep(2)  # joined and idle
        headers = [("content-type", CONTENT_TYPE.encode())]
        start = time.perf_counter()
        futures = []
        for i in range(total):
            target = start + i / LATENCY_RATE
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            e = event(i)
            futures.append(
                await producer.send(topic, encode(e), key=e.subject.encode(), headers=headers)
            )
        await asyncio.gather(*futures)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), 30)
    finally:
        await producer.stop()
        await consumer.stop()
        await pool.close()
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    topic, latency_topic = f"bench.core.{run}", f"bench.core-latency.{run}"
    await create_topics(BOOTSTRAP, [topic, latency_topic], partitions=6)
    print(f"producing {EVENTS:,} events to {topic} ...", flush=True)
    await produce(topic, EVENTS)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        naive_dsn, core_dsn, latency_dsn = (
            await new_db(tmp, "naive"),
            await new_db(tmp, "core"),
            await new_db(tmp, "latency"),
        )
        try:
            print(f"naive consumer: {NAIVE_EVENTS:,} events, one transaction each ...", flush=True)
            naive_cpu = Cpu()
            naive_eps = await naive(topic, naive_dsn, NAIVE_EVENTS, naive_cpu)
            print(f"  {naive_eps:,.0f} events/s, {_cpu_text(naive_cpu)}", flush=True)
            print(
                f"core consumer: {EVENTS:,} events, one transaction per batch "
                f"(at most {CORE_BATCH:,} events) ...",
                flush=True,
            )
            core_cpu = Cpu()
            core_eps, core_overall = await core_throughput(topic, core_dsn, EVENTS, core_cpu)
            rows = await _count(core_dsn)
            assert rows == EVENTS, f"core projected {rows} rows, expected {EVENTS}"
            print(
                f"  {core_eps:,.0f} events/s steady ({core_overall:,.0f}/s including group join), "
                f"{_cpu_text(core_cpu)}",
                flush=True,
            )
            print(f"latency: {LATENCY_RATE} events/s for {LATENCY_SECONDS:.0f} s ...", flush=True)
            latencies = await core_latency(latency_topic, latency_dsn)
        finally:
            for dsn in (naive_dsn, core_dsn, latency_dsn):
                await drop_db(dsn)
    result = {
        "naive_eps": round(naive_eps, 1),
        "core_eps": round(core_eps, 1),
        "ratio": round(core_eps / naive_eps, 1),
        "latency_p50_ms": round(statistics.median(latencies), 2),
        "latency_p99_ms": round(percentile(latencies, 0.99), 2),
        "events": EVENTS,
        "core_eps_including_join": round(core_overall, 1),
        "naive_events": NAIVE_EVENTS,
        "core_batch_max_records": CORE_BATCH,
        "latency_events": len(latencies),
        "latency_rate_eps": LATENCY_RATE,
        "cpus": os.cpu_count(),
        "naive_cpu_us_per_event": {
            "python": round(naive_cpu.py_us, 1),
            "postgres": round(naive_cpu.pg_us, 1),
        },
        "core_cpu_us_per_event": {
            "python": round(core_cpu.py_us, 1),
            "postgres": round(core_cpu.pg_us, 1),
        },
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    return result


def _cpu_text(cpu: Cpu) -> str:
    return f"CPU per event: Python {cpu.py_us:.1f} us, PostgreSQL {cpu.pg_us:.1f} us"


async def _count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM started"))
    finally:
        await conn.close()


if __name__ == "__main__":
    from followup.core.logging import configure_logging

    configure_logging("bench", "WARNING")
    try:
        import uvloop

        # Before the loop exists (as the services run, see followup.core.service): installed
        # inside main() it came too late and both consumers ran on asyncio's default loop.
        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    figures = asyncio.run(main())
    out = ROOT / ".local" / "bench" / "core.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"naive {figures['naive_eps']:,.0f} events/s | core {figures['core_eps']:,.0f} "
        f"events/s | ratio {figures['ratio']:.1f}x | latency p50 "
        f"{figures['latency_p50_ms']:.1f} ms, p99 {figures['latency_p99_ms']:.1f} ms "
        f"at {LATENCY_RATE}/s"
    )
    print(f"wrote {out}")
    goals = (figures["core_eps"] >= 15000, figures["ratio"] >= 50, figures["latency_p99_ms"] <= 50)
    print("goals (>=15k/s, >=50x, p99<=50ms):", ["met" if g else "MISSED" for g in goals])
    sys.exit(0)
