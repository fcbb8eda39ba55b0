"""On real PostgreSQL: visits reads its own followup.visits back (live a no-op; into an empty
read model, the logs and spot checks made through the API, whatever the topic order), and
VisitDeadlineRecomputed moves an open visit's deadline in the queue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from followup.core.applier import Applier
from followup.core.clock import WallClock
from followup.core.crypto import PersonalDataVault, master_key_from_env
from followup.core.db import create_pool, migrate
from followup.core.metrics import Metrics
from followup.core.rejections import Rejection
from followup.core.settings import CoreSettings
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import (
    Event,
    VisitDeadlineRecomputed,
    VisitDue,
    decode,
    derived_id,
    make_event,
)
from followup.visits.domain.log_visit import LogVisit
from followup.visits.domain.views import CommandAccepted
from followup.visits.handlers import VisitHandlers, log_visit, spot_check
from followup.visits.main import MIGRATIONS
from followup.visits.projections import customers, queue
from followup.visits.store import PostgresCommandStore
from followup.visits.subscriptions import visits_subscription

NOW = datetime(2027, 2, 3, 2, 0, tzinfo=UTC)
DEADLINE = datetime(2027, 2, 15, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
EARLIER = DEADLINE - timedelta(days=1)
LATER = DEADLINE + timedelta(days=7)

PoolFactory = Callable[[], Any]


@pytest.fixture
async def databases(infra: Infra) -> AsyncIterator[PoolFactory]:
    """Fresh migrated visits databases, as many as a test asks for."""
    pools: list[asyncpg.Pool] = []

    async def new() -> asyncpg.Pool:
        dsn = await create_database(infra.pg_admin_dsn, prefix="visits")
        await migrate(dsn, service="visits", migrations_dir=MIGRATIONS)
        pools.append(await create_pool(dsn, min_size=1, max_size=4))
        return pools[-1]

    yield new
    for p in pools:
        await p.close()


@pytest.fixture
def handlers() -> VisitHandlers:
    return VisitHandlers(PersonalDataVault(master_key_from_env()))


def due(visit_id: str, deadline: datetime = DEADLINE) -> Event[VisitDue]:
    data = VisitDue(
        visit_id=visit_id,
        customer_id=f"C-{visit_id}",
        kinds=["routine"],
        due_at=datetime(2027, 2, 1, 1, 0, tzinfo=UTC),
        deadline=deadline,
        attempt=1,
        agent_id="A-1",
        reason="routine",
    )
    return make_event(data, id=f"due-{visit_id}", source="t", subject=data.customer_id, time=NOW)


def moved(visit_id: str, to: datetime, at: datetime) -> Event[VisitDeadlineRecomputed]:
    data = VisitDeadlineRecomputed(
        visit_id=visit_id,
        customer_id=f"C-{visit_id}",
        deadline=to,
        previous_deadline=DEADLINE,
        recomputed_at=at,
    )
    return make_event(
        data,
        id=derived_id("VisitDeadlineRecomputed", visit_id, to.isoformat()),
        source="t",
        subject=data.customer_id,
        time=at,
    )


async def consume(
    pool: asyncpg.Pool, handlers: VisitHandlers, now: datetime, *events: Event[Any]
) -> int:
    """Applies events in one batch as the consumer does (its handlers and batch handlers, the
    dedup left out so that a redelivery reaches them); returns the outbox rows it wrote."""
    applier = Applier(
        visits_subscription(handlers), settings=CoreSettings(), clock=WallClock(), metrics=Metrics()
    )
    async with pool.acquire() as conn, conn.transaction():
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
        await applier.run_fast(applier.new_tx(conn, now), events)
        return int(await conn.fetchval("SELECT count(*) FROM outbox")) - int(outbox)


async def tick(pool: asyncpg.Pool, handlers: VisitHandlers, now: datetime) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await handlers.mark_missed_visits(Tx(conn, now, "visits"), now)


async def snapshot(pool: asyncpg.Pool, visit_id: str) -> tuple[Any, ...]:
    """The queue row and the visit's stored events (ids, types, data) the API reads."""
    async with pool.acquire() as conn:
        row = await queue.get_visit_row(conn, visit_id)
        events = await conn.fetch(
            "SELECT event_id, type, data::text AS data FROM visit_event WHERE visit_id = $1",
            visit_id,
        )
    return row, sorted((e["event_id"], e["type"], orjson.loads(e["data"])) for e in events)


async def outbox_events(pool: asyncpg.Pool) -> list[Event[Any]]:
    rows = await pool.fetch("SELECT value FROM outbox ORDER BY id")
    return [decode(bytes(r["value"])) for r in rows]


async def log(
    conn: asyncpg.Connection,
    visit_id: str,
    command: LogVisit,
    agent_id: str | None,
    now: datetime,
    key: str | None,
) -> CommandAccepted:
    """Logs through the use case on PostgreSQL; the log must be accepted."""
    answer = await log_visit(PostgresCommandStore(conn), visit_id, command, agent_id, now, key)
    assert not isinstance(answer, Rejection), answer
    return answer


