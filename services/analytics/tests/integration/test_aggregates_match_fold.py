"""The incremental aggregates answer what the pure fold answers, exactly.

Random histories (tier changes, retries, moved deadlines, spot checks, reassignments, pauses,
breaches, reopens, follow-up visits) are stored through the consumer's batch handler in a
shuffled order with redeliveries; then for periods from a day to a year (and odd instants),
every grouping and several `as_of` (after everything, and exactly at instants of the facts,
where entities are still unsettled), the KPIs, the monthly report and the churn list read from
the aggregates equal those of the fold of every event. A second arrival order rebuilds the
very same aggregate rows (as a replay does)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from analytics_builders import CST, at, due, logged
from analytics_histories import random_history

from followup.analytics import queries
from followup.analytics.domain import views
from followup.analytics.domain.model import Facts, fold
from followup.analytics.domain.period import Period
from followup.analytics.handlers import AnalyticsHandlers
from followup.analytics.metrics import AnalyticsMetrics
from followup.analytics.queries import Analytics
from followup.analytics.settings import AnalyticsSettings
from followup.core.db import create_pool, migrate
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import EventData, make_event

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
GROUPINGS = ("all", "month", "tier", "agent", "department", "category", "region")
AFTER_ALL = at(4, 20)
PERIODS = [
    Period(at(3, 10, 0), at(3, 11, 0)),  # a day
    Period(at(3, 10, 0), at(3, 17, 0)),  # a week
    Period(at(3, 1, 0), at(4, 1, 0)),  # March
    Period(at(2, 1, 0), at(5, 1, 0)),  # a quarter
    Period(at(1, 1, 0), at(1, 1, 0, year=2027)),  # the year
    Period(at(2, 10, 0), at(4, 20, 0)),  # whole months between whole days
    Period(at(3, 15, 13, 30), at(3, 19, 17, 45)),  # odd instants
    Period(at(3, 15, 13, 30), at(3, 15, 13, 30)),  # empty
]


async def _pool(infra: Infra) -> asyncpg.Pool:
    dsn = await create_database(infra.pg_admin_dsn, prefix="analytics_agg")
    await migrate(dsn, service="analytics", migrations_dir=MIGRATIONS)
    return await create_pool(dsn, min_size=1, max_size=2)


@pytest.fixture
async def pools(infra: Infra) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    a, b = await _pool(infra), await _pool(infra)
    yield a, b
    await a.close()
    await b.close()


async def store(
    pool: asyncpg.Pool, history: list[tuple[str, EventData]], seed: int, size: int
) -> None:
    """Through the consumer's batch handler, shuffled in batches, some events twice."""
    rng = random.Random(seed)
    deliveries = history + rng.sample(history, len(history) // 8)
    rng.shuffle(deliveries)
    handlers = AnalyticsHandlers(AnalyticsMetrics())
    for i in range(0, len(deliveries), size):
        batch = [
            make_event(data, id=eid, source="test", subject=data.customer_id, time=AFTER_ALL)
            for eid, data in deliveries[i : i + size]
        ]
        async with pool.acquire() as conn, conn.transaction():
            await handlers.record_facts(Tx(conn, AFTER_ALL, "analytics"), batch)


def same_hour_responses(seed: int) -> list[tuple[str, EventData]]:
    """Visits answered within the same hour of their due time: nearest ranks fall inside one
    hour's durations, not only on its first."""
    rng = random.Random(seed)
    out: list[tuple[str, EventData]] = []
    for n in range(40):
        vid, cid = f"V-H-{n}", f"C-{rng.randrange(25):03d}"
        due_at = at(3, rng.choice([11, 12, 13]), 9)
        agent = rng.choice(["A-1", "A-2"])
        out.append((f"h-due-{n}", due(vid, due_at, due_at + timedelta(days=7), cid, agent)))
        when = due_at + timedelta(hours=2, minutes=rng.randrange(60), seconds=rng.randrange(60))
        out.append((f"h-log-{n}", logged(vid, when, cid, agent)))
    return out


def instants_of(facts: Facts) -> list[datetime]:
    """Some instants the rules compare `as_of` with: logs, checks, deadlines, assignments."""
    out: list[datetime] = []
    for v in facts.visits.values():
        out += [log.logged_at for log in v.logs] + [d.deadline for d in v.dues]
        out += [c.checked_at for c in v.checks]
    for i in facts.issues.values():
        out += [a.assigned_at for a in i.assignments] + [b.deadline for b in i.breaches]
        out += [*i.closes, *(r.resolved_at for r in i.resolutions)]
    return sorted(out)


async def answers(svc: Analytics, pool: asyncpg.Pool, period: Period, as_of: datetime) -> Any:
    kpis = [await queries.answer_kpis(svc, pool, period, as_of, g) for g in GROUPINGS]  # type: ignore[arg-type]
    page = await queries.answer_customers_at_risk(svc, pool, period, as_of, limit=10_000)
    return kpis, page.items


def folded(facts: Facts, period: Period, as_of: datetime) -> Any:
    kpis = [views.kpis(facts, period, as_of, g) for g in GROUPINGS]  # type: ignore[arg-type]
    return kpis, views.at_risk_items(facts, period, as_of)


@pytest.mark.parametrize("seed", [21, 22, 23])
async def test_the_aggregates_answer_what_the_fold_answers_in_any_arrival_order(
    pools: tuple[asyncpg.Pool, asyncpg.Pool], seed: int
) -> None:
    pool, other = pools
    history = random_history(seed, customers=25, visits=200, issues=100)
    history += same_hour_responses(seed)
    await store(pool, history, seed, 97)
    expected = fold(e for _, e in history)
    svc = Analytics(AnalyticsSettings(), AnalyticsMetrics())
    rng = random.Random(seed)
    moments = instants_of(expected)
    unsettled_seen = 0
    for as_of in [AFTER_ALL, *rng.sample(moments, 3), moments[0] - timedelta(days=1)]:
        async with pool.acquire() as conn:
            unsettled_seen += await conn.fetchval(
                "SELECT count(*) FROM kpi_entity WHERE settled_at > $1", as_of
            )
        for period in PERIODS:
            assert await answers(svc, pool, period, as_of) == folded(expected, period, as_of), (
                period,
                as_of,
            )
        for month in (2, 3, 4):
            report = await queries.answer_monthly_report(svc, pool, 2026, month, as_of)
            march = Period(
                datetime(2026, month, 1, tzinfo=CST), datetime(2026, month + 1, 1, tzinfo=CST)
            )
            label = f"2026-{month:02d}"
            assert report == views.monthly_report(expected, label, march, as_of), (month, as_of)
    assert unsettled_seen > 0  # the earlier as_of did take the unsettled path
    # Another arrival order, other batches: the same aggregate rows, as a replay rebuilds them.
    await store(other, list(reversed(history)), seed + 100, 41)
    for table, order in (
        ("kpi_item", "entity, entity_id, kpi, at, detail, hit, duration_us, k_agent"),
        ("kpi_entity", "entity, entity_id"),
        ("churn_signal", "customer_id, at, rule, evidence"),
    ):
        sql = f"SELECT * FROM {table} ORDER BY {order}"
        async with pool.acquire() as a, other.acquire() as b:
            assert [tuple(r) for r in await a.fetch(sql)] == [tuple(r) for r in await b.fetch(sql)]
