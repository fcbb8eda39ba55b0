"""Analytics benchmarks, written to .local/bench/analytics.json (issue 18's keys):

- ingest_eps: the consumer's batch handler (AnalyticsHandlers.record_facts: the facts and the
  incremental aggregates, one transaction per batch of 1,000 events, as the consumer commits a
  batch) storing BENCH_VISITS visits (default 1,000,000) and BENCH_ISSUES issues (300,000)
  spread over 24 months (2025-2026) for BENCH_CUSTOMERS customers (visits / 5): deliveries,
  VisitDue / VisitLogged (retries, checks), IssueRaised / Assigned / Resolved / Closed /
  SlaBreached and follow-up visits; with the Python CPU per event.
- kpis_p99_ms: `answer_kpis` (the API's use case, from the aggregates) for a month, a quarter
  and a year, every grouping, BENCH_REPEATS (5) times each, while a background task ingests
  BENCH_LIVE_EPS (1,000) events/s through the same handler; p99 (nearest rank) per period,
  with the median beside it. report_ms and at_risk_ms: the monthly report and the 90-day
  churn list, median (and p99) under the same load.
- fold_ms: the same KPIs (no grouping) folded fresh from the facts the period involves
  (projections.load_facts, then the views' fold): the oracle's cost, for the ratio; once per
  period (BENCH_FOLD=0 skips it).

The API adds only the HTTP round trip and JSON encoding. BENCH_KEEP_DB=1 keeps the database.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import math
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from followup.analytics import projections, queries
from followup.analytics.domain import views
from followup.analytics.domain.period import Period
from followup.analytics.handlers import AnalyticsHandlers
from followup.analytics.metrics import AnalyticsMetrics
from followup.analytics.queries import Analytics
from followup.analytics.settings import AnalyticsSettings
from followup.core.db import create_pool, migrate
from followup.core.logging import configure_logging
from followup.core.maintenance import StatisticsKeeper
from followup.core.subscription import Tx
from followup.core.testing import create_database
from followup.events import (
    CustomerDelivered,
    EventData,
    IssueAssigned,
    IssueClosed,
    IssueRaised,
    IssueResolved,
    IssueSlaBreached,
    VisitDue,
    VisitLogged,
    VisitSpotChecked,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".local" / "bench" / "analytics.json"
MIGRATIONS = ROOT / "services" / "analytics" / "migrations"
SH = ZoneInfo("Asia/Shanghai")
VISITS = int(os.environ.get("BENCH_VISITS", "1000000"))
ISSUES = int(os.environ.get("BENCH_ISSUES", "300000"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", str(max(1, VISITS // 5))))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
LIVE_EPS = int(os.environ.get("BENCH_LIVE_EPS", "1000"))
FOLD = os.environ.get("BENCH_FOLD", "1") != "0"
GROUPINGS = ("all", "month", "tier", "agent", "department", "category", "region")
START = datetime(2025, 1, 1, tzinfo=SH)
SPAN_H = 24 * 730
AGENTS = [f"A-{n}" for n in range(40)]
CATEGORIES = ["fault", "maintenance", "technical", "complaint", "service", "other"]
DEPARTMENT = {
    "fault": "after_sales",
    "maintenance": "after_sales",
    "technical": "technical",
    "complaint": "customer_service",
    "service": "customer_service",
    "other": "customer_service",
}
AS_OF = datetime(2027, 1, 5, tzinfo=SH)


def history(rng: random.Random) -> Iterator[EventData]:
    """The events, unvalidated (model_construct): the rows only read their attributes."""
    for n in range(CUSTOMERS):
        yield (
            CustomerDelivered.model_construct(
                customer_id=f"C-{n}",
                delivered_at=START - timedelta(days=rng.randint(0, 700)),
                tier=rng.choice(["gold", "silver", "bronze"]),
                region=rng.choice(["east", "west", "north", "south"]),
                timezone=None,
            )
        )
    for n in range(VISITS):
        cid, agent, vid = f"C-{rng.randrange(CUSTOMERS)}", rng.choice(AGENTS), f"V-{n}"
        due_at = START + timedelta(hours=rng.randrange(SPAN_H))
        yield (_due(vid, cid, due_at, agent, 1, ["routine"], None))
        t = due_at + timedelta(hours=rng.randint(1, 200))
        if rng.random() < 0.2:
            yield (_log(vid, cid, t, agent, "unreachable", None))
            t += timedelta(days=1)
            yield (_due(vid, cid, t, agent, 2, ["retry"], None))
        if rng.random() < 0.85:
            yield (_log(vid, cid, t, agent, "completed", rng.choice([2, 3, 4, 5, 5, 5])))
            if rng.random() < 0.05:
                yield (
                    VisitSpotChecked.model_construct(
                        visit_id=vid,
                        customer_id=cid,
                        agent_id=agent,
                        checked_at=t + timedelta(days=3),
                        result=rng.choice(["verified", "verified", "not_verified"]),
                    )
                )
    for n in range(ISSUES):
        cid, iid, category = f"C-{rng.randrange(CUSTOMERS)}", f"I-{n}", rng.choice(CATEGORIES)
        dep, owner = DEPARTMENT[category], rng.choice(AGENTS)
        raised_at = START + timedelta(hours=rng.randrange(SPAN_H))
        resolve_by = raised_at + timedelta(days=3)
        yield (
            IssueRaised.model_construct(
                issue_id=iid,
                customer_id=cid,
                source="visit",
                category=category,
                severity="general",
                raised_at=raised_at,
                department=dep,
                handover_by=raised_at + timedelta(days=1),
                respond_by=raised_at + timedelta(hours=24),
                resolve_by=resolve_by,
                timezone=None,
            )
        )
        t = raised_at + timedelta(hours=rng.randint(1, 30))
        yield (
            IssueAssigned.model_construct(
                issue_id=iid, customer_id=cid, assignee_id=owner, department=dep, assigned_at=t
            )
        )
        if rng.random() < 0.9:
            t += timedelta(hours=rng.randint(2, 120))
            if t > resolve_by:
                yield (
                    IssueSlaBreached.model_construct(
                        issue_id=iid,
                        customer_id=cid,
                        clock="resolution",
                        deadline=resolve_by,
                        department=dep,
                        owner_id=owner,
                        round=1,
                    )
                )
            yield (
                IssueResolved.model_construct(
                    issue_id=iid,
                    customer_id=cid,
                    resolved_at=t,
                    resolve_by=resolve_by,
                    paused_seconds=0,
                )
            )
            follow = f"V-F-{n}"
            yield (_due(follow, cid, t, owner, 1, ["issue_follow_up"], iid))
            if rng.random() < 0.8:
                done = t + timedelta(hours=rng.randint(1, 30))
                yield (_log(follow, cid, done, owner, "completed", 5))
                yield (
                    IssueClosed.model_construct(
                        issue_id=iid, customer_id=cid, closed_at=done, confirmed_by_visit_id=follow
                    )
                )


def _due(
    vid: str, cid: str, at: datetime, agent: str, attempt: int, kinds: list[str], iid: str | None
) -> VisitDue:
    return VisitDue.model_construct(
        visit_id=vid,
        customer_id=cid,
        kinds=kinds,
        due_at=at,
        deadline=at + timedelta(days=7),
        attempt=attempt,
        agent_id=agent,
        issue_id=iid,
    )


def _log(
    vid: str, cid: str, at: datetime, agent: str, outcome: str, score: int | None
) -> VisitLogged:
    return VisitLogged.model_construct(
        visit_id=vid,
        customer_id=cid,
        agent_id=agent,
        outcome=outcome,
        logged_at=at,
        satisfaction=score,
    )


class _Envelope:
    """What the batch handler reads of an event: its id and data."""

    __slots__ = ("data", "id")

    def __init__(self, id_: str, data: EventData) -> None:
        self.id, self.data = id_, data


def _nearest(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(p * len(ordered) / 100)) - 1], 1)


async def timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    answer = await fn()
    return (time.perf_counter() - started) * 1000, answer


async def ingest(pool: asyncpg.Pool, events: Iterator[EventData], prefix: str) -> int:
    """Stores the events in batches of 1,000 through the handler; returns how many."""
    handlers = AnalyticsHandlers(AnalyticsMetrics())
    n = 0
    while batch := [
        _Envelope(f"{prefix}{n + j}", e) for j, e in enumerate(itertools.islice(events, 1000))
    ]:
        async with pool.acquire() as conn, conn.transaction():
            await handlers.record_facts(Tx(conn, AS_OF, "analytics"), batch)  # type: ignore[arg-type]
        n += len(batch)
    return n


async def live_load(pool: asyncpg.Pool, stop: asyncio.Event, done: list[int]) -> None:
    """BENCH_LIVE_EPS events/s of new visits (due, then logged) in December 2026."""
    rng = random.Random(99)
    handlers = AnalyticsHandlers(AnalyticsMetrics())
    n, started = 0, time.perf_counter()
    while not stop.is_set():
        batch = []
        for _ in range(max(1, LIVE_EPS // 20) // 2):
            vid, cid = f"V-L-{n}", f"C-{rng.randrange(CUSTOMERS)}"
            due_at = datetime(2026, 12, 1, tzinfo=SH) + timedelta(hours=rng.randrange(24 * 30))
            batch += [
                _Envelope(
                    f"live-{n}-d", _due(vid, cid, due_at, rng.choice(AGENTS), 1, ["routine"], None)
                ),
                _Envelope(
                    f"live-{n}-l",
                    _log(vid, cid, due_at + timedelta(hours=5), rng.choice(AGENTS), "completed", 5),
                ),
            ]
            n += 1
        async with pool.acquire() as conn, conn.transaction():
            await handlers.record_facts(Tx(conn, AS_OF, "analytics"), batch)  # type: ignore[arg-type]
        done[0] += len(batch)
        # Paced to the rate: sleep until this batch's share of the second has passed.
        await asyncio.sleep(max(0.0, started + done[0] / LIVE_EPS - time.perf_counter()))


async def main() -> None:
    configure_logging("bench", "WARNING")
    admin_dsn = os.environ.get(
        "FOLLOWUP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:25432/postgres"
    )
    dsn = await create_database(admin_dsn, prefix="bench_analytics")
    await migrate(dsn, service="analytics", migrations_dir=MIGRATIONS)
    pool = await create_pool(dsn, min_size=2, max_size=4)
    keeper = StatisticsKeeper(pool, projections.GROWING_TABLES)
    await keeper.start()
    result: dict[str, Any] = {
        "visits": VISITS,
        "issues": ISSUES,
        "customers": CUSTOMERS,
        "load_average": os.getloadavg(),
    }
    svc = Analytics(AnalyticsSettings(), AnalyticsMetrics())
    # As the service runs (followup.core.consumer's GC tuning): what exists is frozen, young
    # collections scaled to the batch.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, *gc.get_threshold()[1:])
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        events = await ingest(pool, history(random.Random(7)), "e-")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        result["events"] = events
        result["ingest_eps"] = round(events / wall)
        result["ingest_python_cpu_us_per_event"] = round(cpu / events * 1e6, 1)
        print("ingested", events, "events at", result["ingest_eps"], "/s", file=sys.stderr)
        await keeper.stop()
        async with pool.acquire() as conn:
            await conn.execute("VACUUM ANALYZE")
        gc.collect()
        gc.freeze()
        periods = {
            "month": Period(datetime(2026, 3, 1, tzinfo=SH), datetime(2026, 4, 1, tzinfo=SH)),
            "quarter": Period(datetime(2026, 1, 1, tzinfo=SH), datetime(2026, 4, 1, tzinfo=SH)),
            "year": Period(datetime(2026, 1, 1, tzinfo=SH), datetime(2027, 1, 1, tzinfo=SH)),
        }
        stop, live = asyncio.Event(), [0]
        loader = asyncio.create_task(live_load(pool, stop, live))
        live_started = time.perf_counter()
        p99: dict[str, float] = {}
        median: dict[str, float] = {}
        for name, period in periods.items():
            samples = []
            for _ in range(REPEATS):
                for grouping in GROUPINGS:
                    ms, _ = await timed(
                        partial(queries.answer_kpis, svc, pool, period, AS_OF, grouping)
                    )
                    samples.append(ms)
            p99[name], median[name] = _nearest(samples, 99), _nearest(samples, 50)
            print(name, "p99", p99[name], "median", median[name], file=sys.stderr)
        result["kpis_p99_ms"] = p99
        result["kpis_median_ms"] = median
        reports = [
            (await timed(partial(queries.answer_monthly_report, svc, pool, 2026, 3, AS_OF)))[0]
            for _ in range(REPEATS)
        ]
        ninety = Period(AS_OF - timedelta(days=90), AS_OF)
        risks = []
        for _ in range(REPEATS):
            ms, page = await timed(
                partial(queries.answer_customers_at_risk, svc, pool, ninety, AS_OF, limit=500)
            )
            risks.append(ms)
        result["report_ms"] = _nearest(reports, 50)
        result["report_p99_ms"] = _nearest(reports, 99)
        result["at_risk_ms"] = _nearest(risks, 50)
        result["at_risk_p99_ms"] = _nearest(risks, 99)
        result["at_risk_customers_first_page"] = len(page.items)
        stop.set()
        await loader
        result["live_eps_during_queries"] = round(live[0] / (time.perf_counter() - live_started))
        if FOLD:
            fold_ms: dict[str, float] = {}
            for name, period in periods.items():

                async def folded(p: Period = period) -> Any:
                    async with pool.acquire() as conn:
                        facts = await projections.load_facts(conn, p)
                    return views.kpis(facts, p, AS_OF, "all")

                fold_ms[name] = round((await timed(folded))[0], 1)
                print(name, "fold", fold_ms[name], file=sys.stderr)
            result["fold_ms"] = fold_ms
        result["load_average_after"] = os.getloadavg()
    finally:
        await keeper.stop()
        await pool.close()
        if not os.environ.get("BENCH_KEEP_DB"):
            conn = await asyncpg.connect(admin_dsn)
            name = dsn.rsplit("/", 1)[-1]
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
