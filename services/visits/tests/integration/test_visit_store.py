"""The visit store on real PostgreSQL: events kept as JSON objects, the queue row equal to the
fold of the stored events, one log winning a race, concurrent keyed replays, the commands'
locks, and the queue query served by its index whatever filters it gets. The use cases' rules
on this store and in memory: tests/test_command_stores.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from followup.core.commands import KEY_REUSED
from followup.core.crypto import PersonalDataVault, master_key_from_env
from followup.core.db import create_pool, migrate
from followup.core.rejections import Rejection
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import Event, VisitDue, make_event
from followup.visits.domain.log_visit import LogVisit
from followup.visits.domain.model import VisitStatus
from followup.visits.domain.views import CommandAccepted
from followup.visits.handlers import VisitHandlers, log_visit
from followup.visits.main import MIGRATIONS
from followup.visits.projections import commands, queue, spot_checks, visit_events
from followup.visits.store import PostgresCommandStore

NOW = datetime(2026, 6, 3, 6, 30, tzinfo=UTC)


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database(infra.pg_admin_dsn, prefix="visits")
    await migrate(dsn, service="visits", migrations_dir=MIGRATIONS)
    p = await create_pool(dsn, min_size=1, max_size=4)
    yield p
    await p.close()


@pytest.fixture
def handlers() -> VisitHandlers:
    return VisitHandlers(PersonalDataVault(master_key_from_env()))


def due(visit_id: str, *, agent: str | None = "A-1", attempt: int = 1) -> Event[VisitDue]:
    data = VisitDue.model_validate_json(
        orjson.dumps(
            {
                "visit_id": visit_id,
                "customer_id": f"C-{visit_id}",
                "kinds": ["first_use"],
                "due_at": "2026-06-01T09:00:00+08:00",
                "deadline": "2026-06-08T23:59:59+08:00",
                "attempt": attempt,
                "agent_id": agent,
                "reason": "first use",
            }
        )
    )
    return make_event(data, id=f"due-{visit_id}-{attempt}", source="t", subject="C", time=NOW)


async def enqueue(pool: asyncpg.Pool, handlers: VisitHandlers, *events: Event[VisitDue]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            await handlers.add_visit_to_due_queue(Tx(conn, NOW, "visits"), event)


def completed(**fields: Any) -> LogVisit:
    return LogVisit.model_validate(
        {"channel": "phone", "outcome": "completed", "satisfaction": 5, **fields}
    )


async def test_a_logged_visit_is_stored_as_json_objects_and_its_row_is_the_fold_of_them(
    pool: asyncpg.Pool, handlers: VisitHandlers
) -> None:
    await enqueue(pool, handlers, due("V-1"))
    async with pool.acquire() as conn:
        answer = await log_visit(PostgresCommandStore(conn), "V-1", completed(), "A-1", NOW, None)
        assert isinstance(answer, CommandAccepted)
        kinds = await conn.fetch(
            "SELECT type, jsonb_typeof(data) AS t, data->>'visit_id' AS v FROM visit_event"
        )
        assert {(r["type"], r["t"], r["v"]) for r in kinds} == {
            ("VisitDue", "object", "V-1"),
            ("VisitLogged", "object", "V-1"),
        }
        # The spot-check sample reads the stored logs' fields.
        window = (NOW - timedelta(days=1), NOW + timedelta(days=1))
        assert await spot_checks.completed_visit_ids(conn, "A-1", *window) == ["V-1"]
        folded = await visit_events.load_visit(conn, "V-1")
        row = await queue.get_visit_row(conn, "V-1")
        outbox = await conn.fetch("SELECT event_id, event_type FROM outbox")
    assert folded is not None and folded.status == VisitStatus.DONE
    assert row is not None
    assert (row["status"], row["completed_by"], row["on_time"]) == ("done", "A-1", True)
    assert [(r["event_id"], r["event_type"]) for r in outbox] == [(answer.event_id, "VisitLogged")]


async def test_events_stored_encoded_twice_by_earlier_versions_still_fold(
    pool: asyncpg.Pool, handlers: VisitHandlers
) -> None:
    await enqueue(pool, handlers, due("V-2"))
    async with pool.acquire() as conn:
        # What the service wrote before 0002: the JSON document as a jsonb string.
        await conn.execute(
            "UPDATE visit_event SET data = to_jsonb(data::text) WHERE visit_id = 'V-2'"
        )
        assert await conn.fetchval("SELECT jsonb_typeof(data) FROM visit_event") == "string"
        visit = await visit_events.load_visit(conn, "V-2")
        assert visit is not None and visit.due is not None and visit.status == "due"
        answer = await log_visit(PostgresCommandStore(conn), "V-2", completed(), "A-1", NOW, None)
        assert isinstance(answer, CommandAccepted)


async def test_two_agents_logging_one_visit_at_once_complete_it_once(
    pool: asyncpg.Pool, handlers: VisitHandlers
) -> None:
    await enqueue(pool, handlers, due("V-4"))

    async def log() -> str:
        async with pool.acquire() as conn:
            answer = await log_visit(
                PostgresCommandStore(conn), "V-4", completed(), None, NOW, None
            )
            return answer.kind.value if isinstance(answer, Rejection) else "accepted"

    assert sorted(await asyncio.gather(*(log() for _ in range(4)))) == [
        "accepted",
        *["conflict"] * 3,
    ]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
        assert (
            await conn.fetchval("SELECT count(*) FROM visit_event WHERE type = 'VisitLogged'") == 1
        )


async def test_missed_visits_are_marked_once_under_their_lock(
    pool: asyncpg.Pool, handlers: VisitHandlers
) -> None:
    await enqueue(pool, handlers, due("V-7"))
    later = NOW + timedelta(days=30)
    for _ in range(2):
        async with pool.acquire() as conn, conn.transaction():
            await handlers.mark_missed_visits(Tx(conn, later, "visits"), later)
    async with pool.acquire() as conn:
        assert (await queue.get_visit_row(conn, "V-7") or {})["status"] == "missed"
        assert (
            await conn.fetchval("SELECT count(*) FROM visit_event WHERE type = 'VisitMissed'") == 1
        )


async def test_every_filter_combination_pages_by_deadline_and_the_due_queue_uses_its_index(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO visit (visit_id, customer_id, kinds, status, agent_id, deadline,
                               updated_at)
            SELECT 'Q-' || g, 'C-' || (g % 7), ARRAY['routine'],
                   (ARRAY['due', 'done', 'missed'])[1 + g % 3], 'A-' || (g % 1000),
                   timestamptz '2026-06-01' + (g % 40) * interval '1 hour', now()
            FROM generate_series(1, 20000) AS g
            """
        )
        await conn.execute("ANALYZE visit")
        all_rows = [dict(r) for r in await conn.fetch("SELECT * FROM visit")]
        for status in (None, "due"):
            for agent in (None, "A-3"):
                for customer in (None, "C-2"):
                    expected = sorted(
                        (r["deadline"], r["visit_id"])
                        for r in all_rows
                        if status in (None, r["status"])
                        and agent in (None, r["agent_id"])
                        and customer in (None, r["customer_id"])
                    )
                    seen: list[tuple[datetime, str]] = []
                    after = None
                    while True:
                        page = await queue.list_visits(
                            conn,
                            status=status,
                            agent_id=agent,
                            customer_id=customer,
                            after=after,
                            limit=97,
                        )
                        seen += [(r["deadline"], r["visit_id"]) for r in page]
                        if len(page) < 97:
                            break
                        after = seen[-1]
                    assert seen == expected, (status, agent, customer)
        plan = await conn.fetchval(
            """EXPLAIN (FORMAT JSON) SELECT visit_id FROM visit
               WHERE agent_id = 'A-3' AND status = 'due'
                 AND (deadline, visit_id) > ('2026-06-01 10:00+00', 'x')
               ORDER BY deadline, visit_id LIMIT 51"""
        )
    doc = orjson.loads(plan) if isinstance(plan, str) else plan
    assert "visit_queue" in orjson.dumps(doc).decode(), doc


