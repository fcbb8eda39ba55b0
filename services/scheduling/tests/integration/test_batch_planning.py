"""Batch planning on real PostgreSQL: a batch of customer facts stores exactly the plan the pure
policy gives for all the facts, the same as one event at a time or in any order; backfill
publishes what is due once; official calendar data loaded later recomputes open deadlines only."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest
from prometheus_client import CollectorRegistry

from followup.calendar import BusinessCalendar, parse_year
from followup.core.db import create_pool, migrate
from followup.core.maintenance import analyze_grown_tables
from followup.core.outbox import OutboxRow
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import (
    Contact,
    CustomerDelivered,
    Event,
    IntentSigned,
    IssueResolved,
    ProjectStarted,
    VisitDeadlineRecomputed,
    VisitLogged,
    decode,
    make_event,
)
from followup.scheduling.domain.model import CustomerFacts, Delivery, ResolvedIssue
from followup.scheduling.domain.plan import plan_customer
from followup.scheduling.handlers import SchedulingHandlers
from followup.scheduling.horizon import READ_MARGIN, STORE_AHEAD, stored_horizon
from followup.scheduling.main import MIGRATIONS
from followup.scheduling.planning import Planner
from followup.scheduling.projections import customers
from followup.scheduling.projections.growth import GROWING_TABLES

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar.load()
CONTACT = Contact(name="n", phone="p")


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=SH)


def utc(y: int, m: int, d: int, h: int = 10) -> datetime:
    return at(y, m, d, h).astimezone(UTC)


def event(data: Any) -> Event[Any]:
    return make_event(
        data, id=str(uuid.uuid4()), source="test", subject=data.customer_id, time=at(2026, 1, 1)
    )


def delivered(customer: str, order: str, when: datetime, tier: str = "bronze") -> Event[Any]:
    return event(
        CustomerDelivered(
            customer_id=customer,
            order_id=order,
            delivered_at=when,
            product="p",
            tier=tier,
            segment="individual",
            contact=CONTACT,
        )
    )


async def pool_on(dsn: str) -> asyncpg.Pool:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    await migrate(pool, service="scheduling", migrations_dir=MIGRATIONS)
    return pool


@pytest.fixture
async def pools(infra: Infra) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two fresh scheduling databases, to compare two ways of processing the same facts."""
    a = await pool_on(await create_database(infra.pg_admin_dsn, prefix="sched_a"))
    b = await pool_on(await create_database(infra.pg_admin_dsn, prefix="sched_b"))
    yield a, b
    await a.close()
    await b.close()


async def apply(
    pool: asyncpg.Pool, handlers: SchedulingHandlers, now: datetime, events: list[Event[Any]]
) -> list[OutboxRow]:
    """One consumer batch: the handler and the outbox in one transaction; what it published."""
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, now, "scheduling")
        await handlers.apply_customer_facts(tx, events)
        published = tx.pending
        await tx.flush()
    return published