async def check(
    conn: asyncpg.Connection,
    visit_id: str,
    supervisor: str,
    result: str,
    note: str | None,
    now: datetime,
) -> CommandAccepted:
    """Spot-checks through the use case on PostgreSQL; the check must be accepted."""
    answer = await spot_check(PostgresCommandStore(conn), visit_id, supervisor, result, note, now)
    assert not isinstance(answer, Rejection), answer
    return answer


LOG = LogVisit.model_validate({"channel": "phone", "outcome": "completed", "satisfaction": 4})


async def test_its_own_events_coming_back_live_change_nothing_and_publish_nothing(
    databases: PoolFactory, handlers: VisitHandlers
) -> None:
    pool = await databases()
    await consume(pool, handlers, NOW, due("V-1"))
    async with pool.acquire() as conn:
        await log(conn, "V-1", LOG, "A-1", NOW, "key-1")
        await check(conn, "V-1", "S-1", "verified", None, NOW + timedelta(days=1))
    before = await snapshot(pool, "V-1")
    own = await outbox_events(pool)
    assert [e.type for e in own] == ["VisitLogged", "VisitSpotChecked"]

    assert await consume(pool, handlers, NOW + timedelta(days=2), *own, *own) == 0

    assert await snapshot(pool, "V-1") == before
    assert len(await outbox_events(pool)) == 2


@pytest.mark.parametrize("own_topic_first", [False, True])
async def test_an_empty_read_model_rebuilds_the_same_visit_from_the_topics(
    databases: PoolFactory, handlers: VisitHandlers, own_topic_first: bool
) -> None:
    live = await databases()
    await consume(live, handlers, NOW, due("V-2"))
    async with live.acquire() as conn:
        unreachable = LogVisit.model_validate({"channel": "phone", "outcome": "unreachable"})
        await log(conn, "V-2", unreachable, "A-1", NOW, None)
        await log(conn, "V-2", LOG, "A-1", NOW + timedelta(hours=2), "key-2")
        await check(conn, "V-2", "S-1", "not_verified", "nobody called", NOW)
    own = await outbox_events(live)
    assert [e.type for e in own] == ["VisitLogged", "VisitLogged", "VisitSpotChecked"]

    rebuilt = await databases()
    # A replay reads scheduling's topic and its own in either order (and may see a record twice).
    order = [*own, *own, due("V-2")] if own_topic_first else [due("V-2"), *own]
    published = await consume(rebuilt, handlers, NOW, *order)

    assert published == 0
    assert await outbox_events(rebuilt) == []
    assert await snapshot(rebuilt, "V-2") == await snapshot(live, "V-2")
    row, _ = await snapshot(rebuilt, "V-2")
    assert row is not None and (row["status"], row["spot_check"]) == ("due", "not_verified")


async def test_a_log_of_a_visit_not_yet_queued_waits_for_its_visit_due_without_a_queue_row(
    databases: PoolFactory, handlers: VisitHandlers
) -> None:
    live = await databases()
    await consume(live, handlers, NOW, due("V-3"))
    async with live.acquire() as conn:
        await log(conn, "V-3", LOG, "A-1", NOW, None)
    rebuilt = await databases()

    await consume(rebuilt, handlers, NOW, *await outbox_events(live))

    row, events = await snapshot(rebuilt, "V-3")
    assert row is None and [t for _, t, _ in events] == ["VisitLogged"]
    await consume(rebuilt, handlers, NOW, due("V-3"))
    assert (await snapshot(rebuilt, "V-3"))[0] == (await snapshot(live, "V-3"))[0]


async def test_the_same_unkeyed_request_at_the_same_instant_is_one_log(
    databases: PoolFactory, handlers: VisitHandlers
) -> None:
    pool = await databases()
    await consume(pool, handlers, NOW, due("V-4"))
    unreachable = LogVisit.model_validate({"channel": "phone", "outcome": "unreachable"})
    by_message = LogVisit.model_validate({"channel": "message", "outcome": "unreachable"})
    async with pool.acquire() as conn:
        first = await log(conn, "V-4", unreachable, "A-1", NOW, None)
        again = await log(conn, "V-4", unreachable, "A-1", NOW, None)
        other = await log(conn, "V-4", by_message, "A-1", NOW, None)
        later = await log(conn, "V-4", unreachable, "A-1", NOW + timedelta(1), None)

    assert again == first
    assert len({first.event_id, other.event_id, later.event_id}) == 3
    assert [e.id for e in await outbox_events(pool)] == [
        first.event_id,
        other.event_id,
        later.event_id,
    ]


# Deadlines moved by official calendar data.


