"""Visits benchmarks (issue 5 §6), written to .local/bench/visits.json:

- log_p50_ms / log_p99_ms: `POST /v1/visits/{id}/log` at a steady 200 requests/s against the
  real service process (PostgreSQL, outbox, Kafka), each request a different due visit. Open
  loop: request i is due at start + i / 200 s whatever happened before, and its latency runs
  from that instant to the last byte of the answer, so a client or server that falls behind
  pays for it in the figures (no coordinated omission). `outbox_drained_ms` is how long after
  the last answer the outbox still held unpublished events (the relay keeping up with Kafka).
- queue_p50_ms / queue_p99_ms: `GET /v1/visits?agent_id=…&status=due` (one agent's due queue,
  first page of 50) over HTTP with 1,000,000 visits stored, 500 agents one after another.

Both are measured on a warmed service: kept-alive connections opened beforehand, and a warm-up
(its own visits and agents, not counted) so the figures are the requests, not connection setup
or the first use of each pooled database connection.

The load generator is a minimal HTTP/1.1 client over asyncio streams: httpx's connection pool
spends O(queued requests × connections) of CPU on each request, which at 200 req/s made the
client itself the bottleneck (requests queued for tens of seconds inside the bench process while
the service sat idle).

Needs Kafka and PostgreSQL: FOLLOWUP_TEST_KAFKA_BOOTSTRAP and FOLLOWUP_TEST_PG_DSN (set by
`make bench`), else the local stack's defaults. The bench database is dropped at the end
(BENCH_KEEP_DB=1 keeps it).
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import orjson
import uvloop

from followup.core.db import migrate
from followup.core.testing import create_database, create_topics
from followup.events import topics
from followup.visits.main import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = os.environ.get("FOLLOWUP_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
ADMIN_DSN = os.environ.get("FOLLOWUP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:15432/postgres")
OUT = ROOT / ".local" / "bench" / "visits.json"
SERVICE_LOG = ROOT / ".local" / "bench" / "visits-service.log"
RATE, SECONDS = 200, int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP_SECONDS = 2
VISITS = int(os.environ.get("BENCH_VISITS", "1000000"))
QUEUE_REQUESTS, QUEUE_WARMUP = 500, 100
CONNECTIONS = 32
TOKEN = "bench-admin"
LOG_BODY = orjson.dumps({"channel": "phone", "outcome": "completed", "satisfaction": 5})


# CPU time, not wall time: on a shared machine the wall clock charges other processes' turns to
# whatever function happened to be running.
PROFILED_SERVICE = """
import cProfile, signal, sys, time
from followup.visits.main import main
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
profiler = cProfile.Profile(time.process_time)
try:
    profiler.runcall(main)
finally:
    profiler.dump_stats({out!r})
"""


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
        # Visits to log (`L-*` measured, `W-*` warm-up): their VisitDue event (the state is a
        # fold of it) and queue row.
        for prefix, n in (("L-", logs), ("W-", RATE * WARMUP_SECONDS)):
            await conn.execute(
                """
                INSERT INTO visit_event (visit_id, event_id, type, data)
                SELECT $2 || g, 'due-' || $2 || g, 'VisitDue', jsonb_build_object(
                    'visit_id', $2 || g, 'customer_id', 'C' || $2 || g, 'kinds',
                    jsonb_build_array('first_use'), 'due_at', '2026-11-01T10:00:00+08:00',
                    'deadline', '2099-11-08T23:59:59+08:00', 'attempt', 1, 'agent_id', 'A-1',
                    'reason', 'bench')
                FROM generate_series(1, $1) AS g
                """,
                n,
                prefix,
            )
            await conn.execute(
                """
                INSERT INTO visit (visit_id, customer_id, kinds, status, agent_id, due_at,
                                   deadline, attempt, updated_at)
                SELECT $2 || g, 'C' || $2 || g, ARRAY['first_use'], 'due', 'A-1',
                       '2026-11-01T10:00:00+08:00', '2099-11-08T23:59:59+08:00', 1, now()
                FROM generate_series(1, $1) AS g
                """,
                n,
                prefix,
            )
        await conn.execute("VACUUM ANALYZE")
        # Flush the seed's writes now: otherwise the checkpoint writing ~350 MB of seeded pages
        # lands inside the measured run and its fsyncs stall commits (setup, not workload).
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


class Connection:
    """One kept-alive HTTP/1.1 connection: a request, then its answer, then the next."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
            elif name.strip().lower() == "transfer-encoding":
                raise RuntimeError("chunked answers are not expected from this service")
        return status, await self.reader.readexactly(length or 0)

    def close(self) -> None:
        self.writer.close()


