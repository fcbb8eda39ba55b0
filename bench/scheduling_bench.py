"""Scheduling benchmarks (issue 4 §5), written to .local/bench/scheduling.json:

- plan_deliveries_per_s: CustomerDelivered events turned into stored plans through the real
  batch handler (one transaction and one handler call per batch, as the consumer does; as
  many a batch as the consumer takes at most, 2,000, which it does whenever it is behind:
  BENCH_BATCH to change it; BENCH_DELIVERIES of them, default 20,000; the median of
  BENCH_ROUNDS rounds, default 3), on real PostgreSQL.
  Plans are stored 28 days ahead (the rest of the rolling horizon when the clock comes near,
  see the README): also printed, the tick that then extends all these plans, per customer.
  Also printed: the CPU time per delivery of this process (planning, encoding), of the
  PostgreSQL backend and of all the cluster's processes (WAL writer, checkpointer...; from
  /proc when the server runs on this machine), which the wall figure hides on a shared
  machine;
- due_sweep_1m_s: with 1,000,000 planned visits stored, the time to find the newly due ones after
  a clock advance, mark them due and write their VisitDue to the outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg

from followup.calendar import default_calendar
from followup.core.db import create_pool, migrate
from followup.core.maintenance import StatisticsKeeper
from followup.core.settings import CoreSettings
from followup.core.subscription import Tx
from followup.core.testing import create_database
from followup.events import Contact, CustomerDelivered, make_event
from followup.scheduling.handlers import SchedulingHandlers
from followup.scheduling.main import MIGRATIONS
from followup.scheduling.planning import Planner
from followup.scheduling.projections.growth import GROWING_TABLES
from followup.scheduling.publishing import publish_due_visits

ADMIN_DSN = os.environ.get("FOLLOWUP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:15432/postgres")
OUT = Path(__file__).resolve().parents[1] / ".local" / "bench" / "scheduling.json"
SH = ZoneInfo("Asia/Shanghai")
DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "20000"))
PLANNED = int(os.environ.get("BENCH_PLANNED", "1000000"))
# Planning is measured this many times, each on a fresh database, and the median reported: on
# a machine shared with other work one round's wall figure varies by a third.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# The consumer's largest batch: what it takes while it has a backlog, as when it plans at full
# speed. (Figures before 2026-12-01 used 500.)
BATCH = int(
    os.environ.get("BENCH_BATCH", str(CoreSettings.model_fields["batch_max_records"].default))
)


async def fresh_pool() -> tuple[asyncpg.Pool, str]:
    dsn = await create_database(ADMIN_DSN, prefix="bench_sched")
    pool = await create_pool(dsn, min_size=1, max_size=4)
    await migrate(pool, service="scheduling", migrations_dir=MIGRATIONS)
    return pool, dsn


def backend_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a local PostgreSQL backend (None when not readable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cluster_cpu_s(backend_pid: int) -> float | None:
    """CPU seconds of every process of the local PostgreSQL cluster the backend belongs to."""
    try:
        postmaster = int(Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        pids = [postmaster]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == postmaster:
                    pids.append(int(entry.name))
    except OSError:
        return None
    total = 0.0
    for pid in pids:
        total += backend_cpu_s(pid) or 0.0
    return total


def per(started: float | None, ended: float | None, n: int) -> str:
    """CPU seconds between two readings, in microseconds per unit."""
    return "n/a" if started is None or ended is None else f"{(ended - started) / n * 1e6:,.0f} us"


async def bench_planning() -> float:
    pool, _ = await fresh_pool()
    handlers = SchedulingHandlers(Planner(default_calendar(), "Asia/Shanghai"))
    now = datetime(2026, 11, 1, tzinfo=SH)
    events = []
    for i in range(DELIVERIES):
        data = CustomerDelivered(
            customer_id=f"C-{i}",
            order_id=f"O-{i}",
            delivered_at=now + timedelta(minutes=i),
            product="p",
            tier=("gold", "silver", "bronze")[i % 3],
            segment="individual",
            contact=Contact(name="n", phone="p"),
        )
        events.append(
            make_event(
                data,
                id=str(uuid.uuid4()),
                source="bench",
                subject=data.customer_id,
                time=data.delivered_at,
            )
        )
    # As the service runs it: the core's statistics keeper beside the consumer.
    statistics = StatisticsKeeper(pool, GROWING_TABLES)
    await statistics.start()
    async with pool.acquire() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        pg_started, all_started = backend_cpu_s(pid), cluster_cpu_s(pid)
        cpu_started = time.process_time()
        started = time.perf_counter()
        for i in range(0, len(events), BATCH):
            async with conn.transaction():
                tx = Tx(conn, now, "scheduling")
                await handlers.apply_customer_facts(tx, events[i : i + BATCH])
                await tx.flush()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        pg_ended, all_ended = backend_cpu_s(pid), cluster_cpu_s(pid)
        rows = await conn.fetchval("SELECT count(*) FROM planned_visit")
        print(
            f"planning CPU per delivery: Python {cpu / DELIVERIES * 1e6:,.0f} us,"
            f" PostgreSQL backend {per(pg_started, pg_ended, DELIVERIES)}"
            f" (all its processes {per(all_started, all_ended, DELIVERIES)});"
            f" {rows / DELIVERIES:.1f} stored visits per delivery"
        )
        # The clock comes within two weeks of every stored plan's end: one tick extends them
        # all (and publishes what fell due on the way: the first-use visits).
        later = max(e.data.delivered_at for e in events) + timedelta(days=15)
        pg_started, all_started = backend_cpu_s(pid), cluster_cpu_s(pid)
        cpu_started = time.process_time()
        started = time.perf_counter()
        async with conn.transaction():
            tx = Tx(conn, later, "scheduling")
            await handlers.on_tick(tx, later)
            await tx.flush()
        tick = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        pg_ended, all_ended = backend_cpu_s(pid), cluster_cpu_s(pid)
        extended = await conn.fetchval("SELECT count(*) FROM planned_visit") - rows
    await statistics.stop()
    await pool.close()
    n = DELIVERIES
    print(
        f"tick extending the {n:,} plans a month on: {n / tick:,.0f} customers/s"
        f" ({extended / n:.1f} visits stored per customer); CPU per customer: Python"
        f" {cpu / n * 1e6:,.0f} us, PostgreSQL backend {per(pg_started, pg_ended, n)}"
        f" (all its processes {per(all_started, all_ended, n)})"
    )
    return DELIVERIES / elapsed


async def bench_due_sweep() -> float:
    pool, _ = await fresh_pool()
    base = datetime(2027, 1, 1, tzinfo=SH)
    async with pool.acquire() as conn:
        # 1,000,000 planned visits over two years; the advance below makes ~1,000 due.
        await conn.execute(
            """
            INSERT INTO planned_visit (visit_id, customer_id, kinds, due_at, deadline, reason,
                                       sources, created_at)
            SELECT 'V-' || g, 'C-' || (g % 200000), ARRAY['routine'],
                   $1::timestamptz + (g * interval '63 seconds'),
                   $1::timestamptz + (g * interval '63 seconds') + interval '7 days',
                   'bench', ARRAY['routine|' || g], now()
            FROM generate_series(1, $2) AS g
            """,
            base,
            PLANNED,
        )
        await conn.execute("ANALYZE planned_visit")
    now = base + timedelta(seconds=63 * 1000)
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, now, "scheduling")
        due = await publish_due_visits(tx, now)
        await tx.flush()
    elapsed = time.perf_counter() - started
    assert due == 1000, due
    await pool.close()
    return elapsed


async def main() -> None:
    rounds = [await bench_planning() for _ in range(ROUNDS)]
    plan_eps = statistics.median(rounds)
    print(
        f"planning: {plan_eps:,.0f} deliveries/s into stored plans, the median of {ROUNDS}"
        f" rounds ({', '.join(f'{r:,.0f}' for r in rounds)}; {DELIVERIES} deliveries each,"
        f" batches of {BATCH})"
    )
    sweep = await bench_due_sweep()
    print(f"due sweep: {sweep * 1000:,.1f} ms to publish 1,000 newly due of {PLANNED:,} planned")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"plan_deliveries_per_s": round(plan_eps, 1), "due_sweep_1m_s": round(sweep, 4)},
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
