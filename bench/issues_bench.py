"""Issues benchmarks (issue 6 §6), written to .local/bench/issues.json:

- breach_sweep_1m_s: with 1,000,000 open issues stored (bulk-loaded with COPY in the exact shape
  the service writes: the IssueRaised / IssueAssigned / IssueSlaBreached events in `issue_event`,
  the ledger row in `issue`, the clocks still able to breach in `issue_breach_schedule`, the
  breached ones in `issue_breached`; a sample is read back and checked through the service's
  own code),
  the time the service's own sweep takes to find and record what a clock advance newly breaches:
  0.1% of the issues (1,000, as many as scheduling's due sweep makes due: minutes of deadlines);
  breach_sweep_10k_s is the catch-up case, 1% (10,000 first-response breaches). The sweep is
  the subscription's `on_tick` (BreachSweep.on_clock_tick -> record_breaches) called
  directly, as the consumer runs a clock tick: one transaction, a `followup.core.subscription.Tx`,
  flushed before commit; more ticks if one left work behind (the JSON says how many).
  Repeated, rolled back, for a range; one more, instrumented, run splits the time between
  finding and each step of recording.
- list_p99_ms: `GET /v1/issues` over HTTP against the real service process (simulated clock, so no
  sweep runs meanwhile) on the same 1,000,000 issues, warmed, sequential requests (a bare
  keep-alive HTTP client) cycling through the query shapes: no filter, status, department,
  status+department, breached, customer_id; first pages, deep cursor pages, a first page's own
  next cursor. Also the SQL alone per shape and GET /healthz (the HTTP floor); EXPLAIN ANALYZE of
  each shape (custom and generic plan) goes to .local/bench/issues_explain.txt.

BENCH_ISSUES, BENCH_NEWLY, BENCH_NEWLY_HEADLINE, BENCH_LIST_REQUESTS, BENCH_SWEEP_REPEATS scale it
down for a quick run; BENCH_KEEP_DB=1 keeps the database (dropped otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson

from followup.calendar import default_calendar, end_of_working_days
from followup.core.db import create_pool, migrate
from followup.core.http import encode_cursor
from followup.core.logging import configure_logging
from followup.core.subscription import Tx
from followup.core.testing import create_database, create_topics
from followup.events import IssueAssigned, IssueRaised, topics
from followup.events.ids import NAMESPACE
from followup.issues import sweep as issue_sweep
from followup.issues.deps import IssuesDeps
from followup.issues.domain import clocks, model, raising
from followup.issues.main import MIGRATIONS, build_deps
from followup.issues.projections import history, ledger, schedule
from followup.issues.recording import Recorder, event_id_of
from followup.issues.settings import IssuesSettings
from followup.issues.subscriptions import issues_subscription

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = os.environ.get("FOLLOWUP_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
ADMIN_DSN = os.environ.get("FOLLOWUP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:15432/postgres")
OUT = ROOT / ".local" / "bench" / "issues.json"
EXPLAIN_OUT = ROOT / ".local" / "bench" / "issues_explain.txt"
ISSUES = int(os.environ.get("BENCH_ISSUES", "1000000"))
NEWLY = int(os.environ.get("BENCH_NEWLY", str(max(1, ISSUES // 100))))
# The headline advance newly breaches as many as scheduling's due sweep makes due (~1,000): a
# few minutes of deadlines at 1M open issues. NEWLY (1%) is the catch-up stress case.
NEWLY_HEADLINE = int(os.environ.get("BENCH_NEWLY_HEADLINE", str(max(1, ISSUES // 1000))))
LIST_REQUESTS = int(os.environ.get("BENCH_LIST_REQUESTS", "3000"))
SWEEP_REPEATS = int(os.environ.get("BENCH_SWEEP_REPEATS", "3"))
TOKEN = "dev-admin"
TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)
# The clock at load time (a Tuesday morning in an ordinary week); issues raised over the 5 days
# before it, so about a quarter of them are already breached (recorded) at T0.
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=SH)
SPAN = timedelta(days=5)
CATEGORIES = ("fault", "maintenance", "technical", "complaint", "service", "other")
EVENT_COLUMNS = ["issue_id", "event_id", "type", "data"]
# The ledger and the breached list hold the listed columns, in the order the rows are built.
ISSUE_COLUMNS = [*ledger.LIST_COLUMNS, "timezone", "updated_at"]
BREACHED_COLUMNS = list(ledger.LIST_COLUMNS)
SCHEDULE_COLUMNS = [
    "issue_id",
    "clock",
    "round",
    "deadline",
    "customer_id",
    "department",
    "owner_id",
    "timezone",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- generating the stored shape ------------------------------------------------------------

_NS = NAMESPACE.bytes
NULL = "\\N"  # COPY text format


def fast_derived_id(*parts: str) -> str:
    """followup.events.derived_id for parts without control characters, without uuid objects."""
    h = bytearray(hashlib.sha1(_NS + "\x1f".join(parts).encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _data(values: dict[str, Any]) -> str:
    """An event's stored data: model_dump_json(exclude_none=True) (jsonb: order is irrelevant)."""
    return orjson.dumps({k: v for k, v in values.items() if v is not None}).decode()


