"""The issue ledger on real PostgreSQL: the customer's zone, the service's own history read
back (live: no effect; replay: the same ledger in any order), the batched breach sweep, and an
official calendar year loaded later."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from structlog.testing import capture_logs

from followup.calendar import BusinessCalendar, default_calendar
from followup.core.db import migrate
from followup.core.subscription import Tx
from followup.core.testing import Infra, create_database
from followup.events import (
    Contact,
    CustomerDelivered,
    Event,
    IssueRaised,
    VisitLogged,
    decode,
    make_event,
)
from followup.issues.deps import IssuesDeps, issues_deps
from followup.issues.domain import clocks, lifecycle, model, raising
from followup.issues.domain.access import Actor, ActorRole
from followup.issues.projections import history
from followup.issues.projections import ledger as ledger_sql
from followup.issues.projections import schedule as schedule_sql
from followup.issues.recording import event_id_of

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
MANAGERS = {"after_sales": "M-AS", "technical": "M-T", "customer_service": "M-CS"}
OFFICIAL = default_calendar()
# As before the State Council published 2026: weekends and lunar festivals, no make-up days.
PROVISIONAL = BusinessCalendar.load(library=False)


def admin(who: str) -> Actor:
    """A caller who may act on every issue: these tests are about the ledger, not access."""
    return Actor(who, ActorRole.ADMIN)


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=tz)


async def ledger_db(infra: Infra) -> str:
    dsn = await create_database(infra.pg_admin_dsn, prefix="issues")
    await migrate(dsn, service="issues", migrations_dir=MIGRATIONS)
    return dsn


@pytest.fixture
async def conn(infra: Infra) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(await ledger_db(infra))
    yield c
    await c.close()


def delivered(customer: str, tz: str | None) -> Event[CustomerDelivered]:
    data = CustomerDelivered(
        customer_id=customer,
        order_id=f"O-{customer}",
        delivered_at=at(2026, 1, 5, 10),
        product="home cinema 7.1.4",
        tier="silver",
        segment="individual",
        timezone=tz,
        contact=Contact(name="A Customer", phone="+86 138 0000 0000"),
    )
    return make_event(data, id=str(uuid.uuid4()), source="t", subject=customer, time=at(2026, 1, 5))


def visit_log(customer: str, logged_at: datetime, **extra: Any) -> Event[VisitLogged]:
    data = VisitLogged.model_validate(
        {
            "visit_id": extra.pop("visit_id", "V-1"),
            "customer_id": customer,
            "agent_id": "A-1",
            "channel": "phone",
            "outcome": "completed",
            "logged_at": logged_at,
            "satisfaction": 3,
            **extra,
        }
    )
    return make_event(data, id=str(uuid.uuid4()), source="t", subject=customer, time=logged_at)


PROBLEM = {"problem_id": "P-1", "category": "fault", "severity": "general", "description": "hum"}

Handler = Callable[[Tx, Any], Awaitable[None]]


async def handle(conn: asyncpg.Connection, handler: Handler, arg: Any, now: datetime) -> None:
    """One handler call in its own transaction, as the consumer runs it."""
    async with conn.transaction():
        tx = Tx(conn, now, "issues")
        await handler(tx, arg)
        await tx.flush()


async def tick(conn: asyncpg.Connection, svc: IssuesDeps, now: datetime) -> None:
    """The clock moves to `now`, as the consumer runs the tick."""
    await handle(conn, lambda tx, _: svc.sweep.on_clock_tick(tx, now), None, now)


async def published(conn: asyncpg.Connection) -> list[Event[Any]]:
    """What the service put in its outbox, in order."""
    rows = await conn.fetch("SELECT value FROM outbox ORDER BY id")
    events = [decode(bytes(r["value"])) for r in rows]
    assert all(isinstance(e, Event) for e in events)
    return events  # type: ignore[return-value]


async def ledger(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """The ledger rows the API lists, without the bookkeeping time."""
    rows = await conn.fetch(
        """SELECT i.*, b.issue_id IS NOT NULL AS breached
           FROM issue i LEFT JOIN issue_breached b USING (issue_id) ORDER BY issue_id"""
    )
    return [{k: v for k, v in dict(r).items() if k != "updated_at"} for r in rows]


async def schedule(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """The breach schedule: every clock still able to breach."""
    rows = await conn.fetch("SELECT * FROM issue_breach_schedule ORDER BY issue_id, clock")
    return [dict(r) for r in rows]


async def test_deadlines_of_an_issue_raised_on_a_visit_count_in_the_customers_zone(
    conn: asyncpg.Connection,
) -> None:
    svc = issues_deps(OFFICIAL, MANAGERS)
    await handle(
        conn, svc.handlers.remember_customer_zone, delivered("C-B", "Europe/Berlin"), at(2026, 1, 5)
    )
    await handle(
        conn, svc.handlers.remember_customer_zone, delivered("C-X", "Mars/Base"), at(2026, 1, 5)
    )
    # Fri 2026-03-06 18:00 in Shanghai is 11:00 in Berlin: handover ends Monday night, Berlin time.
    logged = at(2026, 3, 6, 18)
    await handle(
        conn,
        svc.handlers.raise_issues_from_visit_log,
        visit_log("C-B", logged, problems=[PROBLEM]),
        logged,
    )
    await handle(
        conn,
        svc.handlers.raise_issues_from_visit_log,
        visit_log("C-X", logged, visit_id="V-2", problems=[{**PROBLEM, "problem_id": "P-2"}]),
        logged,
    )

    raised = {e.data.customer_id: e.data for e in await published(conn)}
    berlin, fallback = raised["C-B"], raised["C-X"]
    assert isinstance(berlin, IssueRaised) and isinstance(fallback, IssueRaised)
    assert berlin.timezone == "Europe/Berlin"
    assert berlin.handover_by == at(2026, 3, 9, 23, 59, 59, tz=BERLIN)
    assert berlin.resolve_by == at(2026, 3, 11, 23, 59, 59, tz=BERLIN)
    # Not an IANA zone: ignored (logged), and the customer's issues count in Asia/Shanghai.
    assert fallback.timezone == "Asia/Shanghai"
    assert fallback.handover_by == at(2026, 3, 9, 23, 59, 59)
    rows = {r["customer_id"]: r["timezone"] for r in await ledger(conn)}
    assert rows == {"C-B": "Europe/Berlin", "C-X": "Asia/Shanghai"}


async def live_history(conn: asyncpg.Connection) -> tuple[list[Event[Any]], list[Event[Any]]]:
    """A Berlin customer's issue through the API and the clock; (consumed, published) events."""
    svc = issues_deps(OFFICIAL, MANAGERS)
    customer = delivered("C-B", "Europe/Berlin")
    await handle(conn, svc.handlers.remember_customer_zone, customer, at(2026, 1, 5))
    t0 = at(2026, 3, 6, 18)
    log = visit_log("C-B", t0, problems=[PROBLEM])
    await handle(conn, svc.handlers.raise_issues_from_visit_log, log, t0)
    issue_id = raising.issue_id_for_problem("P-1")
    # The clock passes first response (24 h) before anybody takes the issue.
    await tick(conn, svc, at(2026, 3, 7, 19))

    commands, lc = svc.commands, lifecycle
    e17, s1 = admin("E-17"), admin("S-1")
    t1 = at(2026, 3, 9, 9)
    await commands.assign_issue(conn, issue_id, lc.AssignIssue("E-17"), s1, t1)
    contact = lc.RespondToIssue("phone", "called back")
    await commands.respond_to_issue(conn, issue_id, contact, e17, at(2026, 3, 9, 9, 30))
    t2 = at(2026, 3, 9, 10)
    await commands.pause_resolution(conn, issue_id, lc.PauseResolution("away"), e17, t2)
    t3 = at(2026, 3, 10, 10)
    await commands.pause_resolution(conn, issue_id, lc.PauseResolution("parts"), s1, t3)
    t4 = at(2026, 3, 11, 10)
    await commands.resume_resolution(conn, issue_id, lc.ResumeResolution(1), e17, t4)
    t5 = at(2026, 3, 12, 10)
    await commands.resume_resolution(conn, issue_id, lc.ResumeResolution(), s1, t5)
    t6 = at(2026, 3, 13, 10)
    resolve = lc.ResolveIssue("replaced the amplifier")
    await commands.resolve_issue(conn, issue_id, resolve, e17, t6)
    t7 = at(2026, 3, 16, 15)
    follow_up = visit_log("C-B", t7, visit_id="V-9", issue_id=issue_id, issue_confirmed=False)
    await handle(conn, svc.handlers.raise_issues_from_visit_log, follow_up, t7)
    return [customer, log, follow_up], await published(conn)