async def plans(pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT visit_id, customer_id, order_id, kinds, due_at, deadline,
                      deadline_provisional, attempt, issue_id, reason, sources, status
               FROM planned_visit ORDER BY visit_id"""
        )
    return [tuple(r) for r in rows]


def facts_of_batch() -> list[Event[Any]]:
    return [
        delivered("C-1", "O-1", at(2026, 1, 31)),
        delivered("C-1", "O-2", at(2026, 2, 3), tier="gold"),  # repeat purchase, tier change
        delivered("C-1", "O-1", at(2026, 5, 1)),  # a known order: its first delivery stands
        delivered("C-2", "O-3", at(2026, 2, 10)),
        event(
            IntentSigned(
                customer_id="C-3",
                signed_at=at(2026, 2, 2),
                tier="silver",
                segment="enterprise",
                contact=CONTACT,
            )
        ),
        event(ProjectStarted(customer_id="C-3", started_at=at(2026, 3, 1))),
        event(
            IssueResolved(
                issue_id="I-1",
                customer_id="C-2",
                resolved_at=at(2026, 2, 12),
                resolved_by="E-1",
                resolution="fixed",
                resolve_by=at(2026, 2, 20),
                paused_seconds=0,
            )
        ),
    ]


async def test_one_batch_stores_the_pure_plan_and_equals_one_event_at_a_time_in_any_order(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    a, b = pools
    handlers = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    now = at(2026, 1, 20)  # before every fact: nothing is due yet
    events = facts_of_batch()
    await apply(a, handlers, now, events)
    shuffled = events[:]
    random.Random(4).shuffle(shuffled)
    for e in shuffled:
        await apply(b, handlers, now, [e])
    stored = await plans(a)
    assert stored == await plans(b)

    # And it is the pure policy's plan for all the facts (ids included), the facts' times as
    # the store keeps them (UTC), which is what keys and ids are derived from.
    c1 = CustomerFacts(
        "C-1",
        # The latest fact by its own time is the repeated O-1 event of May 1 (bronze): it sets
        # the tier, though its delivery is not recorded twice.
        "bronze",
        "Asia/Shanghai",
        deliveries=(
            Delivery("C-1", "O-1", utc(2026, 1, 31), "bronze", "Asia/Shanghai"),
            Delivery("C-1", "O-2", utc(2026, 2, 3), "bronze", "Asia/Shanghai"),
        ),
    )
    c2 = CustomerFacts(
        "C-2",
        "bronze",
        "Asia/Shanghai",
        deliveries=(Delivery("C-2", "O-3", utc(2026, 2, 10), "bronze", "Asia/Shanghai"),),
        resolved_issues=(ResolvedIssue("I-1", utc(2026, 2, 12)),),
    )
    c3 = CustomerFacts(
        "C-3",
        "silver",
        "Asia/Shanghai",
        intent_signed_at=utc(2026, 2, 2),
        project_started_at=utc(2026, 3, 1),
    )

    def pure(until: Any) -> list[tuple[Any, ...]]:
        return sorted(
            (v.visit_id, v.kinds, v.due_at, v.deadline, v.sources)
            for f in (c1, c2, c3)
            for v in plan_customer(f, CAL, now, until=until(f))
        )

    def summary(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return sorted((r[0], tuple(r[3]), r[4], r[5], tuple(r[10])) for r in rows)

    # Stored: each plan up to its stored horizon, weeks past now or past the first fact.
    assert summary(stored) == pure(lambda f: stored_horizon(f, now))
    assert max(r[4] for r in stored) < at(2026, 4, 1)
    # A reader asking for more gets it stored: the plan of the rolling horizon.
    reads_to = handlers.planner.read_horizon(now)
    async with a.acquire() as conn:
        assert await handlers.planner.store_plans_until(conn, now, reads_to) == 3
        assert await handlers.planner.store_plans_until(conn, now, reads_to) == 0  # stored already
        # Stored a month further than asked: a reader a week later re-plans nobody.
        later = now + timedelta(days=7)
        assert (
            await handlers.planner.store_plans_until(
                conn, later, handlers.planner.read_horizon(later)
            )
            == 0
        )
    stored = await plans(a)
    assert summary(stored) == pure(lambda f: reads_to + READ_MARGIN)
    assert max(r[4] for r in stored) > at(2027, 11, 1)
    by_customer = {c: [r for r in stored if r[1] == c] for c in ("C-1", "C-2", "C-3")}
    # Jan 31 delivery and the Feb 3 repeat purchase (first use + special) merge into one visit.
    first = min(by_customer["C-1"], key=lambda r: r[4])
    assert (first[4], first[3]) == (at(2026, 1, 31), ["first_use", "special"])
    # Intent follow-ups stop at the project start: Feb 2, 12, 22 only.
    assert sorted(r[4] for r in by_customer["C-3"]) == [
        at(2026, 2, 2),
        at(2026, 2, 12),
        at(2026, 2, 22),
    ]
    assert any("issue_follow_up" in r[3] for r in by_customer["C-2"])


async def test_backfill_publishes_the_due_visits_once_with_their_customers_cause(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    a, _ = pools
    handlers = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    now = at(2026, 3, 5)
    old = delivered("C-old", "O-1", at(2026, 2, 27))  # first use due, deadline Mar 6 ahead
    new = delivered("C-new", "O-2", at(2026, 3, 10))
    published = await apply(a, handlers, now, [old, new])
    assert [(r.event_type, r.key) for r in published] == [("VisitDue", "C-old")]
    assert orjson.loads(published[0].value)["causationid"] == old.id
    again = await apply(a, handlers, now, [delivered("C-old", "O-1", at(2026, 2, 27))])
    assert again == []  # already due: nothing published twice


CN_2027 = parse_year(
    {
        # Test data, not the real 2027 schedule.
        "region": "CN",
        "year": 2027,
        "holidays": [
            "2027-01-01",
            *(f"2027-02-{d:02d}" for d in range(5, 14)),
            *(f"2027-05-{d:02d}" for d in range(1, 6)),
        ],
        "workdays": ["2027-02-14", "2027-05-09"],
    }
)


async def tick(pool: asyncpg.Pool, handlers: SchedulingHandlers, now: datetime) -> list[OutboxRow]:
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, now, "scheduling")
        await handlers.on_tick(tx, now)
        published = tx.pending
        await tx.flush()
    return published


async def visit_row(pool: asyncpg.Pool, customer: str, due: datetime) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT visit_id, kinds, status, deadline, deadline_provisional FROM planned_visit
               WHERE customer_id = $1 AND due_at = $2""",
            customer,
            due,
        )
    assert row is not None
    return row


