"""CustomerTierChanged on real PostgreSQL: the open plan follows the new tier from then on;
visits already published keep what they were."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from followup.calendar import BusinessCalendar
from followup.core.db import create_pool, migrate
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import Contact, CustomerDelivered, CustomerTierChanged, Event, make_event
from followup.scheduling.handlers import SchedulingHandlers
from followup.scheduling.main import MIGRATIONS
from followup.scheduling.planning import Planner

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar.load()


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=SH)


def event(data: Any, when: datetime) -> Event[Any]:
    return make_event(data, id=str(uuid.uuid4()), source="test", subject="C-T", time=when)


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database(infra.pg_admin_dsn, prefix="sched_tier")
    p = await create_pool(dsn, min_size=1, max_size=2)
    await migrate(p, service="scheduling", migrations_dir=MIGRATIONS)
    yield p
    await p.close()


async def apply(pool: asyncpg.Pool, h: SchedulingHandlers, now: datetime, e: Event[Any]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, now, "scheduling")
        await h.apply_customer_facts(tx, [e])
        await tx.flush()


async def visits(
    pool: asyncpg.Pool, h: SchedulingHandlers, now: datetime
) -> list[tuple[str, str, str]]:
    """The stored plan up to February 2027, stored that far first (as a reader would)."""
    async with pool.acquire() as conn:
        await h.planner.store_plans_until(conn, now, at(2027, 2, 1))
        rows = await conn.fetch(
            "SELECT kinds, due_at, status FROM planned_visit WHERE customer_id = 'C-T'"
            " AND due_at < '2027-02-01' ORDER BY due_at"
        )
    return [
        ("+".join(r["kinds"]), r["due_at"].astimezone(SH).date().isoformat(), r["status"])
        for r in rows
    ]


async def test_a_gold_customer_moved_to_silver_loses_the_open_key_visits_only(
    pool: asyncpg.Pool,
) -> None:
    handlers = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    delivered = CustomerDelivered(
        customer_id="C-T",
        order_id="O-1",
        delivered_at=at(2026, 1, 12),
        product="p",
        tier="gold",
        segment="individual",
        contact=Contact(name="n", phone="p"),
    )
    await apply(pool, handlers, at(2026, 1, 12), event(delivered, at(2026, 1, 12)))
    before = await visits(pool, handlers, at(2026, 1, 12))
    assert ("routine+key_deep", "2026-07-12", "planned") in before
    assert ("first_use", "2026-01-12", "due") in before
    changed = CustomerTierChanged(customer_id="C-T", tier="silver", changed_at=at(2026, 4, 1))
    await apply(pool, handlers, at(2026, 4, 1), event(changed, at(2026, 4, 1)))
    after = await visits(pool, handlers, at(2026, 4, 1))
    # Published before the change: as they were. Planned: the silver plan (no key_deep).
    assert after == [
        ("first_use", "2026-01-12", "due"),
        ("routine", "2026-02-12", "due"),
        ("routine", "2026-04-12", "planned"),
        ("routine", "2026-07-12", "planned"),
        ("deep", "2027-01-12", "planned"),
        ("holiday_care", "2027-01-27", "planned"),
    ]
