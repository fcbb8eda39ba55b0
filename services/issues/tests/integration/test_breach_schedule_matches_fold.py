"""The ledger on real PostgreSQL against the fold. Random issues (two zones, reassignments,
overlapping pauses, late resolutions, reopens, closes) go through the service's handlers while
the clock ticks. At every tick the sweep, which reads only the breach
schedule, records for each issue exactly the breaches the fold-based rule (clocks.sweep_issue
over the issue's whole history) finds; after it, each ledger row and schedule is what the fold
of the issue's stored events gives. The list: every combination of filters, paged, lists what
filtering the folds gives, newest first."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest

from followup.calendar import default_calendar
from followup.core.db import init_connection, migrate
from followup.core.rejections import Rejection
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import VisitLogged, make_event
from followup.issues import sweep as issue_sweep
from followup.issues.commands import IssueCommands
from followup.issues.deps import IssuesDeps, issues_deps
from followup.issues.domain import clocks, lifecycle, model, raising
from followup.issues.domain.access import Actor, ActorRole
from followup.issues.projections import history, ledger, schedule
from followup.issues.recording import event_id_of

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SH = ZoneInfo("Asia/Shanghai")
CAL = default_calendar()
MANAGERS = {"after_sales": "M-AS", "technical": "M-T", "customer_service": "M-CS"}
ISSUES = 300
START = datetime(2026, 3, 2, 9, 0, tzinfo=SH)  # a Monday


def admin(who: str) -> Actor:
    """A caller who may act on every issue: these tests are about the ledger, not access."""
    return Actor(who, ActorRole.ADMIN)


@pytest.fixture
async def conn(infra: Infra) -> AsyncIterator[asyncpg.Connection]:
    dsn = await create_database(infra.pg_admin_dsn, prefix="issues_fold")
    await migrate(dsn, service="issues", migrations_dir=MIGRATIONS)
    # With the service's codecs (jsonb as Python values), as its pool hands it out.
    c = await asyncpg.connect(dsn)
    await init_connection(c)
    yield c
    await c.close()


async def folds(conn: asyncpg.Connection) -> dict[str, model.Issue]:
    ids = [r["issue_id"] for r in await conn.fetch("SELECT issue_id FROM issue")]
    return {i.issue_id: i for i in await history.load_issues(conn, ids)}


async def stored_breaches(conn: asyncpg.Connection) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every stored IssueSlaBreached by event id: (issue id, its data)."""
    rows = await conn.fetch(
        "SELECT issue_id, event_id, data::text AS data FROM issue_event "
        "WHERE type = 'IssueSlaBreached'"
    )
    return {r["event_id"]: (r["issue_id"], orjson.loads(r["data"])) for r in rows}


async def assert_read_model_is_the_fold(conn: asyncpg.Connection, now: datetime) -> None:
    """Each ledger row and breach schedule as projections would write them from the fold."""
    issues = await folds(conn)
    listed = ", ".join(f"b.{c} AS listed_{c}" for c in ledger.LIST_COLUMNS)
    rows = {
        r["issue_id"]: r
        for r in await conn.fetch(
            f"""SELECT i.*, b.issue_id IS NOT NULL AS breached, {listed}
                FROM issue i LEFT JOIN issue_breached b ON b.issue_id = i.issue_id"""
        )
    }
    scheduled = await schedule.scheduled_clocks(conn, list(issues))
    by_issue: dict[str, list[clocks.ScheduledClock]] = {}
    for s in scheduled:
        by_issue.setdefault(s.issue_id, []).append(s)
    for issue_id, issue in issues.items():
        row = rows[issue_id]
        assert (row["status"], row["paused"], row["breached"]) == (
            issue.status.value,
            issue.is_paused,
            issue.breached,
        ), issue_id
        assert (row["department"], row["owner_id"]) == (issue.department, issue.owner_id)
        # Listed among the breached with the listed columns as the issue row has them now.
        want_listed = {c: row[c] if issue.breached else None for c in ledger.LIST_COLUMNS}
        assert {c: row[f"listed_{c}"] for c in ledger.LIST_COLUMNS} == want_listed, issue_id
        want = clocks.breach_schedule(issue, now, CAL)
        got = sorted(by_issue.get(issue_id, []), key=lambda s: clocks.CLOCK_ORDER[s.clock])
        assert got == want, (issue_id, issue.history)
        # The zone comes back too: a breach names its deadline as the fold does.
        assert [s.deadline.utcoffset() for s in got] == [s.deadline.utcoffset() for s in want]