async def test_official_data_loaded_later_recomputes_open_deadlines_never_finished_ones(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    pool, _ = pools
    provisional = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    assert not CAL.is_official(2027)
    await apply(
        pool,
        provisional,
        at(2026, 1, 25, 9),
        [delivered("C-A", "O-A", at(2026, 1, 25)), delivered("C-B", "O-B", at(2026, 1, 25))],
    )
    # The clock reaches 2027-01-26: the deep + Spring Festival care visit due Mon Jan 25 is due.
    await tick(pool, provisional, at(2027, 1, 26, 0))
    deep_a = await visit_row(pool, "C-A", at(2027, 1, 25))
    assert (deep_a["kinds"], deep_a["status"]) == (["deep", "holiday_care"], "due")
    # Deep: due + 14 days = Mon Feb 8, in the provisional Spring Festival block: Mon Feb 15;
    # but the visit carries the care, due by the day before the festival (Sat Feb 6): Feb 5.
    assert (deep_a["deadline"], deep_a["deadline_provisional"]) == (
        datetime(2027, 2, 5, 23, 59, 59, tzinfo=SH),
        True,
    )
    deep_b = await visit_row(pool, "C-B", at(2027, 1, 25))
    async with pool.acquire() as conn, conn.transaction():
        # C-B's visit is done: finished, its deadline is history.
        done = make_event(
            VisitLogged(
                visit_id=deep_b["visit_id"],
                customer_id="C-B",
                agent_id="A-1",
                channel="phone",
                outcome="completed",
                logged_at=at(2027, 1, 25, 15),
            ),
            id=str(uuid.uuid4()),
            source="test",
            subject="C-B",
            time=at(2027, 1, 25, 15),
        )
        await provisional.record_visit_outcome(Tx(conn, at(2027, 1, 26), "scheduling"), done)

    # A reader has the plans stored up to May (they are stored weeks ahead, else).
    async with pool.acquire() as conn:
        assert (
            await provisional.planner.store_plans_until(conn, at(2027, 1, 26, 0), at(2027, 5, 1))
            == 2
        )
    q = await visit_row(pool, "C-A", at(2027, 4, 25))
    assert (q["deadline"], q["deadline_provisional"]) == (
        datetime(2027, 5, 10, 23, 59, 59, tzinfo=SH),
        True,
    )

    # The 2027 schedule is published and loaded; the service restarts on it.
    official = SchedulingHandlers(Planner(CAL.with_year(CN_2027), "Asia/Shanghai"))
    published = await tick(pool, official, at(2027, 1, 26, 1))
    deep_a = await visit_row(pool, "C-A", at(2027, 1, 25))
    # Only the visit already published (due) is announced; the planned one's VisitDue will
    # carry its new deadline, the done one is history.
    assert [(p.event_type, p.key) for p in published] == [("VisitDeadlineRecomputed", "C-A")]
    moved = decode(published[0].value).data
    assert isinstance(moved, VisitDeadlineRecomputed)
    assert (moved.visit_id, moved.deadline, moved.previous_deadline) == (
        deep_a["visit_id"],
        datetime(2027, 2, 4, 23, 59, 59, tzinfo=SH),
        datetime(2027, 2, 5, 23, 59, 59, tzinfo=SH),
    )
    # The official holiday starts Fri Feb 5: the care's last working day before it, Thu Feb 4.
    assert (deep_a["status"], deep_a["deadline"], deep_a["deadline_provisional"]) == (
        "due",
        datetime(2027, 2, 4, 23, 59, 59, tzinfo=SH),
        False,
    )
    q = await visit_row(pool, "C-A", at(2027, 4, 25))
    # Planned: Sun Apr 25 + 14 = Sun May 9, now a make-up working day (was Mon May 10).
    assert (q["status"], q["deadline"], q["deadline_provisional"]) == (
        "planned",
        datetime(2027, 5, 9, 23, 59, 59, tzinfo=SH),
        False,
    )
    deep_b = await visit_row(pool, "C-B", at(2027, 1, 25))
    assert (deep_b["status"], deep_b["deadline"], deep_b["deadline_provisional"]) == (
        "done",
        datetime(2027, 2, 5, 23, 59, 59, tzinfo=SH),
        True,
    )
    async with pool.acquire() as conn:
        years = await conn.fetch("SELECT year FROM calendar_year WHERE region = 'CN'")
    assert 2027 in {r["year"] for r in years}
    # Recorded: the next tick finds nothing to recompute.
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, at(2027, 1, 26, 2), "scheduling")
        assert await official.recompute_deadlines_for_calendar(tx, at(2027, 1, 26, 2)) == 0


