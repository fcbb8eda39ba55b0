"""No dead ends on real PostgreSQL (SPEC §10): a rescheduled visit leaves the queue and the
clock's tick puts it back at its time (then misses it at its unchanged deadline); a declined
and a thrice-unreachable visit end in states the queue can be filtered by.

The visit: due Monday 1 February 2027 09:00 in Shanghai, by Monday 8 February 23:59:59.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from followup.core.crypto import PersonalDataVault, master_key_from_env
from followup.core.db import create_pool, migrate
from followup.core.rejections import Rejection
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import VisitDue, make_event
from followup.visits.domain.log_visit import LogVisit
from followup.visits.handlers import VisitHandlers, log_visit
from followup.visits.main import MIGRATIONS
from followup.visits.projections import queue
from followup.visits.store import PostgresCommandStore

DUE_AT = datetime(2027, 2, 1, 1, 0, tzinfo=UTC)
DEADLINE = datetime(2027, 2, 8, 15, 59, 59, tzinfo=UTC)
TUESDAY = datetime(2027, 2, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
HANDLERS = VisitHandlers(PersonalDataVault(master_key_from_env()))


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database(infra.pg_admin_dsn, prefix="visits")
    await migrate(dsn, service="visits", migrations_dir=MIGRATIONS)
    p = await create_pool(dsn, min_size=1, max_size=2)
    yield p
    await p.close()


async def queued(pool: asyncpg.Pool, visit_id: str) -> None:
    data = VisitDue(
        visit_id=visit_id,
        customer_id=f"C-{visit_id}",
        kinds=["routine"],
        due_at=DUE_AT,
        deadline=DEADLINE,
        attempt=1,
        agent_id="A-1",
        reason="routine",
    )
    event = make_event(data, id=f"due-{visit_id}", source="t", subject="C", time=DUE_AT)
    async with pool.acquire() as conn, conn.transaction():
        await HANDLERS.add_visit_to_due_queue(Tx(conn, DUE_AT, "visits"), event)


async def logged(pool: asyncpg.Pool, visit_id: str, at: datetime, **body: Any) -> None:
    command = LogVisit.model_validate({"channel": "phone", **body})
    async with pool.acquire() as conn:
        answer = await log_visit(PostgresCommandStore(conn), visit_id, command, "A-1", at, None)
    assert not isinstance(answer, Rejection), answer


async def tick(pool: asyncpg.Pool, now: datetime) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await HANDLERS.mark_missed_visits(Tx(conn, now, "visits"), now)


async def row(pool: asyncpg.Pool, visit_id: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        found = await queue.get_visit_row(conn, visit_id)
    assert found is not None
    return found


async def listed(pool: asyncpg.Pool, status: str) -> list[str]:
    async with pool.acquire() as conn:
        rows = await queue.list_visits(
            conn, status=status, agent_id=None, customer_id=None, after=None, limit=10
        )
    return [r["visit_id"] for r in rows]


async def test_a_rescheduled_visit_is_back_at_its_time_and_missed_at_its_own_deadline(
    pool: asyncpg.Pool,
) -> None:
    await queued(pool, "V-1")
    # The customer asks to be called on Tuesday 9 February, after the deadline.
    put_off_to = DEADLINE + timedelta(hours=18)
    await logged(pool, "V-1", TUESDAY, outcome="rescheduled", rescheduled_to=put_off_to.isoformat())
    assert (await row(pool, "V-1"))["status"] == "rescheduled"
    assert (await row(pool, "V-1"))["rescheduled_to"] == put_off_to
    assert await listed(pool, "due") == []

    await tick(pool, DEADLINE + timedelta(hours=1))  # out of the queue: not missed yet
    assert (await row(pool, "V-1"))["status"] == "rescheduled"

    await tick(pool, put_off_to + timedelta(minutes=5))
    back = await row(pool, "V-1")
    assert (back["status"], back["deadline"], back["rescheduled_to"]) == ("missed", DEADLINE, None)
    types = await pool.fetch("SELECT type FROM visit_event WHERE visit_id = 'V-1' ORDER BY seq")
    assert [r["type"] for r in types] == [
        "VisitDue",
        "VisitLogged",
        "VisitBackInQueue",
        "VisitMissed",
    ]


async def test_a_rescheduled_visit_whose_time_comes_before_its_deadline_is_due_again(
    pool: asyncpg.Pool,
) -> None:
    await queued(pool, "V-2")
    friday = TUESDAY + timedelta(days=3)
    await logged(pool, "V-2", TUESDAY, outcome="rescheduled", rescheduled_to=friday.isoformat())

    await tick(pool, friday)
    await tick(pool, friday + timedelta(hours=1))  # a second tick finds nothing more to do

    assert (await row(pool, "V-2"))["status"] == "due"
    assert await listed(pool, "due") == ["V-2"]
    assert await pool.fetchval("SELECT count(*) FROM visit_event WHERE type = 'VisitBackInQueue'")


async def test_declined_and_thrice_unreachable_visits_end_and_are_listed_by_their_state(
    pool: asyncpg.Pool,
) -> None:
    await queued(pool, "V-3")
    await queued(pool, "V-4")
    await logged(pool, "V-3", TUESDAY, outcome="declined")
    for hours in (0, 24, 48):
        await logged(pool, "V-4", TUESDAY + timedelta(hours=hours), outcome="unreachable")
    await tick(pool, DEADLINE + timedelta(days=1))  # ended visits are never missed

    assert await listed(pool, "declined") == ["V-3"]
    assert await listed(pool, "unreachable") == ["V-4"]
    assert await listed(pool, "missed") == []
