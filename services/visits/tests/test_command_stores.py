"""The log-visit and spot-check use cases, stated once and run on every store: in memory (rule
changes tested in milliseconds) and on real PostgreSQL (the service's store).

`CommandStoreContract` holds the tests; each subclass provides the store through the `store`
fixture (the pattern of eventsourcing's tests/persistence.py). Run only the in-memory half
with `-m "not infra"`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import asyncpg
import pytest

from followup.core.auth import Principal, Role
from followup.core.crypto import PersonalDataVault, master_key_from_env
from followup.core.db import create_pool, migrate
from followup.core.rejections import Rejection, RejectionKind
from followup.core.roster import parse_roster
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import Event, VisitDue, make_event
from followup.visits.domain.assign import AssignVisit
from followup.visits.domain.log_visit import LogVisit
from followup.visits.domain.views import CommandAccepted
from followup.visits.handlers import VisitHandlers, assign_visit, log_visit, spot_check
from followup.visits.main import MIGRATIONS
from followup.visits.memory import InMemoryCommandStore
from followup.visits.projections import customers, queue
from followup.visits.store import CommandStore, PostgresCommandStore

T = TypeVar("T")
# Wednesday 3 June 2026, 14:30 in Shanghai; the visit is due from Monday 1 June, by 8 June.
NOW = datetime(2026, 6, 3, 6, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """What the queue row says of a visit."""

    status: str
    agent_id: str | None
    attempt: int | None
    completed_by: str | None
    on_time: bool | None
    spot_check: str | None


class Harness(Protocol):
    """A store under test, with what a test needs around it."""

    async def queue(self, due: Event[VisitDue]) -> None: ...
    async def name_account_manager(self, customer_id: str, manager_id: str) -> None: ...
    async def run(self, use_case: Callable[[CommandStore], Awaitable[T]]) -> T: ...
    async def published(self) -> list[tuple[str, str]]: ...
    async def row(self, visit_id: str) -> Row | None: ...


def due(visit_id: str, *, agent: str | None = "A-1", attempt: int = 1) -> Event[VisitDue]:
    data = VisitDue(
        visit_id=visit_id,
        customer_id=f"C-{visit_id}",
        kinds=["first_use"],
        due_at=datetime(2026, 6, 1, 1, 0, tzinfo=UTC),
        deadline=datetime(2026, 6, 8, 15, 59, 59, tzinfo=UTC),
        attempt=attempt,
        agent_id=agent,
        reason="first use",
    )
    return make_event(data, id=f"due-{visit_id}-{attempt}", source="t", subject="C", time=NOW)


def contact(**fields: Any) -> LogVisit:
    return LogVisit.model_validate(
        {"channel": "phone", "outcome": "completed", "satisfaction": 5, **fields}
    )


def logs(
    visit_id: str, command: LogVisit, agent: str | None, key: str | None = None, at: datetime = NOW
) -> Callable[[CommandStore], Awaitable[CommandAccepted | Rejection]]:
    async def use_case(store: CommandStore) -> CommandAccepted | Rejection:
        return await log_visit(store, visit_id, command, agent, at, key)

    return use_case


def checks(
    visit_id: str, result: str, at: datetime = NOW + timedelta(days=1)
) -> Callable[[CommandStore], Awaitable[CommandAccepted | Rejection]]:
    async def use_case(store: CommandStore) -> CommandAccepted | Rejection:
        return await spot_check(store, visit_id, "S-1", result, None, at)

    return use_case


ROSTER = parse_roster(
    {
        "teams": {"customer-service": {}},
        "agents": {
            "A-1": {"team": "customer-service", "department": "customer_service"},
            "A-2": {"team": "customer-service", "department": "customer_service"},
            "A-3": {"team": "customer-service", "department": "customer_service", "active": False},
        },
        "supervisors": {"S-1": {"department": "customer_service", "teams": ["customer-service"]}},
    }
)
SUPERVISOR = Principal(Role.SUPERVISOR, "S-1", department="customer_service")


def assigns(
    visit_id: str, agent_id: str, caller: Principal
) -> Callable[[CommandStore], Awaitable[CommandAccepted | Rejection]]:
    async def use_case(store: CommandStore) -> CommandAccepted | Rejection:
        body = AssignVisit(agent_id=agent_id, reason="A-1 is overbooked")
        return await assign_visit(store, visit_id, body, caller, ROSTER, NOW)

    return use_case


def kind(answer: CommandAccepted | Rejection) -> str:
    """The refusal's own reason, else its kind; "accepted" when it was not refused."""
    if isinstance(answer, Rejection):
        return answer.reason or answer.kind.value
    return "accepted"


