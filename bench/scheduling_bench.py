"""Scheduling benchmarks (issue 4 §5), written to .local/bench/scheduling.json:

- plan_deliveries_per_s: CustomerDelivered events turned into stored plans through the real
  batch handler (one transaction and one handler call per batch, as the consumer does;
  500 a batch, BENCH_BATCH to change it; BENCH_DELIVERIES of them, default 5,000), on real
  PostgreSQL. Also printed: the CPU time per delivery of this process (planning, encoding)
  and of the PostgreSQL backend (from /proc when the server runs on this machine), which
  the wall figure hides on a shared machine;
- due_sweep_1m_s: with 1,000,000 planned visits stored, the time to find the newly due ones after
  a clock advance, mark them due and write their VisitDue to the outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg

from followup.calendar import default_calendar
from followup.core.consumer import Tx
from followup.core.db import create_pool, migrate
from followup.core.testing import create_database
from followup.events import Contact, CustomerDelivered, make_event
from followup.scheduling.handlers import SchedulingHandlers, publish_due_visits
from followup.scheduling.main import MIGRATIONS

ADMIN_DSN = os.environ.get("FOLLOWUP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:15432/postgres")
OUT = Path(__file__).resolve().parents[1] / ".local" / "bench" / "scheduling.json"
SH = ZoneInfo("Asia/Shanghai")
DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "5000"))
PLANNED = int(os.environ.get("BENCH_PLANNED", "1000000"))
# 500 keeps the figure comparable with earlier runs; the consumer takes up to 2,000 a batch.
BATCH = int(os.environ.get("BENCH_BATCH", "500"))


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


async def bench_planning() -> float:
    pool, _ = await fresh_pool()
    handlers = SchedulingHandlers(default_calendar(), "Asia/Shanghai")
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
    async with pool.acquire() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        pg_started = backend_cpu_s(pid)
        cpu_started = time.process_time()
        started = time.perf_counter()
        for i in range(0, len(events), BATCH):
            async with conn.transaction():
                tx = Tx(conn, now, "scheduling")
                await handlers.apply_customer_facts(tx, events[i : i + BATCH])
                await tx.flush()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        pg_ended = backend_cpu_s(pid)
        rows = await conn.fetchval("SELECT count(*) FROM planned_visit")
    await pool.close()
    pg = (
        "n/a"
        if pg_started is None or pg_ended is None
        else f"{(pg_ended - pg_started) / DELIVERIES * 1e6:,.0f} us"
    )
    print(
        f"planning CPU per delivery: Python {cpu / DELIVERIES * 1e6:,.0f} us,"
        f" PostgreSQL backend {pg}; {rows / DELIVERIES:.1f} stored visits per delivery"
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
    plan_eps = await bench_planning()
    print(
        f"planning: {plan_eps:,.0f} deliveries/s into stored plans"
        f" ({DELIVERIES} deliveries, batches of {BATCH})"
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