async def test_a_missed_visit_whose_deadline_moves_ahead_is_due_again_with_the_new_deadline(
    databases: PoolFactory, handlers: VisitHandlers
) -> None:
    pool = await databases()
    await consume(pool, handlers, NOW, due("V-5"))
    after_deadline = DEADLINE + timedelta(hours=1)
    await tick(pool, handlers, after_deadline)
    assert (await snapshot(pool, "V-5"))[0]["status"] == "missed"  # type: ignore[index]

    assert await consume(pool, handlers, after_deadline, moved("V-5", LATER, after_deadline)) == 0

    row, _ = await snapshot(pool, "V-5")
    assert row is not None and (row["status"], row["deadline"]) == ("due", LATER)
    await tick(pool, handlers, after_deadline + timedelta(hours=1))
    assert (await snapshot(pool, "V-5"))[0]["status"] == "due"  # type: ignore[index]
    await tick(pool, handlers, LATER + timedelta(seconds=1))
    assert (await snapshot(pool, "V-5"))[0]["status"] == "missed"  # type: ignore[index]


async def test_a_deadline_moved_into_the_past_is_missed_at_once_and_a_redelivery_is_a_no_op(
    databases: PoolFactory, handlers: VisitHandlers
) -> None:
    pool = await databases()
    await consume(pool, handlers, NOW, due("V-6"))
    now = EARLIER + timedelta(hours=1)  # past the new deadline, before the old one

    await consume(pool, handlers, now, moved("V-6", EARLIER, now))
    await consume(pool, handlers, now, moved("V-6", EARLIER, now))

    row, events = await snapshot(pool, "V-6")
    assert row is not None and (row["status"], row["deadline"]) == ("missed", EARLIER)
    assert [t for _, t, _ in events].count("VisitDeadlineRecomputed") == 1
    assert [t for _, t, _ in events].count("VisitMissed") == 1


async def test_a_done_visit_keeps_its_deadline(
    databases: PoolFactory, handlers: VisitHandlers
) -> None:
    pool = await databases()
    await consume(pool, handlers, NOW, due("V-7"))
    async with pool.acquire() as conn:
        await log(conn, "V-7", LOG, "A-1", NOW, None)
    later = NOW + timedelta(days=1)

    await consume(pool, handlers, later, moved("V-7", EARLIER, later))

    row, _ = await snapshot(pool, "V-7")
    assert row is not None and (row["status"], row["deadline"], row["on_time"]) == (
        "done",
        DEADLINE,
        True,
    )


async def test_a_move_before_its_visit_due_is_kept_and_applied_when_the_visit_due_arrives(
    databases: PoolFactory, handlers: VisitHandlers
) -> None:
    in_order, reversed_ = await databases(), await databases()
    move = moved("V-8", EARLIER, NOW)

    await consume(in_order, handlers, NOW, due("V-8"), move)
    await consume(reversed_, handlers, NOW, move)
    assert (await snapshot(reversed_, "V-8"))[0] is None  # nothing queued on a move alone
    await consume(reversed_, handlers, NOW, due("V-8"))

    assert await snapshot(reversed_, "V-8") == await snapshot(in_order, "V-8")
    assert (await snapshot(in_order, "V-8"))[0]["deadline"] == EARLIER  # type: ignore[index]


async def test_a_failed_check_of_a_visit_missed_before_its_late_completion_is_missed_at_once(
    databases: PoolFactory, handlers: VisitHandlers
) -> None:
    pool = await databases()
    await consume(pool, handlers, NOW, due("V-9"))
    late = DEADLINE + timedelta(days=2)
    await tick(pool, handlers, DEADLINE + timedelta(hours=1))
    async with pool.acquire() as conn:
        await log(conn, "V-9", LOG, "A-1", late, None)
        await check(conn, "V-9", "S-1", "not_verified", None, late)
    assert (await snapshot(pool, "V-9"))[0]["status"] == "missed"  # type: ignore[index]
    # A row left 'due' by the earlier rule (its VisitMissed could not be stored twice) is put
    # right by the next sweep, which then finds it no more.
    await pool.execute("UPDATE visit SET status = 'due' WHERE visit_id = 'V-9'")

    await tick(pool, handlers, late + timedelta(hours=1))

    row, events = await snapshot(pool, "V-9")
    assert row is not None and row["status"] == "missed"
    assert [t for _, t, _ in events].count("VisitMissed") == 1
    async with pool.acquire() as conn:
        assert await queue.overdue_visit_ids(conn, late + timedelta(hours=2)) == []


async def test_a_run_of_visit_dues_queues_each_visit_once_with_its_assignee(
    databases: PoolFactory, handlers: VisitHandlers
) -> None:
    pool = await databases()
    async with pool.acquire() as conn:
        await customers.upsert_customer(conn, "C-V-12", "M-9", None, NOW)
    named = due("V-12")
    unassigned = make_event(
        named.data.model_copy(update={"agent_id": None}),
        id=named.id,
        source="t",
        subject=named.subject,
        time=NOW,
    )

    await consume(pool, handlers, NOW, due("V-10"), due("V-11"), due("V-10"), unassigned)

    rows = {v: (await snapshot(pool, v))[0] for v in ("V-10", "V-11", "V-12")}
    assert {v: (r or {}).get("agent_id") for v, r in rows.items()} == {
        "V-10": "A-1",
        "V-11": "A-1",
        "V-12": "M-9",
    }
    assert all(r is not None and r["status"] == "due" for r in rows.values())
    assert await pool.fetchval("SELECT count(*) FROM visit_event") == 3