async def test_reading_back_its_own_events_live_changes_nothing(conn: asyncpg.Connection) -> None:
    _, own = await live_history(conn)
    types = [e.type for e in own]
    assert types == [
        "IssueRaised",
        "IssueSlaBreached",
        "IssueAssigned",
        "IssueResponded",
        "IssuePaused",
        "IssuePaused",
        "IssueResumed",
        "IssueResumed",
        "IssueResolved",
        "IssueReopened",
    ]
    before = (await ledger(conn), await conn.fetch("SELECT * FROM issue_event ORDER BY seq"))
    svc = issues_deps(OFFICIAL, MANAGERS)
    for event in own:
        await handle(conn, svc.handlers.apply_published_event, event, at(2026, 3, 17))

    after = (await ledger(conn), await conn.fetch("SELECT * FROM issue_event ORDER BY seq"))
    assert after == before
    assert len(await published(conn)) == len(own)


@pytest.mark.parametrize("own_topic_first", [True, False], ids=["own-first", "visits-first"])
async def test_a_replay_in_any_topic_order_rebuilds_the_same_ledger_and_emits_nothing_new(
    conn: asyncpg.Connection, infra: Infra, own_topic_first: bool
) -> None:
    consumed, own = await live_history(conn)
    live = await ledger(conn)
    live_schedule = await schedule(conn)
    live_issue = await history.load_issue(conn, raising.issue_id_for_problem("P-1"))

    replay = await asyncpg.connect(await ledger_db(infra))
    try:
        svc = issues_deps(OFFICIAL, MANAGERS)
        now = at(2026, 3, 17)
        customer, log, follow_up = consumed

        async def own_topic() -> None:
            for event in own:
                await handle(replay, svc.handlers.apply_published_event, event, now)

        if own_topic_first:
            # Worst case for the zone: the delivery is read last.
            await own_topic()
            for event in (log, follow_up):
                await handle(replay, svc.handlers.raise_issues_from_visit_log, event, now)
            await handle(replay, svc.handlers.remember_customer_zone, customer, now)
        else:
            # The visit logs first, before the customer's zone is known: the re-derived
            # IssueRaised counts in Shanghai until the published one replaces it.
            for event in (log, follow_up):
                await handle(replay, svc.handlers.raise_issues_from_visit_log, event, now)
            await own_topic()
            await handle(replay, svc.handlers.remember_customer_zone, customer, now)

        rebuilt = await ledger(replay)
        rebuilt_schedule = await schedule(replay)
        rebuilt_issue = await history.load_issue(replay, raising.issue_id_for_problem("P-1"))
        re_emitted = {e.id for e in await published(replay)}
    finally:
        await replay.close()

    assert rebuilt == live
    assert rebuilt_schedule == live_schedule
    assert rebuilt_issue is not None and live_issue is not None
    assert rebuilt_issue.timezone == "Europe/Berlin"
    assert rebuilt_issue.raised == live_issue.raised
    assert rebuilt_issue.pauses == live_issue.pauses
    assert rebuilt_issue.rounds == live_issue.rounds
    assert rebuilt_issue.breaches == live_issue.breaches
    # Whatever the replay derived again has the id of what was published: no new fact.
    assert re_emitted <= {e.id for e in own}


