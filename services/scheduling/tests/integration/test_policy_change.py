"""PolicyActivated on real PostgreSQL: open plans follow the policy from its effective_at on,
without a new planner; published visits stand; a new planner on the same database (a restart)
plans on the stored policy."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from followup.calendar import BusinessCalendar
from followup.core.db import create_pool, migrate
from followup.core.policy import load_preset
from followup.core.policy.activation import policy_activated
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import Contact, CustomerDelivered, Event, make_event
from followup.scheduling.handlers import SchedulingHandlers
from followup.scheduling.main import MIGRATIONS
from followup.scheduling.planning import Planner

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar.load()


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=SH)


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database(infra.pg_admin_dsn, prefix="sched_policy")
    p = await create_pool(dsn, min_size=1, max_size=2)
    await migrate(p, service="scheduling", migrations_dir=MIGRATIONS)
    yield p
    await p.close()


def delivered(customer: str, when: datetime) -> Event[Any]:
    data = CustomerDelivered(
        customer_id=customer,
        order_id="O-1",
        delivered_at=when,
        product="p",
        tier="silver",
        segment="individual",
        contact=Contact(name="n", phone="p"),
    )
    return make_event(data, id=str(uuid.uuid4()), source="test", subject=customer, time=when)


async def facts(pool: asyncpg.Pool, h: SchedulingHandlers, now: datetime, e: Event[Any]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, now, "scheduling")
        await h.apply_customer_facts(tx, [e])
        await tx.flush()


async def activate(pool: asyncpg.Pool, h: SchedulingHandlers, now: datetime, eff: datetime) -> None:
    event = policy_activated(load_preset("cable-tv"), effective_at=eff, published_at=now)
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, now, "scheduling")
        await h.apply_policy(tx, event)
        await tx.flush()


async def tick(pool: asyncpg.Pool, h: SchedulingHandlers, now: datetime) -> None:
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, now, "scheduling")
        await h.on_tick(tx, now)
        await tx.flush()


async def plan(
    pool: asyncpg.Pool, h: SchedulingHandlers, customer: str, now: datetime
) -> list[tuple[str, str]]:
    """The customer's stored visits due before 2027-04, stored that far first."""
    async with pool.acquire() as conn:
        await h.planner.store_plans_until(conn, now, at(2027, 4, 1))
        rows = await conn.fetch(
            "SELECT kinds, due_at FROM planned_visit WHERE customer_id = $1"
            " AND due_at < '2027-04-01' ORDER BY due_at",
            customer,
        )
    return [("+".join(r["kinds"]), r["due_at"].astimezone(SH).date().isoformat()) for r in rows]


HOME_CINEMA_SILVER = [
    ("first_use", "2026-03-02"),
    ("routine", "2026-04-02"),
    ("routine", "2026-06-02"),
    ("routine", "2026-09-02"),
    ("deep", "2027-03-02"),
]
# cable-tv, silver: routine at month 1 only, deep every 6 months, holiday care a week before.
CABLE_TV_SILVER_AFTER_MAY = [
    ("first_use", "2026-03-02"),
    ("routine", "2026-04-02"),
    ("deep", "2026-09-02"),
    ("holiday_care", "2026-09-18"),
    ("holiday_care", "2027-01-30"),
    ("deep", "2027-03-02"),
]


async def test_an_activation_in_force_later_re_plans_open_visits_from_then_on(
    pool: asyncpg.Pool,
) -> None:
    handlers = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    await facts(pool, handlers, at(2026, 3, 2), delivered("C-P", at(2026, 3, 2)))
    assert await plan(pool, handlers, "C-P", at(2026, 3, 2)) == HOME_CINEMA_SILVER
    # Announced on April 20 for May 1: nothing changes before.
    await activate(pool, handlers, at(2026, 4, 20), at(2026, 5, 1, 0))
    await tick(pool, handlers, at(2026, 4, 30))
    assert await plan(pool, handlers, "C-P", at(2026, 4, 30)) == HOME_CINEMA_SILVER
    await tick(pool, handlers, at(2026, 5, 1, 1))
    # first_use and the month-1 routine were published under home-cinema and stay.
    assert await plan(pool, handlers, "C-P", at(2026, 5, 1, 1)) == CABLE_TV_SILVER_AFTER_MAY
    # A restart: a new planner plans a new customer on the stored policy.
    restarted = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    await facts(pool, restarted, at(2026, 5, 4), delivered("C-Q", at(2026, 5, 4)))
    assert [k for k, _ in await plan(pool, restarted, "C-Q", at(2026, 5, 4))] == [
        "first_use",
        "routine",
        "holiday_care",
        "deep",
        "holiday_care",
    ]


async def test_the_tick_reports_next_years_calendar_provisional_from_november_1(
    pool: asyncpg.Pool,
) -> None:
    handlers = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    registry = CollectorRegistry()
    handlers.metrics.register(registry)
    assert not CAL.is_official(2027)
    reported = {"region": CAL.region}
    await tick(pool, handlers, at(2026, 10, 31, 23))
    assert registry.get_sample_value("followup_calendar_next_year_official", reported) == 1
    await tick(pool, handlers, at(2026, 11, 1, 0))
    assert registry.get_sample_value("followup_calendar_next_year_official", reported) == 0