class CommandStoreContract:
    """The use cases' tests; a subclass provides `store`."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[Harness]:
        raise NotImplementedError("a subclass provides the store")
        yield

    async def test_a_completed_log_publishes_one_visit_logged_and_the_visit_is_done_on_time(
        self, store: Harness
    ) -> None:
        await store.queue(due("V-1"))
        answer = await store.run(logs("V-1", contact(), "A-1"))
        assert isinstance(answer, CommandAccepted) and answer.visit_id == "V-1"
        assert await store.published() == [(answer.event_id, "VisitLogged")]
        assert await store.row("V-1") == Row("done", "A-1", 1, "A-1", True, None)

    async def test_an_unknown_visit_someone_elses_visit_and_an_invalid_log_are_refused(
        self, store: Harness
    ) -> None:
        await store.queue(due("V-2"))
        assert kind(await store.run(logs("V-nope", contact(), "A-1"))) == "not_found"
        assert kind(await store.run(logs("V-2", contact(), "A-8"))) == "forbidden"
        invalid = await store.run(logs("V-2", contact(channel="fax", satisfaction=None), "A-1"))
        assert isinstance(invalid, Rejection) and invalid.kind == RejectionKind.INVALID
        assert {e.field for e in invalid.errors} == {"channel", "satisfaction"}
        assert await store.published() == []
        assert await store.row("V-2") == Row("due", "A-1", 1, None, False, None)

    async def test_a_second_completed_log_is_refused_and_publishes_nothing(
        self, store: Harness
    ) -> None:
        await store.queue(due("V-3"))
        assert kind(await store.run(logs("V-3", contact(), "A-1"))) == "accepted"
        later = NOW + timedelta(hours=1)
        assert kind(await store.run(logs("V-3", contact(), "A-1", at=later))) == (
            "already_completed"
        )
        assert len(await store.published()) == 1

    async def test_the_customers_account_manager_logs_a_visit_that_names_nobody(
        self, store: Harness
    ) -> None:
        await store.name_account_manager("C-V-4", "M-9")
        await store.queue(due("V-4", agent=None))
        assert kind(await store.run(logs("V-4", contact(), "A-1"))) == "forbidden"
        assert kind(await store.run(logs("V-4", contact(), "M-9"))) == "accepted"
        assert await store.row("V-4") == Row("done", "M-9", 1, "M-9", True, None)

    async def test_a_repeated_keyed_log_replays_its_answer_and_another_body_is_refused(
        self, store: Harness
    ) -> None:
        await store.queue(due("V-5"))
        first = await store.run(logs("V-5", contact(), "A-1", key="key-5"))
        again = await store.run(logs("V-5", contact(), "A-1", key="key-5", at=NOW + timedelta(1)))
        assert isinstance(first, CommandAccepted) and again == first
        other = await store.run(logs("V-5", contact(satisfaction=4), "A-1", key="key-5"))
        assert kind(other) == "idempotency_key_reused"
        assert len(await store.published()) == 1

    async def test_an_unreachable_attempt_then_the_retry_requeue_the_visit_for_its_agent(
        self, store: Harness
    ) -> None:
        await store.queue(due("V-6"))
        await store.queue(due("V-6"))  # a redelivery changes nothing
        unreachable = LogVisit.model_validate({"channel": "phone", "outcome": "unreachable"})
        assert kind(await store.run(logs("V-6", unreachable, "A-1"))) == "accepted"
        assert await store.row("V-6") == Row("due", "A-1", 1, None, False, None)
        await store.queue(due("V-6", agent="A-2", attempt=2))
        assert await store.row("V-6") == Row("due", "A-2", 2, None, False, None)

    async def test_a_declined_visit_ends_and_takes_no_more_logs(self, store: Harness) -> None:
        await store.queue(due("V-10"))
        declined = LogVisit.model_validate({"channel": "phone", "outcome": "declined"})
        assert kind(await store.run(logs("V-10", declined, "A-1"))) == "accepted"
        later = NOW + timedelta(hours=1)
        assert kind(await store.run(logs("V-10", contact(), "A-1", at=later))) == "visit_ended"
        assert await store.row("V-10") == Row("declined", "A-1", 1, None, False, None)
        assert len(await store.published()) == 1

    async def test_a_rescheduled_visit_leaves_the_queue_until_its_time(
        self, store: Harness
    ) -> None:
        await store.queue(due("V-11"))
        # Put off to Friday 5 June, 10:00 in Shanghai: before its deadline, which stays.
        friday = {"rescheduled_to": "2026-06-05T10:00:00+08:00"}
        put_off = LogVisit.model_validate({"channel": "phone", "outcome": "rescheduled", **friday})
        assert kind(await store.run(logs("V-11", put_off, "A-1"))) == "accepted"
        assert await store.row("V-11") == Row("rescheduled", "A-1", 1, None, False, None)

    async def test_a_completed_visit_is_spot_checked_once(self, store: Harness) -> None:
        await store.queue(due("V-7"))
        assert kind(await store.run(checks("V-7", "verified"))) == "not_completed"
        await store.run(logs("V-7", contact(), "A-1"))
        checked = await store.run(checks("V-7", "verified"))
        assert isinstance(checked, CommandAccepted)
        assert kind(await store.run(checks("V-7", "not_verified"))) == "already_checked"
        assert [t for _, t in await store.published()] == ["VisitLogged", "VisitSpotChecked"]
        assert await store.row("V-7") == Row("done", "A-1", 1, "A-1", True, "verified")

    async def test_a_failed_spot_check_reopens_the_visit_without_its_on_time_credit(
        self, store: Harness
    ) -> None:
        await store.queue(due("V-8"))
        await store.run(logs("V-8", contact(), "A-1"))
        assert kind(await store.run(checks("V-8", "not_verified"))) == "accepted"
        assert await store.row("V-8") == Row("due", "A-1", 1, None, False, "not_verified")
        assert kind(await store.run(checks("V-9", "verified"))) == "not_found"

    async def test_a_supervisor_reassigns_a_visit_to_an_active_agent_and_an_agent_may_not(
        self, store: Harness
    ) -> None:
        await store.queue(due("V-10"))
        agent = Principal(Role.AGENT, "A-1", department="customer_service")
        assert kind(await store.run(assigns("V-10", "A-2", agent))) == "forbidden"
        assert kind(await store.run(assigns("V-10", "A-3", SUPERVISOR))) == "invalid"
        assert kind(await store.run(assigns("V-nope", "A-2", SUPERVISOR))) == "not_found"
        answer = await store.run(assigns("V-10", "A-2", SUPERVISOR))
        assert isinstance(answer, CommandAccepted)
        assert await store.published() == [(answer.event_id, "VisitAssigned")]
        assert await store.row("V-10") == Row("due", "A-2", 1, None, False, None)
        # The visit is A-2's now: A-1 may no longer log it, A-2 may.
        assert kind(await store.run(logs("V-10", contact(), "A-1"))) == "forbidden"
        assert kind(await store.run(logs("V-10", contact(), "A-2"))) == "accepted"
        assert kind(await store.run(assigns("V-10", "A-1", SUPERVISOR))) == "visit-closed"


class MemoryHarness:
    def __init__(self) -> None:
        self.store = InMemoryCommandStore()

    async def queue(self, due: Event[VisitDue]) -> None:
        self.store.append(due.data.visit_id, due.id, due.data)

    async def name_account_manager(self, customer_id: str, manager_id: str) -> None:
        self.store.account_managers[customer_id] = manager_id

    async def run(self, use_case: Callable[[CommandStore], Awaitable[T]]) -> T:
        return await use_case(self.store)

    async def published(self) -> list[tuple[str, str]]:
        return [(e.id, e.type) for e in self.store.published]

    async def row(self, visit_id: str) -> Row | None:
        visit = self.store.rows.get(visit_id)
        if visit is None:
            return None
        completion = visit.completion
        return Row(
            visit.status.value,
            visit.assigned_agent_id,
            visit.due.attempt if visit.due else None,
            completion.agent_id if completion else None,
            visit.completed_on_time,
            visit.spot_check.result if visit.spot_check else None,
        )


class PostgresHarness:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.handlers = VisitHandlers(PersonalDataVault(master_key_from_env()))

    async def queue(self, due: Event[VisitDue]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await self.handlers.add_visit_to_due_queue(Tx(conn, NOW, "visits"), due)

    async def name_account_manager(self, customer_id: str, manager_id: str) -> None:
        async with self.pool.acquire() as conn:
            await customers.upsert_customer(conn, customer_id, manager_id, None, NOW)

    async def run(self, use_case: Callable[[CommandStore], Awaitable[T]]) -> T:
        async with self.pool.acquire() as conn:
            return await use_case(PostgresCommandStore(conn))

    async def published(self) -> list[tuple[str, str]]:
        rows = await self.pool.fetch("SELECT event_id, event_type FROM outbox ORDER BY id")
        return [(r["event_id"], r["event_type"]) for r in rows]

    async def row(self, visit_id: str) -> Row | None:
        async with self.pool.acquire() as conn:
            row = await queue.get_visit_row(conn, visit_id)
        if row is None:
            return None
        return Row(
            row["status"],
            row["agent_id"],
            row["attempt"],
            row["completed_by"],
            row["on_time"],
            row["spot_check"],
        )


class TestInMemory(CommandStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Harness]:
        yield MemoryHarness()


class TestOnPostgres(CommandStoreContract):
    @pytest.fixture
    async def store(self, infra: Infra) -> AsyncIterator[Harness]:
        dsn = await create_database(infra.pg_admin_dsn, prefix="visits")
        await migrate(dsn, service="visits", migrations_dir=MIGRATIONS)
        pool = await create_pool(dsn, min_size=1, max_size=2)
        try:
            yield PostgresHarness(pool)
        finally:
            await pool.close()