async def test_one_sweep_records_each_newly_breached_clock_once_across_batches(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schedule_sql, "SWEEP_BATCH", 7)
    escalated: list[model.Breach] = []
    svc = issues_deps(OFFICIAL, MANAGERS, on_breach=escalated.append)
    t0 = at(2026, 3, 2, 10)  # Monday
    for n in range(30):
        command = raising.RaiseComplaint(
            customer_id=f"C-{n}", category="complaint", severity="general", description="late"
        )
        await svc.commands.raise_complaint(conn, command, f"key-{n}", t0 + timedelta(minutes=n))

    # Tuesday 10:00:30: first response (24 h) has run out for the first complaint only: one
    # escalation line naming it. By 10:21:30, 21 more: one line for the lot (no alert storm).
    with capture_logs() as one:
        await tick(conn, svc, t0 + timedelta(hours=24, seconds=30))
    with capture_logs() as many:
        await tick(conn, svc, t0 + timedelta(hours=24, minutes=21, seconds=30))
    first_id = next(r["issue_id"] for r in await ledger(conn) if r["customer_id"] == "C-0")
    [single] = [e for e in one if e["log_level"] == "error"]
    assert (single["issue_id"], single["clock"], single["escalate_to"]) == (
        first_id,
        "first_response",
        "M-CS",
    )
    [grouped] = [e for e in many if e["log_level"] == "error"]
    assert (grouped["breaches"], grouped["escalate_to"], grouped["clock"]) == (
        21,
        "M-CS",
        "first_response",
    )
    assert len(grouped["issue_ids"]) == 20 and first_id not in grouped["issue_ids"]
    tuesday = [e.data for e in await published(conn) if e.type == "IssueSlaBreached"]
    # Wednesday 00:00: every first response and every handover (end of Tuesday) has run out.
    await tick(conn, svc, at(2026, 3, 4))
    await tick(conn, svc, at(2026, 3, 4))  # the same time again: nothing new

    breaches = [e.data for e in await published(conn) if e.type == "IssueSlaBreached"]
    assert len(tuesday) == 22 and {b.clock for b in tuesday} == {"first_response"}
    assert len(breaches) == 60
    assert sorted((b.issue_id, b.clock) for b in breaches) == sorted(
        {(b.issue_id, b.clock) for b in breaches}
    )
    assert {b.escalate_to for b in breaches} == {"M-CS"}
    assert len(escalated) == 60
    assert await conn.fetchval("SELECT count(*) FROM issue_breached") == 30
    # Only resolution is left to breach, on each of the 30.
    assert await conn.fetchval("SELECT count(*) FROM issue_breach_schedule") == 30


