"""The read model and what is published are a function of the event sequence alone (issue 13 §3):
the same history fed in batches of 1, 7 and 2,000 gives the same tables and the same outbox ids.

Before, a first delivery and a repeat purchase days later merged into one visit only when both
came in one batch: one a batch, the first delivery's visit was already published (history)
when the repeat purchase was planned.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from followup.calendar import BusinessCalendar
from followup.core.db import create_pool, migrate
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import (
    Contact,
    CustomerDelivered,
    Event,
    IntentSigned,
    IssueResolved,
    ProjectStarted,
    make_event,
)
from followup.scheduling.handlers import SchedulingHandlers
from followup.scheduling.main import MIGRATIONS
from followup.scheduling.planning import Planner

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar.load()
CONTACT = Contact(name="n", phone="p")
NOW = datetime(2026, 3, 1, 9, tzinfo=SH)
TABLES = {
    "planned_visit": "visit_id",
    "customer": "customer_id",
    "delivery": "customer_id, order_id",
    "resolved_issue": "issue_id",
}


def _event(data: Any) -> Event[Any]:
    return make_event(data, id=str(uuid.uuid4()), source="test", subject=data.customer_id, time=NOW)


def _history(seed: int, customers: int) -> list[Event[Any]]:
    """Each customer's facts around NOW (some long past: their visits are due at once), the
    customers interleaved."""
    rng = random.Random(seed)
    per_customer: list[list[Event[Any]]] = []
    for n in range(customers):
        cid = f"C-{n}"
        days = rng.choice([rng.randrange(-400, -300), rng.randrange(-20, 10), rng.randrange(-8, 2)])
        first = NOW + timedelta(days=days, hours=rng.randrange(24))
        mine: list[Event[Any]] = []
        when = first
        for i in range(rng.choice([1, 2, 2, 3])):
            tier = rng.choice(["gold", "silver", "bronze"])
            mine.append(
                _event(
                    CustomerDelivered(
                        customer_id=cid,
                        order_id=f"O-{n}-{i}",
                        delivered_at=when,
                        product="p",
                        tier=tier,
                        segment="individual",
                        contact=CONTACT,
                    )
                )
            )
            # A repeat purchase days later (merges with the first one's visit), or months.
            when += rng.choice([timedelta(days=rng.randrange(1, 7)), timedelta(days=90)])
        if rng.random() < 0.3:
            signed = NOW + timedelta(days=rng.randrange(-60, 10))
            mine.append(
                _event(
                    IntentSigned(
                        customer_id=cid,
                        signed_at=signed,
                        tier="silver",
                        segment="enterprise",
                        contact=CONTACT,
                    )
                )
            )
            if rng.random() < 0.5:
                started = signed + timedelta(days=rng.randrange(5, 40))
                mine.append(_event(ProjectStarted(customer_id=cid, started_at=started)))
        for i in range(rng.choice([0, 0, 1, 2])):
            resolved = NOW + timedelta(days=rng.randrange(-20, 5), hours=rng.randrange(24))
            mine.append(
                _event(
                    IssueResolved(
                        issue_id=f"I-{n}-{i}",
                        customer_id=cid,
                        resolved_at=resolved,
                        resolved_by="E-1",
                        resolution="fixed",
                        resolve_by=resolved,
                        paused_seconds=0,
                    )
                )
            )
        if rng.random() < 0.3:
            rng.shuffle(mine)  # facts out of order: a repeat purchase before the first one
        per_customer.append(mine)
    events: list[Event[Any]] = []
    while any(per_customer):
        events.append(rng.choice([m for m in per_customer if m]).pop(0))
    return events


@pytest.fixture
async def pools(infra: Infra) -> AsyncIterator[list[asyncpg.Pool]]:
    out = []
    for name in ("one", "seven", "all"):
        pool = await create_pool(
            await create_database(infra.pg_admin_dsn, prefix=f"sched_{name}"),
            min_size=1,
            max_size=2,
        )
        await migrate(pool, service="scheduling", migrations_dir=MIGRATIONS)
        out.append(pool)
    yield out
    for pool in out:
        await pool.close()


async def _feed(pool: asyncpg.Pool, events: list[Event[Any]], size: int) -> list[str]:
    """The history in consumer batches of `size`; the ids of every event published."""
    handlers = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    published: list[str] = []
    for i in range(0, len(events), size):
        async with pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, NOW, "scheduling")
            await handlers.apply_customer_facts(tx, events[i : i + size])
            published += [row.event_id for row in tx.pending]
            await tx.flush()
    return published


async def _tables(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    async with pool.acquire() as conn:
        return {
            table: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY {key}")]
            for table, key in TABLES.items()
        }


async def test_the_same_history_in_batches_of_1_7_and_2000_gives_the_same_tables_and_outbox(
    pools: list[asyncpg.Pool],
) -> None:
    events = _history(seed=20261207, customers=60)
    one, seven, everything = [
        await _feed(pool, events, size) for pool, size in zip(pools, (1, 7, 2000), strict=True)
    ]
    assert len(events) > 150
    assert len(one) == len(set(one)) > 30  # visits due at once, each published once
    assert sorted(seven) == sorted(one)
    assert sorted(everything) == sorted(one)
    tables = [await _tables(pool) for pool in pools]
    assert len(tables[0]["planned_visit"]) > 100
    assert tables[1] == tables[0]
    assert tables[2] == tables[0]
    # A repeat purchase days after the first delivery merged with its visit every way (the
    # sources of one visit name both orders).
    merged = [r for r in tables[0]["planned_visit"] if len({k.split("|")[1] for k in r[12]}) > 1]
    assert len(merged) > 5