async def test_concurrent_logs_with_one_key_publish_once_and_refuse_another_body(
    pool: asyncpg.Pool, handlers: VisitHandlers
) -> None:
    await enqueue(pool, handlers, due("V-9"))

    async def log(satisfaction: int) -> CommandAccepted | Rejection:
        async with pool.acquire() as conn:
            store = PostgresCommandStore(conn)
            return await log_visit(
                store, "V-9", completed(satisfaction=satisfaction), "A-1", NOW, "key-9"
            )

    same = await asyncio.gather(log(5), log(5), log(5))
    assert all(isinstance(answer, CommandAccepted) for answer in same)
    assert len(set(same)) == 1
    refused = await log(4)
    assert isinstance(refused, Rejection) and refused.reason == KEY_REUSED.reason
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
        assert await conn.fetchval("SELECT count(*) FROM idempotent_request") == 1
        assert (
            await conn.fetchval("SELECT count(*) FROM visit_event WHERE type = 'VisitLogged'") == 1
        )


@pytest.mark.parametrize("visit_id", ["V-10", "V-'; SELECT 1; --$x$ \\ ü 名"])
async def test_a_command_holds_the_same_locks_as_the_other_paths_whatever_the_names_hold(
    pool: asyncpg.Pool, visit_id: str
) -> None:
    key = visit_id + "-key'$"

    async def free(conn: asyncpg.Connection, name: str) -> bool:
        async with conn.transaction():
            return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", name))

    async with pool.acquire() as holder, pool.acquire() as other:
        async with commands.command_transaction(holder, visit_id, key):
            assert not await free(other, visit_id)
            assert not await free(other, "idem:" + key)
        assert not holder.is_in_transaction()
        assert await free(other, visit_id) and await free(other, "idem:" + key)
        with pytest.raises(RuntimeError):
            async with commands.command_transaction(holder, visit_id, None):
                raise RuntimeError("refused")
        assert not holder.is_in_transaction()
        assert await free(other, visit_id)