async def test_a_scheduled_clock_whose_breach_is_already_stored_is_recorded_once_among_new_ones(
    conn: asyncpg.Connection,
) -> None:
    """The sweep's plain insert meets a stored breach (its schedule row put back, as a corner
    could): that slice is recorded again with dedup; the new breaches beside it still land."""
    escalated: list[model.Breach] = []
    svc = issues_deps(OFFICIAL, MANAGERS, on_breach=escalated.append)
    t0 = at(2026, 3, 2, 10)  # Monday
    for n in range(3):
        command = raising.RaiseComplaint(
            customer_id=f"C-{n}", category="complaint", severity="general", description="late"
        )
        await svc.commands.raise_complaint(conn, command, f"key-{n}", t0 + timedelta(minutes=n))
    first = next(r["issue_id"] for r in await ledger(conn) if r["customer_id"] == "C-0")
    row = await conn.fetchrow(
        "SELECT * FROM issue_breach_schedule WHERE issue_id = $1 AND clock = 'first_response'",
        first,
    )
    # Tuesday 10:00:30: C-0's first response (24 h) has run out, recorded.
    await tick(conn, svc, t0 + timedelta(hours=24, seconds=30))
    assert [(b.issue_id, b.clock) for b in escalated] == [(first, "first_response")]
    await conn.execute(
        f"INSERT INTO issue_breach_schedule ({', '.join(row.keys())}) "
        f"VALUES ({', '.join(f'${i + 1}' for i in range(len(row)))})",
        *row.values(),
    )
    # 10:02:30: C-1 and C-2 too; C-0's clock, back on the schedule, is found again.
    await tick(conn, svc, t0 + timedelta(hours=24, minutes=2, seconds=30))

    breaches = [e for e in await published(conn) if e.type == "IssueSlaBreached"]
    assert sorted(e.data.customer_id for e in breaches) == ["C-0", "C-1", "C-2"]
    assert [b.customer_id for b in escalated] == ["C-0", "C-1", "C-2"]
    stored = await conn.fetchval(
        "SELECT count(*) FROM issue_event WHERE type = 'IssueSlaBreached' AND issue_id = $1", first
    )
    assert stored == 1
    assert not [r for r in await schedule(conn) if r["clock"] == "first_response"]
    assert await conn.fetchval("SELECT count(*) FROM issue_breached") == 3


