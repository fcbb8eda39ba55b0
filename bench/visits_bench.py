"""Visits benchmarks (issue 5 §6), written to .local/bench/visits.json:

- log_p50_ms / log_p99_ms: `POST /v1/visits/{id}/log` at a steady 200 requests/s against the
  real service process (PostgreSQL, outbox, Kafka), each request a different due visit;
- queue_p99_ms: `GET /v1/visits?agent_id=…&status=due` (one agent's due queue, first page) over
  HTTP with 1,000,000 visits stored.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from followup.core.db import migrate
from followup.core.testing import create_database, create_topics
from followup.events import topics
from followup.visits.main import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = os.environ.get("FOLLOWUP_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
ADMIN_DSN = os.environ.get("FOLLOWUP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:15432/postgres")
OUT = ROOT / ".local" / "bench" / "visits.json"
RATE, SECONDS = 200, int(os.environ.get("BENCH_SECONDS", "10"))
VISITS = int(os.environ.get("BENCH_VISITS", "1000000"))
TOKEN = "bench-admin"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def seed(dsn: str, logs: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        # The queue: VISITS rows spread over 1,000 agents, a quarter of them due.
        await conn.execute(
            """
            INSERT INTO visit (visit_id, customer_id, kinds, status, agent_id, due_at, deadline,
                               attempt, updated_at)
            SELECT 'Q-' || g, 'C-' || (g % 300000), ARRAY['routine'],
                   (ARRAY['due', 'done', 'missed', 'done'])[1 + (g / 1000) % 4], 'A-' || (g % 1000),
                   now() - (g % 5000) * interval '1 hour',
                   now() + (g % 7000) * interval '1 hour', 1, now()
            FROM generate_series(1, $1) AS g
            """,
            VISITS,
        )
        # Visits to log: their VisitDue event (the state is a fold of it) and queue row.
        await conn.execute(
            """
            INSERT INTO visit_event (visit_id, event_id, type, data)
            SELECT 'L-' || g, 'due-L-' || g, 'VisitDue', jsonb_build_object(
                'visit_id', 'L-' || g, 'customer_id', 'CL-' || g, 'kinds', jsonb_build_array(
                'first_use'), 'due_at', '2026-11-01T10:00:00+08:00', 'deadline',
                '2099-11-08T23:59:59+08:00', 'attempt', 1, 'agent_id', 'A-1', 'reason', 'bench')
            FROM generate_series(1, $1) AS g
            """,
            logs,
        )
        await conn.execute(
            """
            INSERT INTO visit (visit_id, customer_id, kinds, status, agent_id, due_at, deadline,
                               attempt, updated_at)
            SELECT 'L-' || g, 'CL-' || g, ARRAY['first_use'], 'due', 'A-1',
                   '2026-11-01T10:00:00+08:00', '2099-11-08T23:59:59+08:00', 1, now()
            FROM generate_series(1, $1) AS g
            """,
            logs,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def start_service(dsn: str, prefix: str) -> tuple[asyncio.subprocess.Process, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "FOLLOWUP_PG_DSN": dsn,
        "FOLLOWUP_KAFKA_BOOTSTRAP": BOOTSTRAP,
        "FOLLOWUP_PORT": str(port),
        "FOLLOWUP_DEV_TOKEN": TOKEN,
        "FOLLOWUP_TOPIC_PREFIX": prefix,
        "FOLLOWUP_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "followup.visits.main",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(240):
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    proc.kill()
    raise SystemExit("visits service did not become ready")


async def main() -> None:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await create_topics(BOOTSTRAP, [prefix + t for t in topics.ALL_TOPICS])
    dsn = await create_database(ADMIN_DSN, prefix="bench_visits")
    await migrate(dsn, service="visits", migrations_dir=MIGRATIONS)
    n_logs = RATE * SECONDS
    started = time.perf_counter()
    await seed(dsn, n_logs)
    print(f"seeded {VISITS:,} queued visits in {time.perf_counter() - started:.0f} s")
    proc, url = await start_service(dsn, prefix)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with httpx.AsyncClient(
            base_url=url, headers=headers, timeout=10, limits=httpx.Limits(max_connections=64)
        ) as client:
            body = {"channel": "phone", "outcome": "completed", "satisfaction": 5}
            latencies: list[float] = []
            statuses: list[int] = []

            async def log_one(i: int) -> None:
                t0 = time.perf_counter()
                r = await client.post(f"/v1/visits/L-{i}/log", json=body)
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses.append(r.status_code)

            tasks = []
            t_start = time.perf_counter()
            for i in range(1, n_logs + 1):
                # A steady rate: request i leaves at t_start + i / RATE.
                delay = t_start + i / RATE - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(log_one(i)))
            await asyncio.gather(*tasks)
            assert statuses.count(202) == n_logs, {s: statuses.count(s) for s in set(statuses)}

            queue: list[float] = []
            for i in range(500):
                t0 = time.perf_counter()
                r = await client.get(
                    "/v1/visits", params={"agent_id": f"A-{i % 1000}", "status": "due", "limit": 50}
                )
                queue.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200 and r.json()["items"]
    finally:
        proc.terminate()
        await proc.wait()
    result = {
        "log_p50_ms": round(statistics.median(latencies), 2),
        "log_p99_ms": round(percentile(latencies, 99), 2),
        "queue_p99_ms": round(percentile(queue, 99), 2),
        "queue_p50_ms": round(statistics.median(queue), 2),
        "log_requests": n_logs,
        "rate_rps": RATE,
        "visits_stored": VISITS + n_logs,
    }
    print(
        f"log at {RATE} req/s: p50 {result['log_p50_ms']} ms, p99 {result['log_p99_ms']} ms "
        f"({n_logs} requests); due queue over {VISITS:,} visits: p50 "
        f"{result['queue_p50_ms']} ms, p99 {result['queue_p99_ms']} ms"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
