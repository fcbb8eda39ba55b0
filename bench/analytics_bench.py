"""Analytics benchmarks, written to .local/bench/analytics.json:

- store_events_per_s: the consumer's batch handler (AnalyticsHandlers.record_facts, one
  transaction per batch of 1,000 events, as the consumer commits a batch) storing the facts of
  BENCH_VISITS visits (default 100,000) and BENCH_ISSUES issues (50,000) spread over 24 months
  (2025-2026) for 20,000 customers: deliveries, VisitDue / VisitLogged (retries, checks, moved
  deadlines), IssueRaised / Assigned / Resolved / Closed / SlaBreached and follow-up visits;
  with the Python CPU per event.
- query_ms: the answers the API gives (projections.load_period in one snapshot, then the views'
  fold) for a month, a quarter and a year, `kpis` without grouping and by agent, the monthly
  report and the 90-day churn list: wall ms, Python CPU ms and PostgreSQL CPU ms (every backend
  of the cluster, from /proc), median of BENCH_REPEATS (3) runs, with the facts loaded;
  kpis_*_kept_quiet / _busy: the same question asked again, answered by the kept answer
  (cache.py) when no fact was stored since / when facts were stored, none of them in the period.

The API adds only the HTTP round trip and JSON encoding to query_ms. BENCH_KEEP_DB=1 keeps the
database.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from followup.analytics import projections
from followup.analytics.domain import views
from followup.analytics.domain.period import Period
from followup.analytics.handlers import AnalyticsHandlers
from followup.analytics.metrics import AnalyticsMetrics
from followup.core.consumer import Tx
from followup.core.db import create_pool, migrate
from followup.core.logging import configure_logging
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
VISITS = int(os.environ.get("BENCH_VISITS", "100000"))
ISSUES = int(os.environ.get("BENCH_ISSUES", "50000"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "20000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
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


def history(rng: random.Random) -> list[EventData]:
    """The events, unvalidated (model_construct): the rows only read their attributes."""
    out: list[EventData] = []
    for n in range(CUSTOMERS):
        out.append(
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
        out.append(_due(vid, cid, due_at, agent, 1, ["routine"], None))
        t = due_at + timedelta(hours=rng.randint(1, 200))
        if rng.random() < 0.2:
            out.append(_log(vid, cid, t, agent, "unreachable", None))
            t += timedelta(days=1)
            out.append(_due(vid, cid, t, agent, 2, ["retry"], None))
        if rng.random() < 0.85:
            out.append(_log(vid, cid, t, agent, "completed", rng.choice([2, 3, 4, 5, 5, 5])))
            if rng.random() < 0.05:
                out.append(
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
        out.append(
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
        out.append(
            IssueAssigned.model_construct(
                issue_id=iid, customer_id=cid, assignee_id=owner, department=dep, assigned_at=t
            )
        )
        if rng.random() < 0.9:
            t += timedelta(hours=rng.randint(2, 120))
            if t > resolve_by:
                out.append(
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
            out.append(
                IssueResolved.model_construct(
                    issue_id=iid,
                    customer_id=cid,
                    resolved_at=t,
                    resolve_by=resolve_by,
                    paused_seconds=0,
                )
            )
            follow = f"V-F-{n}"
            out.append(_due(follow, cid, t, owner, 1, ["issue_follow_up"], iid))
            if rng.random() < 0.8:
                done = t + timedelta(hours=rng.randint(1, 30))
                out.append(_log(follow, cid, done, owner, "completed", 5))
                out.append(
                    IssueClosed.model_construct(
                        issue_id=iid, customer_id=cid, closed_at=done, confirmed_by_visit_id=follow
                    )
                )
    return out


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


def postgres_cpu_s(postmaster: int) -> float:
    """CPU seconds (user + system) of the postmaster and its children (backends, workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(pid) == postmaster or int(stat[1]) == postmaster:
            total += (int(stat[11]) + int(stat[12])) / ticks
    return total


async def measure(
    postmaster: int, fn: Callable[[], Awaitable[Any]]
) -> tuple[dict[str, float], Any]:
    runs = []
    answer = None
    for _ in range(REPEATS):
        wall, cpu, pg = time.perf_counter(), time.process_time(), postgres_cpu_s(postmaster)
        answer = await fn()
        runs.append(
            (
                (time.perf_counter() - wall) * 1000,
                (time.process_time() - cpu) * 1000,
                (postgres_cpu_s(postmaster) - pg) * 1000,
            )
        )
    return {
        "wall_ms": round(statistics.median(r[0] for r in runs), 1),
        "python_cpu_ms": round(statistics.median(r[1] for r in runs), 1),
        "postgres_cpu_ms": round(statistics.median(r[2] for r in runs), 1),
    }, answer


async def main() -> None:
    configure_logging("bench", "WARNING")
    admin_dsn = os.environ.get(
        "FOLLOWUP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:25432/postgres"
    )
    dsn = await create_database(admin_dsn, prefix="bench_analytics")
    await migrate(dsn, service="analytics", migrations_dir=MIGRATIONS)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        data_dir = await conn.fetchval("SHOW data_directory")
    # The cluster's postmaster (first line of its pid file): this cluster's processes only.
    postmaster = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
    result: dict[str, Any] = {"load_average": os.getloadavg()}
    try:
        events = history(random.Random(7))
        handlers = AnalyticsHandlers(AnalyticsMetrics())
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(events), 1000):
            batch = [_Envelope(f"e-{i + j}", e) for j, e in enumerate(events[i : i + 1000])]
            async with pool.acquire() as conn, conn.transaction():
                tx = Tx(conn, AS_OF, "analytics")
                await handlers.record_facts(tx, batch)  # type: ignore[arg-type]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        result["events"] = len(events)
        result["store_events_per_s"] = round(len(events) / wall)
        result["store_python_cpu_us_per_event"] = round(cpu / len(events) * 1e6, 1)
        async with pool.acquire() as conn:
            await conn.execute("VACUUM ANALYZE")
        # As the service runs (followup.core.consumer._tune_gc): what exists is frozen, young
        # collections every 50,000 allocations; the generated events are gone.
        del events, batch
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, *gc.get_threshold()[1:])
        periods = {
            "month": Period(datetime(2026, 3, 1, tzinfo=SH), datetime(2026, 4, 1, tzinfo=SH)),
            "quarter": Period(datetime(2026, 1, 1, tzinfo=SH), datetime(2026, 4, 1, tzinfo=SH)),
            "year": Period(datetime(2026, 1, 1, tzinfo=SH), datetime(2027, 1, 1, tzinfo=SH)),
        }
        queries: dict[str, Any] = {}
        for name, period in periods.items():
            for grouping in ("all", "agent"):

                async def kpis(p: Period = period, g: str = grouping) -> Any:
                    facts = (await projections.load_period(pool, p)).facts
                    assert facts is not None
                    return len(facts.visits), views.kpis(facts, p, AS_OF, g)  # type: ignore[arg-type]

                figures, (loaded, body) = await measure(postmaster, kpis)
                queries[f"kpis_{name}_{grouping}"] = {**figures, "visits_loaded": loaded}
                if grouping == "all":
                    queries[f"kpis_{name}_{grouping}"]["satisfaction"] = body["groups"][0][
                        "satisfaction_rate"
                    ]["value"]
            print(name, queries[f"kpis_{name}_all"], file=sys.stderr)

        async def report() -> Any:
            p = periods["month"]
            facts = (await projections.load_period(pool, p, churn=True)).facts
            assert facts is not None
            return views.monthly_report(facts, "2026-03", p, AS_OF)

        queries["monthly_report"], _ = await measure(postmaster, report)
        # An answer asked again (cache.py): with no fact stored since, one row is read
        # (kept_quiet); with facts stored elsewhere meanwhile, what the period involves and how
        # many facts it holds (kept_busy).
        for name, period in periods.items():
            first = await projections.load_period(pool, period)
            for case, stored in (("quiet", first.stored), ("busy", "elsewhere")):

                async def kept(
                    p: Period = period, held: tuple[str, str] = (stored, first.version)
                ) -> Any:
                    snapshot = await projections.load_period(pool, p, unless=held)
                    assert snapshot.facts is None
                    return None

                queries[f"kpis_{name}_kept_{case}"], _ = await measure(postmaster, kept)

        async def at_risk() -> Any:
            p = Period(AS_OF - timedelta(days=90), AS_OF)
            facts = (await projections.load_period(pool, p, churn=True)).facts
            assert facts is not None
            return views.at_risk_items(facts, p, AS_OF)

        queries["at_risk_90_days"], items = await measure(postmaster, at_risk)
        queries["at_risk_90_days"]["customers"] = len(items)
        result["query"] = queries
        result["load_average_after"] = os.getloadavg()
    finally:
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