@dataclass
class Loaded:
    issues: int = 0
    events: int = 0
    already_breached: int = 0
    # next_breach_at of every issue that can still breach (to place the clock advance).
    pending: list[datetime] = field(default_factory=list)
    sample_ids: list[str] = field(default_factory=list)
    copy_s: float = 0.0


def generate(loaded: Loaded, chunk: int = 20000) -> Iterator[tuple[bytes, ...]]:
    """COPY text chunks (issue_event, issue, issue_breach_schedule, issue_breached) for ISSUES
    open issues raised over SPAN before T0.

    Issue i: category i%6 (department from it), severity complex when i%5==0, source visit /
    complaint / hotline 7:2:1, customer one of ISSUES*0.35, raised at an even spread; 70% were
    assigned an hour after raising (ending handover and first response), the rest are not. Every
    clock whose deadline passed before T0 has its breach recorded (as the sweep would have), and
    every other one is in the breach schedule, with who is in charge at its deadline.
    """
    cal = default_calendar()
    managers = dict(IssuesSettings().department_managers)
    raised_type, assigned_type, breach_type = "IssueRaised", "IssueAssigned", model.Breach.__name__
    with_zone = "timezone" in IssueRaised.model_fields
    assigned_fields = list(IssueAssigned.model_fields)
    start = T0 - SPAN
    step_us = SPAN // timedelta(microseconds=1) // ISSUES
    # Per local day of raising: handover, general and complex resolution deadlines (and ISO).
    by_day: dict[date, tuple[tuple[datetime, str], ...]] = {}
    rng = random.Random(6)
    sample = set(rng.sample(range(ISSUES), min(ISSUES, 300)))
    customers = max(1, int(ISSUES * 0.35))
    ev_lines: list[str] = []
    is_lines: list[str] = []
    sc_lines: list[str] = []
    br_lines: list[str] = []
    hour, day_ = timedelta(hours=1), timedelta(hours=24)
    for i in range(ISSUES):
        raised_at = start + timedelta(microseconds=i * step_us)
        day = raised_at.date()
        if day not in by_day:
            ends = [end_of_working_days(raised_at, n, TZ, cal).at for n in (1, 3, 7)]
            by_day[day] = tuple((d, d.isoformat()) for d in ends)
        handover, general, complex_ = by_day[day]
        category = CATEGORIES[i % 6]
        department = raising.DEPARTMENT_BY_CATEGORY[category]
        severity = "complex" if i % 5 == 0 else "general"
        resolve = complex_ if severity == "complex" else general
        respond_at = raised_at + day_
        respond = (respond_at, respond_at.isoformat())
        kind = (i // 10) % 10
        source = "visit" if kind < 7 else "complaint" if kind < 9 else "hotline"
        if source == "visit":
            issue_id = fast_derived_id("issue", f"P-{i}")
            visit_id: str | None = f"V-{i}"
        else:
            issue_id = fast_derived_id("complaint", f"bench-{i}")
            visit_id = None
        customer_id = f"C-{(i * 7919) % customers:07d}"
        raised_iso = raised_at.isoformat()
        raised = {
            "issue_id": issue_id,
            "customer_id": customer_id,
            "source": source,
            "visit_id": visit_id,
            "category": category,
            "severity": severity,
            "description": f"bench problem {i}",
            "raised_at": raised_iso,
            "department": department,
            "handover_by": handover[1],
            "respond_by": respond[1],
            "resolve_by": resolve[1],
        }
        if with_zone:
            raised["timezone"] = TZ
        # Event ids as recording.event_id_of names them (checked on the sample).
        events = [(raised_type, fast_derived_id(raised_type, issue_id), _data(raised))]
        assigned_at = raised_at + hour
        owner_id: str | None = None
        updated = raised_iso
        if i % 10 >= 3 and assigned_at <= T0:
            owner_id = f"A-{i % 700:03d}"
            updated = assigned_at.isoformat()
            assigned = dict(
                zip(
                    assigned_fields,
                    (issue_id, customer_id, owner_id, department, updated),
                    strict=True,
                )
            )
            # Not named by what it is about: by its whole JSON (every field set here).
            data = _data(assigned)
            events.append((assigned_type, fast_derived_id(assigned_type, data), data))
            clocks = [("resolution", resolve)]
        else:
            clocks = sorted(
                [("handover", handover), ("first_response", respond), ("resolution", resolve)],
                key=lambda c: c[1][0],
            )
        breached = False
        next_breach: tuple[datetime, str] | None = None
        for clock, (deadline, deadline_iso) in clocks:
            if deadline < T0:
                breached = True
                updated = deadline_iso
                breach = {
                    "issue_id": issue_id,
                    "customer_id": customer_id,
                    "clock": clock,
                    "deadline": deadline_iso,
                    "department": department,
                    "owner_id": owner_id,
                    "escalate_to": managers.get(department),
                    "round": 1,
                }
                events.append(
                    (breach_type, fast_derived_id(breach_type, issue_id, clock), _data(breach))
                )
            else:
                # Round 1, in charge at the deadline: the owner assigned an hour after raising.
                sc_lines.append(
                    f"{issue_id}\t{clock}\t1\t{deadline_iso}\t{customer_id}\t{department}\t"
                    f"{owner_id or NULL}\t{TZ}\n"
                )
                if next_breach is None or deadline < next_breach[0]:
                    next_breach = (deadline, deadline_iso)
        for type_, event_id, data in events:
            ev_lines.append(f"{issue_id}\t{event_id}\t{type_}\t{data}\n")
        is_lines.append(
            f"{issue_id}\t{customer_id}\t{'assigned' if owner_id else 'raised'}\tf\t"
            f"{department}\t{owner_id or NULL}\t{category}\t{severity}\t{source}\t"
            f"{raised_iso}\t{TZ}\t{updated}\n"
        )
        if breached:
            status = "assigned" if owner_id else "raised"
            br_lines.append(
                f"{issue_id}\t{customer_id}\t{status}\tf\t{department}\t{owner_id or NULL}\t"
                f"{category}\t{severity}\t{source}\t{raised_iso}\n"
            )
        loaded.issues += 1
        loaded.events += len(events)
        loaded.already_breached += breached
        if next_breach is not None:
            loaded.pending.append(next_breach[0])
        if i in sample:
            loaded.sample_ids.append(issue_id)
        if len(is_lines) >= chunk or i == ISSUES - 1:
            chunks = ["".join(lines) for lines in (ev_lines, is_lines, sc_lines, br_lines)]
            # Text COPY: no escapes needed as long as nothing holds a backslash.
            assert "\\" not in chunks[0]
            yield tuple(c.encode() for c in chunks)
            for lines in (ev_lines, is_lines, sc_lines, br_lines):
                lines.clear()


LOADED_TABLES = ["issue", "issue_event", "issue_breach_schedule", "issue_breached"]
_INDEXES = """SELECT indexname, indexdef FROM pg_indexes
              WHERE schemaname = current_schema() AND tablename = ANY($1::text[])
              ORDER BY indexname"""


async def drop_indexes(conn: asyncpg.Connection) -> dict[str, list[str]]:
    """Drops the loaded tables' indexes and key constraints; returns, per table, the DDL that
    recreates them as the migrations made them (building an index once is far cheaper than
    inserting a million random keys into it)."""
    ddl: dict[str, list[str]] = {t: [] for t in LOADED_TABLES}
    keys = await conn.fetch(
        """SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def,
                  conindid::regclass::text AS idx
           FROM pg_constraint
           WHERE conrelid = ANY($1::text[]::regclass[]) AND contype IN ('p', 'u')""",
        LOADED_TABLES,
    )
    by_key = {r["idx"] for r in keys}
    for r in keys:
        ddl[r["tbl"]].append(f"ALTER TABLE {r['tbl']} ADD CONSTRAINT {r['conname']} {r['def']}")
        await conn.execute(f"ALTER TABLE {r['tbl']} DROP CONSTRAINT {r['conname']}")
    for r in await conn.fetch(
        """SELECT tablename, indexname, indexdef FROM pg_indexes
           WHERE schemaname = current_schema() AND tablename = ANY($1::text[])""",
        LOADED_TABLES,
    ):
        assert r["indexname"] not in by_key
        ddl[r["tablename"]].append(r["indexdef"])
        await conn.execute(f"DROP INDEX {r['indexname']}")
    return ddl


async def load(dsn: str) -> Loaded:
    """COPY into both tables at once, streamed as generated, with their indexes built after."""
    loaded = Loaded()
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        schema = await conn.fetch(_INDEXES, LOADED_TABLES)
        ddl = await drop_indexes(conn)
    finally:
        await conn.close()
    queues: list[asyncio.Queue[bytes | None]] = [asyncio.Queue(maxsize=4) for _ in range(4)]

    async def drain(q: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
        while (chunk := await q.get()) is not None:
            yield chunk

    async def copy(table: str, columns: list[str], q: asyncio.Queue[bytes | None]) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.copy_to_table(table, source=drain(q), columns=columns, format="text")
        finally:
            await conn.close()

    tasks = [
        asyncio.create_task(copy("issue_event", EVENT_COLUMNS, queues[0])),
        asyncio.create_task(copy("issue", ISSUE_COLUMNS, queues[1])),
        asyncio.create_task(copy("issue_breach_schedule", SCHEDULE_COLUMNS, queues[2])),
        asyncio.create_task(copy("issue_breached", BREACHED_COLUMNS, queues[3])),
    ]
    for chunks in generate(loaded):
        for q, chunk in zip(queues, chunks, strict=True):
            await q.put(chunk)
        if any(t.done() for t in tasks):
            break
    for q in queues:
        await q.put(None)
    await asyncio.gather(*tasks)
    loaded.copy_s = time.perf_counter() - started

    async def build(table: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET maintenance_work_mem = '256MB'")
            for statement in ddl[table]:
                await conn.execute(statement)
            # As autovacuum would leave it: statistics and the visibility map.
            await conn.execute(f"VACUUM ANALYZE {table}")
        finally:
            await conn.close()

    await asyncio.gather(*(build(t) for t in LOADED_TABLES))
    conn = await asyncpg.connect(dsn)
    try:
        rebuilt = await conn.fetch(_INDEXES, LOADED_TABLES)
    finally:
        await conn.close()
    assert [tuple(r) for r in rebuilt] == [tuple(r) for r in schema], (rebuilt, schema)
    return loaded


async def check_shape(pool: asyncpg.Pool, loaded: Loaded, deps: IssuesDeps) -> None:
    """The loaded sample, read back through the service's own code, is what it would have stored:
    the same event ids and data, the same ledger row and breach schedule, nothing left to breach
    at T0."""
    cal = deps.calendar
    async with pool.acquire() as conn:
        for issue_id in loaded.sample_ids:
            row = await conn.fetchrow("SELECT * FROM issue WHERE issue_id = $1", issue_id)
            issue = await history.load_issue(conn, issue_id)
            assert row is not None and issue is not None, issue_id
            for ev in await conn.fetch(
                "SELECT event_id, type, data FROM issue_event WHERE issue_id = $1 ORDER BY seq",
                issue_id,
            ):
                event = history.decode_event(ev["type"], ev["data"])
                assert event_id_of(event) == ev["event_id"], ev
                type_, data = history.encode_event(event)
                stored = ev["data"] if isinstance(ev["data"], dict) else orjson.loads(ev["data"])
                assert (type_, orjson.loads(data)) == (ev["type"], stored), ev
            raised = issue.raised
            want = raising.sla_deadlines(raised.raised_at, raised.severity, issue.timezone, cal)
            assert (raised.handover_by, raised.respond_by, raised.resolve_by) == (
                want.handover_by,
                want.respond_by,
                want.resolve_by,
            ), issue_id
            assert raised.department == raising.department_for(raised.category)
            assert not clocks.detect_breaches(issue, T0, cal=cal, managers=deps.sweep.managers)
            scheduled = await schedule.scheduled_clocks(conn, [issue_id])
            want = clocks.breach_schedule(issue, T0, cal)
            assert sorted(scheduled, key=lambda c: clocks.CLOCK_ORDER[c.clock]) == want, issue_id
            listed = await conn.fetchrow(
                f"SELECT {', '.join(ledger.LIST_COLUMNS)} FROM issue_breached WHERE issue_id = $1",
                issue_id,
            )
            if listed is not None:
                assert dict(listed) == {c: row[c] for c in ledger.LIST_COLUMNS}, issue_id
            assert (row["status"], listed is not None, row["paused"]) == (
                issue.status.value,
                issue.breached,
                issue.is_paused,
            ), issue_id
            assert (row["department"], row["owner_id"]) == (issue.department, issue.owner_id)


# --- the breach sweep -----------------------------------------------------------------------


class _Rollback(Exception):
    pass


@dataclass
class Split:
    """Wall time and calls per step of the sweep (instrumented run)."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def wrap(self, owner: Any, name: str, label: str) -> Any:
        original = getattr(owner, name)
        split = self

        if asyncio.iscoroutinefunction(original):

            async def timed_async(*a: Any, **kw: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await original(*a, **kw)
                finally:
                    split.add(label, time.perf_counter() - t0)

            setattr(owner, name, timed_async)
        else:

            def timed(*a: Any, **kw: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return original(*a, **kw)
                finally:
                    split.add(label, time.perf_counter() - t0)

            setattr(owner, name, timed)
        return original

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds
        self.calls[label] = self.calls.get(label, 0) + 1


class _LogProxy:
    """Stands in for the handlers' logger in the instrumented run, to time its lines."""

    def __init__(self, log: Any) -> None:
        self._log = log

    def error(self, *a: Any, **kw: Any) -> Any:
        return self._log.error(*a, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


async def sweep_once(
    pool: asyncpg.Pool, tick: Any, now: datetime, *, commit: bool
) -> tuple[list[float], int]:
    """Ticks at `now` until nothing is past its breach time; (each tick's seconds, breaches)."""
    ticks: list[float] = []
    recorded = 0
    async with pool.acquire() as conn:
        # Events stored, from the ledger's sequence (a count(*) would take longer than a tick).
        seq = await conn.fetchval("SELECT pg_get_serial_sequence('issue_event', 'seq')")
        events_seq = f"SELECT last_value FROM {seq}"
        before = await conn.fetchval(events_seq)
        try:
            async with conn.transaction():
                for _ in range(50):
                    # As EventConsumer runs a tick: its own transaction (a savepoint here, so the
                    # rolled-back repeats leave the data as loaded), a Tx, flushed before commit.
                    t0 = time.perf_counter()
                    async with conn.transaction():
                        tx = Tx(conn, now, "issues")
                        await tick(tx, now)
                        await tx.flush()
                    ticks.append(time.perf_counter() - t0)
                    if not await schedule.issues_past_breach_time(conn, now, 1):
                        break
                recorded = await conn.fetchval(events_seq) - before
                if not commit:
                    raise _Rollback
        except _Rollback:
            pass
    return ticks, recorded


# What the instrumented run times: (module, function, label); absent names are skipped.
STEPS = [
    (schedule, "issues_past_breach_time", "find"),
    (schedule, "read_scheduled_clocks", "read the schedule (lock, read rows)"),
    (clocks, "breaches_due", "breaches_due (decide from the rows)"),
    (issue_sweep, "event_id_of", "event ids"),
    (issue_sweep, "outbox_row", "outbox rows (encode)"),
    # Slices overlap: the next is named and encoded while this one is stored.
    (schedule, "begin_record_breaches", "record (events, schedule, rows, outbox: 1 statement)"),
    # None of these should run any more (the sweep neither reads nor folds histories): listed so
    # the split would show it if they did.
    (history, "load_issues", "load (read events, decode, fold)"),
    (history, "load_issue", "load one (read events, decode, fold)"),
    (model, "fold", "  fold"),
    (clocks, "sweep_issue", "sweep_issue (fold-based rule)"),
    (ledger, "save_issue_rows", "save rows and schedules"),
    (issue_sweep, "make_event", "make_event (to publish)"),
    (Recorder, "event", "make_event (to publish)"),
    (Tx, "publish", "Tx.publish (outbox row)"),
    (Tx, "flush", "Tx.flush (outbox insert)"),
    (_LogProxy, "error", "escalation log line"),
]


async def bench_sweep(pool: asyncpg.Pool, tick: Any, t1: datetime) -> dict[str, Any]:
    runs: list[tuple[list[float], int]] = []
    for _ in range(SWEEP_REPEATS):
        runs.append(await sweep_once(pool, tick, t1, commit=False))
        print(
            f"  sweep: {sum(runs[-1][0]):.2f} s in {len(runs[-1][0])} tick(s) "
            f"({', '.join(f'{t:.2f}' for t in runs[-1][0])}), {runs[-1][1]:,} events stored"
        )
    # Finding alone: the sweep's query, as a tick first runs it.
    async with pool.acquire() as conn:
        finds = []
        for _ in range(5):
            t0 = time.perf_counter()
            found = await schedule.issues_past_breach_time(conn, t1)
            finds.append(time.perf_counter() - t0)
    # Instrumented: where the time goes.
    split = Split()
    originals = [
        (owner, name, split.wrap(owner, name, label))
        for owner, name, label in STEPS
        if hasattr(owner, name)
    ]
    real_log = getattr(issue_sweep, "log", None)
    if real_log is not None:
        issue_sweep.log = _LogProxy(real_log)  # type: ignore[assignment]
    try:
        ticks, _ = await sweep_once(pool, tick, t1, commit=False)
        instrumented = sum(ticks)
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)
        if real_log is not None:
            issue_sweep.log = real_log
    final_ticks, final_recorded = await sweep_once(pool, tick, t1, commit=True)
    totals = [sum(t) for t, _ in runs] + [sum(final_ticks)]
    return {
        "totals": totals,
        "first_ticks": [t[0] for t, _ in runs],
        "ticks": len(runs[0][0]),
        "find_s": finds,
        "find_rows": len(found),
        "split": split,
        "instrumented_s": instrumented,
        "instrumented_ticks": len(ticks),
        "final": (final_ticks, final_recorded),
    }


# --- the list API ---------------------------------------------------------------------------


class _Capture:
    """A stand-in connection that records the SQL and arguments list_issues sends."""

    def __init__(self) -> None:
        self.sql = ""
        self.args: tuple[Any, ...] = ()

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.sql, self.args = sql, args
        return []


async def list_sql(params: dict[str, Any], after: tuple[datetime, str] | None) -> _Capture:
    cap = _Capture()
    await ledger.list_issues(
        cap,  # type: ignore[arg-type]
        status=params.get("status"),
        department=params.get("department"),
        breached={"true": True, "false": False}.get(params.get("breached", "")),
        customer_id=params.get("customer_id"),
        after=after,
        limit=101,
    )
    return cap


async def explain_shapes(
    dsn: str, shapes: list[tuple[str, dict[str, Any], tuple[datetime, str] | None]]
) -> list[str]:
    """EXPLAIN ANALYZE of each shape, with the plan PostgreSQL picks for these values (custom)
    and the one a prepared statement falls back to after five runs (generic)."""
    report: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        for name, params, after in shapes:
            cap = await list_sql(params, after)
            for mode in ("force_custom_plan", "force_generic_plan"):
                await conn.execute(f"SET plan_cache_mode = {mode}")
                rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + cap.sql, *cap.args)
                plan = [r[0] for r in rows]
                top = next((p.strip() for p in plan if "Scan" in p), plan[0].strip())
                took = plan[-1].strip()
                report.append(f"== {name} [{mode}] {params} after={after}\n" + "\n".join(plan))
                print(f"  explain {name:<28} {mode[6:]:<13} {took:<28} {top[:90]}")
        await conn.execute("RESET plan_cache_mode")
    finally:
        await conn.close()
    return report


async def db_latency(
    dsn: str, shapes: list[tuple[str, dict[str, Any], tuple[datetime, str] | None]]
) -> dict[str, list[float]]:
    """The list query alone, as the service sends it (a pooled connection, prepared statement),
    from this process: what of the HTTP figure is the database."""
    pool = await create_pool(dsn, min_size=1, max_size=1)
    times: dict[str, list[float]] = {}
    try:
        async with pool.acquire() as conn:
            for name, params, after in shapes:
                cap = await list_sql(params, after)
                for n in range(110):
                    t0 = time.perf_counter()
                    await conn.fetch(cap.sql, *cap.args)
                    if n >= 10:
                        times.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
    finally:
        await pool.close()
    return times


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
        "FOLLOWUP_CONSUMER_GROUP_SUFFIX": f"-bench-{uuid.uuid4().hex[:8]}",
        # Time moves only on ClockAdvanced: no sweep runs while the list is measured.
        "FOLLOWUP_CLOCK": "simulated",
        "FOLLOWUP_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "followup.issues.main",
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
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.25)
    proc.kill()
    raise SystemExit("issues service did not become ready")


class RawHttp:
    """A bare HTTP/1.1 keep-alive client: httpx costs ~2.5 ms of Python per request on this
    machine, which would be measured as the service's."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def get(self, path: str, params: dict[str, Any]) -> tuple[int, bytes]:
        target = path + ("?" + urlencode(params) if params else "")
        self.writer.write(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {TOKEN}\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(head.split(b" ", 2)[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def bench_list(
    dsn: str, customers: list[str]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    deep = (T0 - SPAN / 2, "8")  # a cursor half-way down the ledger
    shapes: list[tuple[str, dict[str, Any], tuple[datetime, str] | None]] = [
        ("all", {}, None),
        ("all, deep cursor", {}, deep),
        ("status=raised", {"status": "raised"}, None),
        ("status=assigned, deep cursor", {"status": "assigned"}, deep),
        ("department=technical", {"department": "technical"}, None),
        ("status+department", {"status": "raised", "department": "after_sales"}, None),
        ("breached=true", {"breached": "true"}, None),
        ("breached=true, deep cursor", {"breached": "true"}, deep),
        ("breached=false+department", {"breached": "false", "department": "technical"}, None),
        ("customer_id", {"customer_id": customers[0]}, None),
        ("status=closed (none)", {"status": "closed"}, None),
    ]
    report = await explain_shapes(dsn, shapes)
    EXPLAIN_OUT.write_text("\n\n".join(report) + "\n")
    db = await db_latency(dsn, shapes)
    for name, values in db.items():
        print(
            f"  SQL only {name:<30} p50 {statistics.median(values):6.2f} ms  "
            f"p99 {percentile(values, 99):7.2f} ms"
        )
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await create_topics(BOOTSTRAP, [prefix + t for t in topics.ALL_TOPICS])
    proc, url = await start_service(dsn, prefix)
    by_shape: dict[str, list[float]] = {}
    client = RawHttp(int(url.rsplit(":", 1)[1]))
    await client.open()
    try:

        async def get(name: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
            t0 = time.perf_counter()
            status, body = await client.get(path, params)
            by_shape.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
            assert status == 200, body
            page: dict[str, Any] = orjson.loads(body)
            return page

        requests: list[tuple[str, dict[str, Any]]] = []
        for n in range(LIST_REQUESTS):
            name, params, after = shapes[n % len(shapes)]
            params = dict(params)
            if "customer_id" in params:
                params["customer_id"] = customers[n % len(customers)]
            if after is not None:
                params["cursor"] = encode_cursor([after[0].isoformat(), after[1]])
            requests.append((name, params))
        # Warm: every shape a few times.
        for name, params in requests[: 10 * len(shapes)]:
            await get(name, "/v1/issues", params)
        by_shape.clear()
        for n, (name, params) in enumerate(requests):
            page = await get(name, "/v1/issues", params)
            # A first page's own cursor followed, as a client pages on.
            if n % len(shapes) == 0 and page["next_cursor"]:
                await get("all, next page", "/v1/issues", {"cursor": page["next_cursor"]})
        # The floor: the same client and server on the least an endpoint can do.
        for _ in range(300):
            await get("(floor: /healthz)", "/healthz", {})
    finally:
        client.close()
        proc.terminate()
        await proc.wait()
    return by_shape, db


# --- main -----------------------------------------------------------------------------------


async def main() -> None:
    dsn = await create_database(ADMIN_DSN, prefix="bench_issues")
    try:
        await run(dsn)
    finally:
        if os.environ.get("BENCH_KEEP_DB") != "1":
            name = dsn.rsplit("/", 1)[-1].split("?")[0]
            conn = await asyncpg.connect(ADMIN_DSN)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()


async def run(dsn: str) -> None:
    await migrate(dsn, service="issues", migrations_dir=MIGRATIONS)
    deps = build_deps(IssuesSettings())
    # The tick handler the service's consumer runs on each clock advance.
    tick = issues_subscription(deps).on_tick
    assert tick is not None
    started = time.perf_counter()
    loaded = await load(dsn)
    load_s = time.perf_counter() - started
    print(
        f"loaded {loaded.issues:,} open issues ({loaded.events:,} events, "
        f"{loaded.already_breached:,} already breached) with COPY in {load_s:.0f} s "
        f"(generate + COPY {loaded.copy_s:.0f} s, then indexes and VACUUM ANALYZE)"
    )
    pending = sorted(loaded.pending)
    # The clock advance: just past the NEWLY-th earliest deadline still able to breach.
    t1 = pending[min(NEWLY, len(pending)) - 1] + timedelta(microseconds=1)
    expected = sum(1 for p in pending if p < t1)
    # The service's pool (its jsonb codecs), as projections expect.
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await check_shape(pool, loaded, deps)
        print(f"shape checked on {len(loaded.sample_ids)} issues through the service's own code")
        print(
            f"breach sweep: clock {T0.isoformat()} -> {t1.isoformat()} "
            f"({(t1 - T0).total_seconds() / 3600:.1f} h), {expected:,} issues newly past a deadline"
        )
        # The service ticked at T0 already (and so remembered its calendar years): nothing to do.
        _, recorded_t0 = await sweep_once(pool, tick, T0, commit=True)
        assert recorded_t0 == 0, f"{recorded_t0} breaches left unrecorded at T0"
        t_headline = pending[min(NEWLY_HEADLINE, len(pending)) - 1] + timedelta(microseconds=1)
        headline = []
        for _ in range(SWEEP_REPEATS):
            ticks, _ = await sweep_once(pool, tick, t_headline, commit=False)
            headline.append(sum(ticks))
        print(
            f"  headline sweep: {NEWLY_HEADLINE:,} newly breached in "
            f"{', '.join(f'{t:.3f}' for t in headline)} s"
        )
        sweep = await bench_sweep(pool, tick, t1)
        async with pool.acquire() as conn:
            newly_breached = (
                await conn.fetchval("SELECT count(*) FROM issue_breached") - loaded.already_breached
            )
            left = await schedule.issues_past_breach_time(conn, t1, 10)
            customers = [
                r["customer_id"]
                for r in await conn.fetch(
                    "SELECT customer_id FROM issue TABLESAMPLE SYSTEM (1) LIMIT 200"
                )
            ]
        assert not left, left
    finally:
        await pool.close()
    split: Split = sweep["split"]
    find_s = split.seconds.get("find", 0.0)
    record_s = sweep["instrumented_s"] - find_s
    print(
        f"sweep split (instrumented run, {sweep['instrumented_s']:.2f} s in "
        f"{sweep['instrumented_ticks']} tick(s)): finding {find_s:.3f} s, recording "
        f"{record_s:.2f} s, of which:"
    )
    for label in dict.fromkeys(label for _, _, label in STEPS):
        if label in split.seconds:
            print(f"    {label:<40} {split.seconds[label]:6.2f} s {split.calls[label]:>8,} calls")

    by_shape, db = await bench_list(dsn, customers or ["C-0000001"])
    floor = by_shape.pop("(floor: /healthz)")
    every = [v for vs in by_shape.values() for v in vs]
    print(
        f"  GET /healthz (the HTTP floor)                p50 {statistics.median(floor):6.2f} ms  "
        f"p99 {percentile(floor, 99):7.2f} ms"
    )
    for name, values in by_shape.items():
        print(
            f"  GET /v1/issues {name:<30} p50 {statistics.median(values):6.2f} ms  "
            f"p99 {percentile(values, 99):7.2f} ms  ({len(values)} requests)"
        )
    totals = sweep["totals"]
    result = {
        "breach_sweep_1m_s": round(statistics.median(headline), 3),
        "breach_sweep_newly_breached": NEWLY_HEADLINE,
        "breach_sweep_headline_runs_s": [round(t, 3) for t in headline],
        "breach_sweep_10k_s": round(statistics.median(totals), 3),
        "breach_sweep_runs_s": [round(t, 3) for t in totals],
        "breach_sweep_method": "the subscription's on_tick (IssueHandlers.on_clock_tick -> "
        "record_breaches) called directly with a Tx in one transaction per tick, as the consumer "
        "runs a tick; ticks repeated until nothing is past its breach time",
        "breach_sweep_ms_per_breach": round(statistics.median(totals) * 1000 / max(1, expected), 3),
        "breach_sweep_ticks": sweep["ticks"],
        "breach_sweep_first_tick_s": round(statistics.median(sweep["first_ticks"]), 3),
        "breach_find_s": round(statistics.median(sweep["find_s"]), 4),
        "breach_find_rows_per_tick": sweep["find_rows"],
        "breach_record_s": round(record_s, 3),
        "breach_split_s": {k.strip(): round(v, 3) for k, v in split.seconds.items()},
        "breach_split_calls": {k.strip(): v for k, v in split.calls.items()},
        "list_p99_ms": round(percentile(every, 99), 2),
        "list_p50_ms": round(statistics.median(every), 2),
        "list_requests": len(every),
        "list_by_shape": {
            name: {
                "p50_ms": round(statistics.median(v), 2),
                "p99_ms": round(percentile(v, 99), 2),
                "requests": len(v),
            }
            for name, v in by_shape.items()
        },
        "healthz_p50_ms": round(statistics.median(floor), 2),
        "healthz_p99_ms": round(percentile(floor, 99), 2),
        "list_client": "bare HTTP/1.1 keep-alive client, sequential requests, default page "
        "size (100)",
        "list_sql_only_by_shape": {
            name: {
                "p50_ms": round(statistics.median(v), 2),
                "p99_ms": round(percentile(v, 99), 2),
            }
            for name, v in db.items()
        },
        "issues_stored": loaded.issues,
        "events_stored": loaded.events,
        "already_breached": loaded.already_breached,
        "newly_past_deadline": expected,
        "newly_breached": newly_breached,
        "breaches_recorded": sweep["final"][1],
        "load_s": round(load_s, 1),
        "load_generate_copy_s": round(loaded.copy_s, 1),
    }
    print(
        f"breach sweep over {loaded.issues:,} open issues: {result['breach_sweep_1m_s']} s to "
        f"record {NEWLY_HEADLINE:,} newly breached; catch-up: {result['breach_sweep_10k_s']} s "
        f"(runs {', '.join(f'{t:.2f}' for t in totals)}) to record {newly_breached:,} newly "
        f"breached in {sweep['ticks']} tick(s); list over {loaded.issues:,} issues: "
        f"p50 {result['list_p50_ms']} ms, p99 {result['list_p99_ms']} ms ({len(every)} requests)"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT} (plans in {EXPLAIN_OUT.name})")


def service_logging_to_nowhere() -> None:
    """The service's log configuration (the sweep logs one escalation line per breach, rendered
    as in the service), writing to /dev/null; the HTTP client's request lines off."""
    real_stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    try:
        configure_logging("issues", "INFO")
    finally:
        sys.stdout = real_stdout
    logging.getLogger("httpx").setLevel(logging.WARNING)


if __name__ == "__main__":
    service_logging_to_nowhere()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