class Client:
    """Idle kept-alive connections; a request borrows one (or opens one when all are busy)."""

    # uvicorn closes a connection idle for 5 s (its keep-alive timeout); one idle for longer
    # than this is dropped instead of reused, as any HTTP client does.
    MAX_IDLE_S = 4.0

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[Connection, float]] = []
        self.opened = 0

    async def warm(self, n: int) -> None:
        for _ in range(n):
            self.idle.append((await Connection.open(self.port), time.perf_counter()))
        self.opened += n

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        conn = None
        while self.idle and conn is None:
            conn, used = self.idle.pop()
            if time.perf_counter() - used > self.MAX_IDLE_S:
                conn.close()
                conn = None
        if conn is None:
            conn = await Connection.open(self.port)
            self.opened += 1
        status, answer = await conn.request(method, target, body)
        self.idle.append((conn, time.perf_counter()))
        return status, answer

    def close(self) -> None:
        for conn, _ in self.idle:
            conn.close()


async def steady_load(
    n: int, rate: float, send: Callable[[int], Awaitable[int]]
) -> tuple[list[float], list[int]]:
    """Open loop: request i is due at start + i / rate; latency from that instant to its end."""
    latencies: list[float] = []
    statuses: list[int] = []

    async def one(i: int, due: float) -> None:
        statuses.append(await send(i))
        latencies.append((time.perf_counter() - due) * 1000)

    tasks = []
    start = time.perf_counter()
    for i in range(1, n + 1):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return latencies, statuses


async def start_service(dsn: str, prefix: str) -> tuple[asyncio.subprocess.Process, int]:
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
    SERVICE_LOG.parent.mkdir(parents=True, exist_ok=True)
    log = SERVICE_LOG.open("wb")
    # BENCH_PROFILE=<file> runs the service under cProfile, its stats written there on exit
    # (uvicorn re-raises SIGTERM once shut down: the handler turns it into SystemExit).
    profile = os.environ.get("BENCH_PROFILE")
    program = (
        ["-c", PROFILED_SERVICE.format(out=profile)] if profile else ["-m", "followup.visits.main"]
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *program,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    log.close()
    for _ in range(240):
        try:
            conn = await Connection.open(port)
            try:
                if (await conn.request("GET", "/readyz"))[0] == 200:
                    return proc, port
            finally:
                conn.close()
        except (OSError, asyncio.IncompleteReadError):
            pass
        await asyncio.sleep(0.25)
    proc.kill()
    raise SystemExit("visits service did not become ready")


async def outbox_drained_ms(dsn: str, since: float, timeout_s: float = 30) -> float:
    """Milliseconds from `since` until every outbox row has been published to Kafka."""
    conn = await asyncpg.connect(dsn)
    try:
        while time.perf_counter() - since < timeout_s:
            if not await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
                return round((time.perf_counter() - since) * 1000, 1)
            await asyncio.sleep(0.005)
    finally:
        await conn.close()
    raise SystemExit(f"the outbox was not drained {timeout_s:.0f} s after the load")


async def drop_database(dsn: str) -> None:
    name = dsn.rsplit("/", 1)[-1]
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds(dsn: str) -> float:
    """CPU time used so far by the PostgreSQL backends serving the bench database."""
    marker = f" {dsn.rsplit('/', 1)[-1]} ".encode()
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "cmdline").read_bytes().replace(b"\0", b" "):
                total += cpu_seconds(int(proc.name))
        except OSError:
            continue
    return total


