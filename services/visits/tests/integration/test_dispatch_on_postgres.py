"""Dispatch through the consumer's handlers on real PostgreSQL: a newly due visit is routed and
its VisitAssigned goes to the outbox once, an intent-only customer's contact is kept, an
inactive agent's open visits move on the clock's tick, and a replayed routing writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest

from followup.core.crypto import PersonalDataVault, master_key_from_env
from followup.core.db import create_pool, migrate
from followup.core.policy import load_preset
from followup.core.roster import parse_roster
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import Contact, Event, IntentSigned, VisitDue, make_event
from followup.visits.handlers import VisitHandlers
from followup.visits.main import MIGRATIONS
from followup.visits.projections import customers, queue
from followup.visits.staffing import Staffing

# Monday 1 March 2027, 09:00 in Shanghai.
NOW = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)


def roster(*, am_active: bool = True) -> Staffing:
    return Staffing(
        load_preset("generic"),
        parse_roster(
            {
                "teams": {"sales": {}, "customer-service": {}},
                "agents": {
                    "AM-1": {
                        "team": "sales",
                        "department": "customer_service",
                        "active": am_active,
                    },
                    "S-1": {"team": "sales", "department": "customer_service"},
                    "S-2": {"team": "sales", "department": "customer_service"},
                },
            }
        ),
    )


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database(infra.pg_admin_dsn, prefix="visits")
    await migrate(dsn, service="visits", migrations_dir=MIGRATIONS)
    p = await create_pool(dsn, min_size=1, max_size=2)
    yield p
    await p.close()


def due(visit_id: str, customer_id: str) -> Event[VisitDue]:
    data = VisitDue(
        visit_id=visit_id,
        customer_id=customer_id,
        kinds=["routine"],
        due_at=NOW,
        deadline=datetime(2027, 3, 8, 15, 59, 59, tzinfo=UTC),
        attempt=1,
        reason="routine",
    )
    return make_event(data, id=f"due-{visit_id}", source="t", subject=customer_id, time=NOW)


async def handle(pool: asyncpg.Pool, handlers: VisitHandlers, *events: Event[VisitDue]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, NOW, "visits")
        await handlers.record_visit_facts(tx, list(events))
        await tx.flush()


async def assigned(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT value FROM outbox WHERE event_type = 'VisitAssigned' ORDER BY id"
    )
    return [
        (d["data"]["visit_id"], d["data"]["agent_id"])
        for d in (orjson.loads(r["value"]) for r in rows)
    ]


async def test_a_due_visit_goes_to_the_active_account_manager_else_the_least_loaded(
    pool: asyncpg.Pool,
) -> None:
    handlers = VisitHandlers(PersonalDataVault(master_key_from_env()), roster())
    async with pool.acquire() as conn:
        await customers.upsert_customer(conn, "C-1", "AM-1", None, NOW)
    await handle(pool, handlers, due("V-1", "C-1"), due("V-2", "C-2"), due("V-3", "C-3"))
    # V-1: its account manager. V-2 and V-3 (no manager) to sales: AM-1 has one, S-1 none.
    assert await assigned(pool) == [("V-1", "AM-1"), ("V-2", "S-1"), ("V-3", "S-2")]
    async with pool.acquire() as conn:
        assert (await queue.get_visit_row(conn, "V-3") or {})["agent_id"] == "S-2"
    # The same VisitDue again (a redelivery or a replay) decides nothing new.
    await handle(pool, handlers, due("V-3", "C-3"))
    assert len(await assigned(pool)) == 3


async def test_an_intent_only_customer_has_its_contact_and_its_region_in_visits(
    pool: asyncpg.Pool,
) -> None:
    vault = PersonalDataVault(master_key_from_env())
    handlers = VisitHandlers(vault, roster())
    intent = IntentSigned(
        customer_id="C-9",
        signed_at=NOW,
        tier="gold",
        segment="enterprise",
        region="CN",
        contact=Contact(name="Zhao Lei", phone="+86 138 0000 0009"),
    )
    event = make_event(intent, id="intent-9", source="t", subject="C-9", time=NOW)
    async with pool.acquire() as conn, conn.transaction():
        await handlers.remember_customer(Tx(conn, NOW, "visits"), event)
    async with pool.acquire() as conn:
        sealed = await customers.customer_contact(conn, "C-9")
        assert b"Zhao Lei" in (await vault.open(conn, "C-9", sealed) or b"")
        facts = await customers.customer_facts(conn, ["C-9"])
    assert facts["C-9"].tier == "gold" and facts["C-9"].region == "CN"


async def test_an_inactive_agents_open_visits_move_on_the_tick(pool: asyncpg.Pool) -> None:
    vault = PersonalDataVault(master_key_from_env())
    async with pool.acquire() as conn:
        await customers.upsert_customer(conn, "C-1", "AM-1", None, NOW)
    await handle(pool, VisitHandlers(vault, roster()), due("V-1", "C-1"))
    # The service restarts with AM-1 marked inactive: the next tick moves its visit.
    moved = VisitHandlers(vault, roster(am_active=False))
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, NOW, "visits")
        await moved.mark_missed_visits(tx, NOW)
        await tx.flush()
    assert await assigned(pool) == [("V-1", "AM-1"), ("V-1", "S-1")]
    async with pool.acquire() as conn:
        assert (await queue.get_visit_row(conn, "V-1") or {})["agent_id"] == "S-1"