def visit(issue: model.Issue, logged_at: datetime, confirmed: bool) -> Any:
    data = VisitLogged.model_validate(
        {
            "visit_id": f"V-{uuid.uuid4().hex[:8]}",
            "customer_id": issue.customer_id,
            "agent_id": "A-1",
            "channel": "phone",
            "outcome": "completed",
            "logged_at": logged_at,
            "satisfaction": 3,
            "issue_id": issue.issue_id,
            "issue_confirmed": confirmed,
        }
    )
    return make_event(
        data, id=str(uuid.uuid4()), source="t", subject=issue.customer_id, time=logged_at
    )


Command = Callable[[IssueCommands, asyncpg.Connection, str], Awaitable[object]]


def random_action(rng: random.Random, issue: model.Issue, now: datetime) -> Any:
    """A command or a follow-up visit that fits the issue's state, or None."""
    people = ["E-1", "E-2", "T-3", "S-4"]
    if issue.status == model.IssueStatus.RESOLVED:
        return ("visit", visit(issue, now, confirmed=rng.random() < 0.4))
    if not issue.is_open:
        return None
    roll = rng.random()
    if issue.status == model.IssueStatus.RAISED or roll < 0.15:
        who = rng.choice(people)
        department = rng.choice([None, None, "technical", "customer_service"])
        assign = lifecycle.AssignIssue(who, department)
        return lambda c, conn, id_: c.assign_issue(conn, id_, assign, admin("S-4"), now)
    if roll < 0.45:
        actor = rng.choice(people)
        pause = lifecycle.PauseResolution("waiting")
        return lambda c, conn, id_: c.pause_resolution(conn, id_, pause, admin(actor), now)
    if roll < 0.55:
        contact = lifecycle.RespondToIssue(rng.choice(["phone", "onsite", "message"]))
        who = rng.choice(people)
        return lambda c, conn, id_: c.respond_to_issue(conn, id_, contact, admin(who), now)
    if roll < 0.8 and issue.open_pauses:
        actor = rng.choice(people)
        resume = lifecycle.ResumeResolution()
        return lambda c, conn, id_: c.resume_resolution(conn, id_, resume, admin(actor), now)
    resolve = lifecycle.ResolveIssue("done")
    return lambda c, conn, id_: c.resolve_issue(conn, id_, resolve, admin("E-1"), now)


Tick = Callable[[datetime], Awaitable[None]]


async def random_history(
    conn: asyncpg.Connection, svc: IssuesDeps, rng: random.Random, issues: int, tick: Tick
) -> None:
    """Raising, commands and visits on random issues, and clock ticks, in time order."""
    plan: list[tuple[datetime, str, int]] = []
    for n in range(issues):
        plan.append((START + timedelta(minutes=rng.randrange(3 * 24 * 60)), "raise", n))
        for _ in range(rng.randrange(6)):
            plan.append((START + timedelta(minutes=rng.randrange(14 * 24 * 60)), "act", n))
    tick_at = START
    while tick_at < START + timedelta(days=16):
        tick_at += timedelta(minutes=rng.randrange(60, 8 * 60))
        plan.append((tick_at, "tick", -1))
    plan.sort()

    ids: dict[int, str] = {}
    for now, kind, n in plan:
        if kind == "raise":
            command = raising.RaiseComplaint(
                customer_id=f"C-{n % (issues // 3)}",
                category=rng.choice(raising.CATEGORIES),
                severity=rng.choice(raising.SEVERITIES),
                description="it broke",
                timezone=rng.choice([None, "Europe/Berlin"]),
            )
            answer = await svc.commands.raise_complaint(conn, command, f"key-{n}", now)
            assert not isinstance(answer, Rejection), answer
            ids[n] = answer.issue_id
        elif kind == "act" and n in ids:
            issue = await history.load_issue(conn, ids[n])
            assert issue is not None
            action = random_action(rng, issue, now)
            if isinstance(action, tuple):
                async with conn.transaction():
                    tx = Tx(conn, now, "issues")
                    await svc.handlers.raise_issues_from_visit_log(tx, action[1])
                    await tx.flush()
            elif action is not None:
                # A pause by someone already holding one, say: refused, nothing happens.
                await action(svc.commands, conn, ids[n])
        elif kind == "tick":
            await tick(now)


