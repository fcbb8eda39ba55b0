"""KPIs from PostgreSQL equal the pure fold. Random histories (tier changes, retries, moved
deadlines, spot checks, reassignments, pauses, breaches, reopens, follow-up visits) are stored
through the service's batch handler in a shuffled order, with redeliveries; then for months,
longer and shorter periods and every grouping, the KPIs, the monthly report and the churn list
computed from the facts the period's SQL picks equal those of the fold of every event. The hand-
worked March answers over HTTP from the database with the figures worked out by hand."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from analytics_builders import CST, at
from analytics_histories import random_history
from analytics_march import APRIL_10, MARCH_EVENTS
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from followup.analytics import api, projections
from followup.analytics.domain import views
from followup.analytics.domain.model import Facts, fold
from followup.analytics.domain.period import Period
from followup.analytics.handlers import AnalyticsHandlers
from followup.analytics.metrics import AnalyticsMetrics
from followup.analytics.queries import Analytics
from followup.analytics.settings import AnalyticsSettings
from followup.core.auth import TokenTable, bearer_auth
from followup.core.db import create_pool, migrate
from followup.core.problems import install_problem_handlers
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import EventData, make_event

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
GROUPINGS = ("all", "month", "tier", "agent", "department", "category", "region")
AS_OF = at(4, 20)
PERIODS = [
    Period(at(3, 1, 0), at(4, 1, 0)),  # March
    Period(at(2, 1, 0), at(5, 1, 0)),  # the quarter
    Period(at(3, 10, 0), at(3, 17, 0)),  # a week
    Period(at(3, 15, 13, 30), at(3, 15, 13, 30)),  # empty
    Period(at(1, 1, 0, year=2027), at(2, 1, 0, year=2027)),  # nothing happened yet
]


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database(infra.pg_admin_dsn, prefix="analytics_fold")
    await migrate(dsn, service="analytics", migrations_dir=MIGRATIONS)
    p = await create_pool(dsn, min_size=1, max_size=2)
    yield p
    await p.close()


async def store(pool: asyncpg.Pool, history: list[tuple[str, EventData]], seed: int) -> int:
    """Through the consumer's batch handler, shuffled in batches, some events twice."""
    rng = random.Random(seed)
    deliveries = history + rng.sample(history, len(history) // 10)
    rng.shuffle(deliveries)
    registry = CollectorRegistry()
    metrics = AnalyticsMetrics()
    metrics.register(registry)
    handlers = AnalyticsHandlers(metrics)
    for i in range(0, len(deliveries), 97):
        batch = [
            make_event(data, id=eid, source="test", subject=data.customer_id, time=AS_OF)
            for eid, data in deliveries[i : i + 97]
        ]
        async with pool.acquire() as conn, conn.transaction():
            await handlers.record_facts(Tx(conn, AS_OF, "analytics"), batch)
    return int(registry.get_sample_value("followup_analytics_facts_stored_total") or 0)


def everything(facts: Facts, period: Period) -> tuple[Any, ...]:
    return (
        *(views.kpis(facts, period, AS_OF, g) for g in GROUPINGS),  # type: ignore[arg-type]
        views.monthly_report(facts, "m", period, AS_OF),
        views.at_risk_items(facts, period, AS_OF),
    )


@pytest.mark.parametrize("seed", [11, 12])
async def test_kpis_from_the_database_equal_the_fold_of_every_event(
    pool: asyncpg.Pool, seed: int
) -> None:
    history = random_history(seed, customers=25, visits=200, issues=100)
    written = await store(pool, history, seed)
    expected = fold(e for _, e in history)
    # ProjectStarted stores nothing; every other event one row, once.
    assert written == sum(1 for _, e in history if type(e).__name__ != "ProjectStarted")
    async with pool.acquire() as conn:
        assert await projections.load_all_facts(conn) == expected
    churned = 0
    for period in PERIODS:
        async with pool.acquire() as conn:
            picked = await projections.load_facts(conn, period, churn=True)
        assert len(picked.visits) <= len(expected.visits)
        assert everything(picked, period) == everything(expected, period), period
        churned += len(views.at_risk_items(expected, period, AS_OF))
        async with pool.acquire() as conn:
            without_churn = await projections.load_facts(conn, period, churn=False)
        for g in GROUPINGS:
            assert views.kpis(without_churn, period, AS_OF, g) == views.kpis(  # type: ignore[arg-type]
                expected,
                period,
                AS_OF,
                g,  # type: ignore[arg-type]
            )
    assert churned > 0  # the histories do put customers at risk
    # A week picks fewer visits than there are: the SQL narrows, it does not load everything.
    async with pool.acquire() as conn:
        week = await projections.load_facts(conn, PERIODS[2])
    assert 0 < len(week.visits) < len(expected.visits)


async def test_the_hand_worked_month_over_http_from_the_database(pool: asyncpg.Pool) -> None:
    history = [(f"march-{i}", e) for i, e in enumerate(MARCH_EVENTS)]
    await store(pool, history, 0)
    app = FastAPI()
    install_problem_handlers(app)
    svc = Analytics(AnalyticsSettings(), AnalyticsMetrics())
    auth = bearer_auth(TokenTable.from_env({"FOLLOWUP_DEV_TOKEN": "t"}))
    for router in api.routers(auth, svc):
        app.include_router(router)
    app.state.clock = SimpleNamespace(now=lambda: APRIL_10)
    app.state.pool = pool
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://analytics",
        headers={"Authorization": "Bearer t"},
    ) as client:
        kpis = (await client.get("/v1/kpis?from=2026-03-01&to=2026-03-31")).json()
        report = (await client.get("/v1/reports/monthly/2026-03")).json()
    [group] = kpis["groups"]
    satisfaction = group["satisfaction_rate"]
    assert (satisfaction["numerator"], satisfaction["denominator"]) == (2, 3)
    assert satisfaction["met"] is False
    assert group["visit_on_time_rate"]["numerator"] == 2
    assert group["visit_on_time_rate"]["denominator"] == 4
    assert group["visit_response_time"] == {"count": 3, "p50_hours": 24.0, "p90_hours": 216.0}
    assert [r["customer_id"] for r in report["customers_at_risk"]] == ["C-2"]
    march = Period(datetime(2026, 3, 1, tzinfo=CST), datetime(2026, 4, 1, tzinfo=CST))
    assert kpis == views.kpis(fold(MARCH_EVENTS), march, APRIL_10, "all")
    assert march.end - march.start == timedelta(days=31)