async def test_unreachable_plans_the_retry_and_a_later_re_plan_keeps_it(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    pool, _ = pools
    handlers = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    # Delivered Mon 2026-03-02 10:00: the first-use visit is due at once.
    [due] = await apply(pool, handlers, at(2026, 3, 2), [delivered("C-R", "O-1", at(2026, 3, 2))])
    visit_id = orjson.loads(due.value)["data"]["visit_id"]
    logged = make_event(
        VisitLogged(
            visit_id=visit_id,
            customer_id="C-R",
            agent_id="A-1",
            channel="phone",
            outcome="unreachable",
            logged_at=at(2026, 3, 2, 15),
        ),
        id=str(uuid.uuid4()),
        source="test",
        subject="C-R",
        time=at(2026, 3, 2, 15),
    )
    async with pool.acquire() as conn, conn.transaction():
        await handlers.record_visit_outcome(Tx(conn, at(2026, 3, 2, 15), "scheduling"), logged)
    # A repeat purchase re-plans the customer: the retry keeps its own due time and deadline.
    await apply(pool, handlers, at(2026, 3, 2, 16), [delivered("C-R", "O-2", at(2026, 3, 20))])
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM planned_visit WHERE visit_id = $1", visit_id)
    assert row is not None
    # 09:00 on the next working day (Tue Mar 3), due by the end of the working day after
    # (Wed Mar 4), but never earlier than the first-use visit's own deadline, Mon Mar 9.
    assert (row["kinds"], row["attempt"], row["status"]) == (["first_use", "retry"], 2, "planned")
    assert (row["due_at"], row["deadline"]) == (
        at(2026, 3, 3, 9),
        datetime(2026, 3, 9, 23, 59, 59, tzinfo=SH),
    )
    [retry_due] = await tick(pool, handlers, at(2026, 3, 3, 9))
    data = orjson.loads(retry_due.value)["data"]
    assert (data["visit_id"], data["attempt"]) == (visit_id, 2)
    assert retry_due.event_id != due.event_id


async def test_ids_with_tabs_newlines_quotes_and_backslashes_are_stored_as_they_are(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    # The plan is written with COPY's text format: every character that format or an array
    # literal gives a meaning must come back unchanged (the contract allows any id).
    a, _ = pools
    handlers = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    now = at(2026, 1, 20)
    odd = ["C-\t1", 'C-"2"', "C-\\3\\N", "C-\n4\r", "C-{5},NULL", "C-\x1f6\x1e", "C-\u00e97 x"]
    events = [
        delivered(c, f'O{c}\t"{{x}}\\', at(2026, 2, 1 + i), tier="gold") for i, c in enumerate(odd)
    ]
    events.append(
        event(
            IssueResolved(
                issue_id='I-"\\\t1',
                customer_id=odd[0],
                resolved_at=at(2026, 2, 12),
                resolved_by="E-1",
                resolution="fixed",
                resolve_by=at(2026, 2, 20),
                paused_seconds=0,
            )
        )
    )
    await apply(a, handlers, now, events)
    reads_to = handlers.planner.read_horizon(now)
    async with a.acquire() as conn:  # the rest of the rolling horizon, as a reader asks
        assert await handlers.planner.store_plans_until(conn, now, reads_to) == len(odd)
    stored = await plans(a)
    expected = []
    for i, c in enumerate(odd):
        o = f'O{c}\t"{{x}}\\'
        facts = CustomerFacts(
            c,
            "gold",
            "Asia/Shanghai",
            deliveries=(Delivery(c, o, utc(2026, 2, 1 + i), "gold", "Asia/Shanghai"),),
            resolved_issues=(ResolvedIssue('I-"\\\t1', utc(2026, 2, 12)),) if i == 0 else (),
        )
        expected += [
            (
                v.visit_id,
                v.customer_id,
                v.order_id,
                list(v.kinds),
                v.due_at,
                v.deadline,
                v.deadline_provisional,
                v.attempt,
                v.issue_id,
                v.reason,
                list(v.sources),
                "planned",
            )
            for v in plan_customer(facts, CAL, now, until=reads_to + READ_MARGIN)
        ]
    assert len(stored) == len(expected) > 7 * 8
    assert stored == sorted(expected)
    assert any(r[8] == 'I-"\\\t1' for r in stored)


async def test_tables_grown_past_their_statistics_are_analyzed_once_per_doubling(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    a, _ = pools
    async with a.acquire() as conn, conn.transaction():
        assert await analyze_grown_tables(conn, GROWING_TABLES) == []  # fresh and small
        await conn.execute(
            """INSERT INTO delivery (customer_id, order_id, delivered_at, product, tier, event_id)
               SELECT 'C-' || g, 'O-' || g, now(), 'p', 'bronze', 'E-' || g
               FROM generate_series(1, 5000) AS g"""
        )
        assert await analyze_grown_tables(conn, GROWING_TABLES) == ["delivery"]
        pages = await conn.fetchval("SELECT relpages FROM pg_class WHERE relname = 'delivery'")
        assert pages > 16
        # Counted now: nothing more until it doubles again.
        assert await analyze_grown_tables(conn, GROWING_TABLES) == []
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                """EXPLAIN SELECT customer_id, order_id, delivered_at FROM delivery
                   WHERE customer_id = ANY(ARRAY['C-1', 'C-2'])"""
            )
        )
        assert "Seq Scan" not in plan and "Index" in plan, plan


async def test_a_clock_jump_of_thirteen_months_publishes_every_visit_once_in_due_order(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    # Plans are stored 28 days ahead: the tick must store what lies between before publishing.
    a, _ = pools
    handlers = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    t0 = at(2026, 3, 1, 0)
    customers = [
        ("C-g", at(2026, 3, 2), "gold"),
        ("C-s", at(2026, 3, 31), "silver"),
        ("C-b", at(2025, 1, 10), "bronze"),  # backfilled: only deadlines still ahead
        ("C-o", at(2025, 12, 31, 23), "gold"),
    ]
    first = await apply(a, handlers, t0, [delivered(c, f"O-{c}", w, t) for c, w, t in customers])
    t1 = at(2027, 4, 1, 0)
    published = await tick(a, handlers, t1)
    facts = [
        CustomerFacts(
            c,
            t,
            "Asia/Shanghai",
            # The facts' times as the store keeps them (UTC): what keys and ids come from.
            deliveries=(Delivery(c, f"O-{c}", w.astimezone(UTC), t, "Asia/Shanghai"),),
        )
        for c, w, t in customers
    ]
    # The whole rolling horizon's plan as of the deliveries, due by t1, in due order.
    plan = sorted(
        ((v.due_at, v.visit_id) for f in facts for v in plan_customer(f, CAL, t0)),
    )
    before = [vid for due, vid in plan if due <= t0]
    expected = [vid for due, vid in plan if t0 < due <= t1]
    assert [orjson.loads(r.value)["data"]["visit_id"] for r in first] == before
    assert [orjson.loads(r.value)["data"]["visit_id"] for r in published] == expected
    assert len(expected) > 4 * 5
    assert await tick(a, handlers, at(2027, 4, 1, 1)) == []
    async with a.acquire() as conn:
        ends = await conn.fetch("SELECT planned_until FROM customer")
    assert all(r[0] >= t1 + STORE_AHEAD for r in ends)
    # The service's metrics counted it all: every VisitDue, and the four plans the tick extended.
    registry = CollectorRegistry()
    handlers.metrics.register(registry)
    assert registry.get_sample_value("followup_scheduling_visits_due_total") == len(first) + len(
        published
    )
    assert (
        registry.get_sample_value("followup_scheduling_plans_extended_total", {"by": "tick"}) == 4
    )


async def test_a_new_customer_written_meanwhile_fails_the_batch_instead_of_overwriting_it(
    pools: tuple[asyncpg.Pool, asyncpg.Pool], monkeypatch: pytest.MonkeyPatch
) -> None:
    # New customers are not locked: their rows are written at the end with a COPY. Another
    # transaction writing the same customer's row first (seen here as a lock that found no
    # row) must make the batch fail on the key, for the consumer to retry its events one at
    # a time, never leave two plans or a half-written customer.
    a, _ = pools
    handlers = SchedulingHandlers(Planner(CAL, "Asia/Shanghai"))
    now = at(2026, 1, 20)
    await apply(a, handlers, now, [delivered("C-race", "O-1", at(2026, 2, 1))])
    before = await plans(a)
    real_lock = customers.lock_customers

    async def lock_seeing_no_row(conn: asyncpg.Connection, ids: Any) -> Any:
        await real_lock(conn, ids)  # the lock is taken; the row is not seen
        return {}, {}  # as if the row was written after this lock's snapshot

    monkeypatch.setattr(customers, "lock_customers", lock_seeing_no_row)
    with pytest.raises(asyncpg.UniqueViolationError):
        await apply(a, handlers, now, [delivered("C-race", "O-2", at(2026, 2, 3))])
    monkeypatch.undo()
    assert await plans(a) == before  # the failed batch wrote nothing
    # Retried (the row is there now): the repeat purchase is planned as usual.
    await apply(a, handlers, now, [delivered("C-race", "O-2", at(2026, 2, 3))])
    assert sorted(tuple(r[3]) for r in await plans(a)) == [("first_use", "special"), ("routine",)]