async def measure(dsn: str, pid: int, port: int, n_logs: int) -> dict[str, float | int]:
    client = Client(port)
    await client.warm(CONNECTIONS)

    def log(prefix: str) -> Callable[[int], Awaitable[int]]:
        async def send(i: int) -> int:
            return (await client.request("POST", f"/v1/visits/{prefix}{i}/log", LOG_BODY))[0]

        return send

    # Warm-up: every pooled connection and code path used once, not counted.
    _, warm = await steady_load(RATE * WARMUP_SECONDS, RATE, log("W-"))
    assert warm.count(202) == len(warm), {s: warm.count(s) for s in set(warm)}
    await outbox_drained_ms(dsn, time.perf_counter())

    cpu_before, db_cpu_before = cpu_seconds(pid), database_cpu_seconds(dsn)
    client_cpu_before = time.process_time()
    latencies, statuses = await steady_load(n_logs, RATE, log("L-"))
    client_cpu_per_log = (time.process_time() - client_cpu_before) * 1000 / n_logs
    assert statuses.count(202) == n_logs, {s: statuses.count(s) for s in set(statuses)}
    drained = await outbox_drained_ms(dsn, time.perf_counter())
    # The service's own CPU per logged visit (HTTP, handler, outbox relay, consumer idling):
    # figures that other load on the machine moves far less than the latencies.
    cpu_per_log = (cpu_seconds(pid) - cpu_before) * 1000 / n_logs
    db_cpu_per_log = (database_cpu_seconds(dsn) - db_cpu_before) * 1000 / n_logs

    queue: list[float] = []
    for i in range(QUEUE_WARMUP + QUEUE_REQUESTS):
        # Warm-up on agents 500..599, measured on agents 0..499 (never seen before).
        agent = 500 + i if i < QUEUE_WARMUP else i - QUEUE_WARMUP
        params = urlencode({"agent_id": f"A-{agent}", "status": "due", "limit": 50})
        t0 = time.perf_counter()
        status, body = await client.request("GET", f"/v1/visits?{params}")
        elapsed = (time.perf_counter() - t0) * 1000
        assert status == 200 and orjson.loads(body)["items"], (status, body[:200])
        if i >= QUEUE_WARMUP:
            queue.append(elapsed)
    client.close()
    return {
        "log_p50_ms": round(statistics.median(latencies), 2),
        "log_p99_ms": round(percentile(latencies, 99), 2),
        "log_max_ms": round(max(latencies), 2),
        "outbox_drained_ms": drained,
        "service_cpu_ms_per_log": round(cpu_per_log, 2),
        "database_cpu_ms_per_log": round(db_cpu_per_log, 2),
        "client_cpu_ms_per_log": round(client_cpu_per_log, 2),
        "queue_p99_ms": round(percentile(queue, 99), 2),
        "queue_p50_ms": round(statistics.median(queue), 2),
        "log_requests": n_logs,
        "rate_rps": RATE,
        "connections_opened": client.opened,
        "visits_stored": VISITS + n_logs + RATE * WARMUP_SECONDS,
    }


async def main() -> None:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await create_topics(BOOTSTRAP, [prefix + t for t in topics.ALL_TOPICS])
    dsn = await create_database(ADMIN_DSN, prefix="bench_visits")
    try:
        await migrate(dsn, service="visits", migrations_dir=MIGRATIONS)
        n_logs = RATE * SECONDS
        started = time.perf_counter()
        await seed(dsn, n_logs)
        print(f"seeded {VISITS:,} queued visits in {time.perf_counter() - started:.0f} s")
        proc, port = await start_service(dsn, prefix)
        try:
            result = await measure(dsn, proc.pid, port, n_logs)
        finally:
            proc.terminate()
            await proc.wait()
    finally:
        if not os.environ.get("BENCH_KEEP_DB"):
            await drop_database(dsn)
    print(
        f"log at {RATE} req/s: p50 {result['log_p50_ms']} ms, p99 {result['log_p99_ms']} ms, "
        f"max {result['log_max_ms']} ms ({n_logs} requests, service CPU "
        f"{result['service_cpu_ms_per_log']} ms and PostgreSQL "
        f"{result['database_cpu_ms_per_log']} ms per request, outbox drained "
        f"{result['outbox_drained_ms']} ms after the last); due queue over {VISITS:,} visits: "
        f"p50 {result['queue_p50_ms']} ms, p99 {result['queue_p99_ms']} ms"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    # uvloop, as the service runs: the load generator's own CPU per request is less of the
    # machine the service competes for (its figure is in client_cpu_ms_per_log).
    uvloop.run(main())