async def test_locking_many_issues_takes_at_most_one_lock_per_stripe_and_excludes_each_issue(
    infra: Infra,
) -> None:
    """A sweep of 40,000 issues once exhausted PostgreSQL's shared lock table; the stripes bound
    a transaction's locks, and an issue's own lock still waits for the sweep's."""
    dsn = await ledger_db(infra)
    sweep, command = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        ids = [f"I-{n:06d}" for n in range(30_000)]
        async with sweep.transaction():
            assert await history.ordered_ids(sweep, ids, lock=True) == sorted(ids)
            held = await sweep.fetchval(
                """SELECT count(*) FROM pg_locks
                   WHERE locktype = 'advisory' AND pid = pg_backend_pid()"""
            )
            assert held == history.ISSUE_LOCK_STRIPES
            await command.execute("SET lock_timeout = '200ms'")
            with pytest.raises(asyncpg.LockNotAvailableError):
                async with command.transaction():
                    await history.load_issue(command, "I-012345", lock=True)
        async with command.transaction():  # the sweep committed: the issue is free
            assert await history.load_issue(command, "I-012345", lock=True) is None
    finally:
        await sweep.close()
        await command.close()


async def test_an_official_year_loaded_later_moves_open_deadlines_once_and_finished_ones_never(
    conn: asyncpg.Connection,
) -> None:
    before = issues_deps(PROVISIONAL, MANAGERS)
    t0 = at(2026, 2, 13, 18, 5)  # Friday before Spring Festival 2026
    for key in ("open", "done"):
        command = raising.RaiseComplaint(
            customer_id=f"C-{key}", category="fault", severity="general", description="no sound"
        )
        await before.commands.raise_complaint(conn, command, key, t0)
    # Counted on the provisional calendar (no make-up days): handover Tue 24, resolution Thu 26.
    await tick(conn, before, t0)  # the first run on a database remembers the years only
    rows = {r["customer_id"]: r["issue_id"] for r in await ledger(conn)}
    t1 = at(2026, 2, 13, 19)
    done = rows["C-done"]
    await before.commands.assign_issue(conn, done, lifecycle.AssignIssue("E-1"), admin("S-1"), t1)
    resolve = lifecycle.ResolveIssue("fixed on the phone")
    await before.commands.resolve_issue(conn, done, resolve, admin("E-1"), t1)
    assert await ledger_sql.official_years_counted(conn) == sorted(PROVISIONAL.years_official())

    # The service restarts with the official 2026 data: Sat Feb 14 is a make-up working day.
    after = issues_deps(OFFICIAL, MANAGERS)
    t2 = at(2026, 2, 13, 20)
    await tick(conn, after, t2)
    await tick(conn, issues_deps(OFFICIAL, MANAGERS), t2 + timedelta(minutes=1))  # restarted

    moved = [e.data for e in await published(conn) if e.type == "IssueDeadlinesRecomputed"]
    assert [(m.issue_id, m.handover_by, m.resolve_by) for m in moved] == [
        (rows["C-open"], at(2026, 2, 14, 23, 59, 59), at(2026, 2, 25, 23, 59, 59))
    ]
    assert moved[0].previous_handover_by == at(2026, 2, 24, 23, 59, 59)
    assert await ledger_sql.official_years_counted(conn) == sorted(OFFICIAL.years_official())
    finished = await history.load_issue(conn, done)
    assert finished is not None and finished.current_round.deadline == at(2026, 2, 26, 23, 59, 59)