async def run_tick(conn: asyncpg.Connection, svc: IssuesDeps, now: datetime) -> None:
    """A clock tick, as the consumer runs it."""
    async with conn.transaction():
        tx = Tx(conn, now, "issues")
        await svc.sweep.on_clock_tick(tx, now)
        await tx.flush()


# 3: a tick's breaches go in many slices, each named while the previous one is stored.
@pytest.mark.parametrize("record_slice", [1000, 3])
async def test_the_schedule_sweep_records_what_the_fold_finds_and_leaves_the_folds_ledger(
    conn: asyncpg.Connection, record_slice: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(issue_sweep, "RECORD_SLICE", record_slice)
    escalated: list[model.Breach] = []
    svc = issues_deps(CAL, MANAGERS, on_breach=escalated.append)
    ticks = recorded = 0

    async def tick_against_the_fold(now: datetime) -> None:
        nonlocal ticks, recorded
        before = await folds(conn)
        stored_before = await stored_breaches(conn)
        await run_tick(conn, svc, now)
        new = {k: v for k, v in (await stored_breaches(conn)).items() if k not in stored_before}
        expected = {
            event_id_of(b): (issue_id, orjson.loads(b.model_dump_json(exclude_none=True)))
            for issue_id, issue in before.items()
            for b in clocks.sweep_issue(issue, now, cal=CAL, managers=MANAGERS).breaches
        }
        assert new == expected, now
        ticks += 1
        recorded += len(new)
        await assert_read_model_is_the_fold(conn, now)

    await random_history(conn, svc, random.Random(20260302), ISSUES, tick_against_the_fold)

    # The history was rich enough to mean something.
    final = await folds(conn)
    print(
        f"{ticks} ticks, {recorded} breaches, {sum(len(i.pauses) for i in final.values())} pauses"
    )
    assert ticks > 40 and recorded > 300
    assert len(escalated) == recorded
    assert {b.clock for b in escalated} == {"handover", "first_response", "resolution"}
    assert any(b.round == 2 for b in escalated)
    assert any(b.owner_id is not None and b.department != i.raised.department
               for i in final.values() for b in i.breaches)  # fmt: skip
    assert sum(len(i.pauses) for i in final.values()) > 50
    assert sum(len(i.rounds) > 1 for i in final.values()) > 10
    assert sum(i.status == model.IssueStatus.CLOSED for i in final.values()) > 10
    assert any(i.is_paused for i in final.values())
    # Every outbox breach is a stored one, published once.
    outbox = await conn.fetch("SELECT event_id FROM outbox WHERE event_type = 'IssueSlaBreached'")
    assert sorted(r["event_id"] for r in outbox) == sorted(await stored_breaches(conn))


async def test_every_filter_combination_lists_the_folds_issues_newest_first_page_by_page(
    conn: asyncpg.Connection,
) -> None:
    svc = issues_deps(CAL, MANAGERS)
    await random_history(conn, svc, random.Random(7), 90, lambda now: run_tick(conn, svc, now))
    issues = sorted(
        (await folds(conn)).values(),
        key=lambda i: (i.raised.raised_at, i.issue_id),
        reverse=True,
    )
    customers = sorted({i.customer_id for i in issues})[:2]
    assert any(i.breached for i in issues) and not all(i.breached for i in issues)

    shapes = 0
    for status in [None, *(s.value for s in model.IssueStatus)]:
        for department in [None, *raising.DEPARTMENTS]:
            for breached in [None, True, False]:
                for customer_id in [None, *customers]:
                    want = [
                        i.issue_id
                        for i in issues
                        if status in (None, i.status.value)
                        and department in (None, i.department)
                        and breached in (None, i.breached)
                        and customer_id in (None, i.customer_id)
                    ]
                    got: list[str] = []
                    after = None
                    while True:
                        page = await ledger.list_issues(
                            conn,
                            status=status,
                            department=department,
                            breached=breached,
                            customer_id=customer_id,
                            after=after,
                            limit=8,
                        )
                        got += [r["issue_id"] for r in page]
                        for r in page:
                            issue = next(i for i in issues if i.issue_id == r["issue_id"])
                            assert (r["breached"], r["status"], r["department"]) == (
                                issue.breached,
                                issue.status.value,
                                issue.department,
                            )
                        if len(page) < 8:
                            break
                        after = (page[-1]["raised_at"], page[-1]["issue_id"])
                    assert got == want, (status, department, breached, customer_id)
                    shapes += bool(want)
    # Of the 216 combinations, those without a customer filter mostly list something.
    assert shapes > 80