async def test_issues_stored_before_the_breach_schedule_are_scheduled_and_swept_after_upgrade(
    infra: Infra, tmp_path: Path
) -> None:
    # A database as migrations 0001-0003 left it, with two complaints raised on Monday 10:00
    # and 11:00; the first one's first response breach already recorded.
    for old in sorted(MIGRATIONS.glob("000[123]_*.sql")):
        (tmp_path / old.name).write_text(old.read_text())
    dsn = await create_database(infra.pg_admin_dsn, prefix="issues_upgrade")
    await migrate(dsn, service="issues", migrations_dir=tmp_path)
    conn = await asyncpg.connect(dsn)
    try:
        issues = []
        for n, raised_at in enumerate((at(2026, 3, 2, 10), at(2026, 3, 2, 11))):
            command = raising.RaiseComplaint(
                customer_id=f"C-{n}", category="technical", severity="general", description="x"
            )
            raised = raising.raise_complaint(command, f"I-{n}", raised_at, OFFICIAL)
            assert isinstance(raised, IssueRaised)
            issues.append(model.open_issue(raised))
        [first_response] = clocks.detect_breaches(
            issues[0], at(2026, 3, 3, 10, 30), cal=OFFICIAL, managers=MANAGERS
        )
        issues[0] = model.evolve(issues[0], first_response)
        for issue in issues:
            for event in issue.history:
                await conn.execute(
                    """INSERT INTO issue_event (issue_id, event_id, type, data)
                       VALUES ($1, $2, $3, $4::jsonb)""",
                    issue.issue_id,
                    event_id_of(event),
                    type(event).__name__,
                    event.model_dump_json(exclude_none=True),
                )
            r = issue.raised
            await conn.execute(
                """INSERT INTO issue (issue_id, customer_id, status, department, category,
                                      severity, source, raised_at, breached, timezone,
                                      next_breach_at, updated_at)
                   VALUES ($1, $2, 'raised', $3, $4, $5, $6, $7, $8, $9, $10, $7)""",
                issue.issue_id,
                r.customer_id,
                r.department,
                r.category,
                r.severity,
                r.source,
                r.raised_at,
                issue.breached,
                issue.timezone,
                clocks.next_breach_at(issue, at(2026, 3, 3, 10, 30), OFFICIAL),
            )

        # The service starts on the new code: 0004 applies, and the first tick, after the second
        # complaint's first response ran out (Tue 11:00), schedules both and records it.
        await migrate(dsn, service="issues", migrations_dir=MIGRATIONS)
        assert await conn.fetchval("SELECT count(*) FROM issue_breach_schedule") == 0
        listed = await conn.fetch("SELECT issue_id FROM issue_breached")
        assert [r["issue_id"] for r in listed] == ["I-0"]
        svc = issues_deps(OFFICIAL, MANAGERS)
        now = at(2026, 3, 3, 11, 30)
        await tick(conn, svc, now)
        await tick(conn, svc, now + timedelta(minutes=1))

        breaches = [e.data for e in await published(conn) if e.type == "IssueSlaBreached"]
        assert [(b.issue_id, b.clock) for b in breaches] == [("I-1", "first_response")]
        assert await conn.fetchval("SELECT count(*) FROM issue_schedule_backfill") == 0
        for issue_id in ("I-0", "I-1"):
            folded = await history.load_issue(conn, issue_id)
            assert folded is not None and folded.breached
            scheduled = await schedule_sql.scheduled_clocks(conn, [issue_id])
            assert sorted(scheduled, key=lambda s: clocks.CLOCK_ORDER[s.clock]) == (
                clocks.breach_schedule(folded, now, OFFICIAL)
            )
            assert sorted(s.clock for s in scheduled) == ["handover", "resolution"]
        assert await conn.fetchval("SELECT count(*) FROM issue_breached") == 2
    finally:
        await conn.close()
