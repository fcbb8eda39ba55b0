"""Issues' read-model SQL: the events of each issue, its ledger row."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from followup.calendar import BusinessCalendar
from followup.core.outbox import OutboxRow, outbox_cte, outbox_params
from followup.events import model_for
from followup.issues import domain


def _to_json(event: domain.IssueEvent) -> tuple[str, str]:
    return type(event).__name__, event.model_dump_json(exclude_none=True)


def _from_json(type_: str, data: Any) -> domain.IssueEvent:
    raw = data if isinstance(data, str) else orjson.dumps(data)
    return cast(domain.IssueEvent, model_for(type_).model_validate_json(raw))


async def append_issue_event(
    conn: asyncpg.Connection, issue_id: str, event_id: str, event: domain.IssueEvent
) -> bool:
    """Stores an event this service decided; False when that event id was already stored."""
    type_, data = _to_json(event)
    status = await conn.execute(
        """INSERT INTO issue_event (issue_id, event_id, type, data)
           VALUES ($1, $2, $3, $4::text::jsonb)
           ON CONFLICT (event_id) DO NOTHING""",
        issue_id,
        event_id,
        type_,
        data,
    )
    return bool(status.endswith(" 1"))


async def store_published_event(
    conn: asyncpg.Connection, issue_id: str, event_id: str, event: domain.IssueEvent
) -> bool:
    """Stores an event read back from followup.issues; False when it was stored as it is.

    The topic is the record: where a replay re-derived an event under the same id with other
    content (a customer's zone not yet known, say), the published version replaces it.
    """
    type_, data = _to_json(event)
    status = await conn.execute(
        """INSERT INTO issue_event (issue_id, event_id, type, data)
           VALUES ($1, $2, $3, $4::text::jsonb)
           ON CONFLICT (event_id) DO UPDATE SET type = EXCLUDED.type, data = EXCLUDED.data
           WHERE issue_event.type IS DISTINCT FROM EXCLUDED.type
              OR issue_event.data IS DISTINCT FROM EXCLUDED.data""",
        issue_id,
        event_id,
        type_,
        data,
    )
    return bool(status.endswith(" 1"))


async def remember_customer_zone(conn: asyncpg.Connection, customer_id: str, tz: str) -> None:
    """The customer's IANA zone, from their latest delivery or signed intent."""
    await conn.execute(
        """INSERT INTO customer_zone (customer_id, timezone) VALUES ($1, $2)
           ON CONFLICT (customer_id) DO UPDATE SET timezone = EXCLUDED.timezone""",
        customer_id,
        tz,
    )


async def customer_zone(conn: asyncpg.Connection, customer_id: str) -> str | None:
    """The customer's zone if a delivery or intent named one."""
    zone: str | None = await conn.fetchval(
        "SELECT timezone FROM customer_zone WHERE customer_id = $1", customer_id
    )
    return zone


async def load_issue(
    conn: asyncpg.Connection, issue_id: str, *, lock: bool = False
) -> domain.Issue | None:
    """The issue folded from its stored events."""
    if lock:
        await _lock_issues(conn, [issue_id])
    rows = await conn.fetch(
        "SELECT type, data::text AS data FROM issue_event WHERE issue_id = $1 ORDER BY seq",
        issue_id,
    )
    if not rows:
        return None
    return domain.fold(_from_json(r["type"], r["data"]) for r in rows)


async def _ordered_ids(conn: asyncpg.Connection, issue_ids: list[str], *, lock: bool) -> list[str]:
    """The distinct ids in one order, their lock stripes taken first when `lock`."""
    ordered = sorted(set(issue_ids))
    if lock:
        await _lock_issues(conn, ordered)
    return ordered


# Issues are locked by stripe (advisory locks in their own key space), not one lock each:
# PostgreSQL's shared lock table holds max_locks_per_transaction x max_connections locks in
# all (~6,400 by default), so a sweep locking 40,000 issues in its transaction ran out of
# shared memory, was retried as transient, and stalled the consumer. 2,048 stripes bound any
# transaction's locks; the price is that a command may wait behind an unrelated issue's sweep.
ISSUE_LOCK_SPACE = 0x155E
ISSUE_LOCK_STRIPES = 2048


def issue_lock_stripe(issue_id: str) -> int:
    """The stripe whose lock covers this issue (stable across processes and releases)."""
    return zlib.crc32(issue_id.encode()) % ISSUE_LOCK_STRIPES


async def _lock_issues(conn: asyncpg.Connection, issue_ids: list[str]) -> None:
    # Ascending in one statement, so two lockers of many issues never wait on each other.
    stripes = sorted({issue_lock_stripe(i) for i in issue_ids})
    if len(stripes) == 1:
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1::int, $2::int)", ISSUE_LOCK_SPACE, *stripes
        )
        return
    await conn.execute(
        """SELECT pg_advisory_xact_lock($1::int, s)
           FROM unnest($2::int[]) WITH ORDINALITY AS t(s, n) ORDER BY n""",
        ISSUE_LOCK_SPACE,
        stripes,
    )


async def load_issues(
    conn: asyncpg.Connection, issue_ids: list[str], *, lock: bool = False
) -> list[domain.Issue]:
    """Many issues folded from their stored events, in one read (locked like load_issue)."""
    if not issue_ids:
        return []
    ordered = await _ordered_ids(conn, issue_ids, lock=lock)
    rows = await conn.fetch(
        """SELECT issue_id, type, data::text AS data FROM issue_event
           WHERE issue_id = ANY($1::text[]) ORDER BY issue_id, seq""",
        ordered,
    )
    events: dict[str, list[domain.IssueEvent]] = {}
    for r in rows:
        events.setdefault(r["issue_id"], []).append(_from_json(r["type"], r["data"]))
    issues = (domain.fold(evs) for evs in events.values())
    return [i for i in issues if i is not None]


async def append_issue_events(
    conn: asyncpg.Connection, events: list[tuple[str, str, domain.IssueEvent]]
) -> list[bool]:
    """Stores many (issue id, event id, event); for each, whether it was new."""
    if not events:
        return []
    encoded = [_to_json(e) for _, _, e in events]
    rows = await conn.fetch(
        """INSERT INTO issue_event (issue_id, event_id, type, data)
           SELECT issue_id, event_id, type, data::jsonb
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                AS e(issue_id, event_id, type, data)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING event_id""",
        [issue_id for issue_id, _, _ in events],
        [event_id for _, event_id, _ in events],
        [type_ for type_, _ in encoded],
        [data for _, data in encoded],
    )
    new = {r["event_id"] for r in rows}
    return [event_id in new for _, event_id, _ in events]


# An issue's ledger row, whether it is breached, and its breach schedule (the clocks still able
# to breach), saved together after each of its events: the schedule rows it no longer has go,
# the others are upserted. One statement, for one issue or many.
_SAVE_ROWS = """
WITH row_ AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::text[])
        AS r(issue_id, customer_id, status, paused, department, owner_id, category, severity,
             source, raised_at, timezone)
), breached AS (
    SELECT r.*, f.breached
    FROM row_ r JOIN unnest($1::text[], $12::bool[]) AS f(issue_id, breached) USING (issue_id)
), listed AS (
    INSERT INTO issue_breached (issue_id, customer_id, status, paused, department, owner_id,
                                category, severity, source, raised_at)
    SELECT issue_id, customer_id, status, paused, department, owner_id, category, severity,
           source, raised_at
    FROM breached WHERE breached
    ON CONFLICT (issue_id) DO UPDATE SET
        status = EXCLUDED.status, paused = EXCLUDED.paused,
        department = EXCLUDED.department, owner_id = EXCLUDED.owner_id
    WHERE (issue_breached.status, issue_breached.paused, issue_breached.department,
           issue_breached.owner_id)
          IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.paused, EXCLUDED.department,
                            EXCLUDED.owner_id)
), unlisted AS (
    DELETE FROM issue_breached l USING breached b
    WHERE l.issue_id = b.issue_id AND NOT b.breached
), scheduled AS (
    SELECT * FROM unnest($13::text[], $14::text[], $15::int[], $16::timestamptz[], $17::text[],
                         $18::text[], $19::text[], $20::text[])
        AS s(issue_id, clock, round, deadline, customer_id, department, owner_id, timezone)
), unscheduled AS (
    DELETE FROM issue_breach_schedule s
    WHERE s.issue_id = ANY($1::text[])
      AND NOT EXISTS (SELECT 1 FROM scheduled n WHERE n.issue_id = s.issue_id AND n.clock = s.clock)
), rescheduled AS (
    INSERT INTO issue_breach_schedule (issue_id, clock, round, deadline, customer_id, department,
                                       owner_id, timezone)
    SELECT * FROM scheduled
    ON CONFLICT (issue_id, clock) DO UPDATE SET
        round = EXCLUDED.round, deadline = EXCLUDED.deadline,
        customer_id = EXCLUDED.customer_id, department = EXCLUDED.department,
        owner_id = EXCLUDED.owner_id, timezone = EXCLUDED.timezone
    WHERE (issue_breach_schedule.round, issue_breach_schedule.deadline,
           issue_breach_schedule.department, issue_breach_schedule.owner_id,
           issue_breach_schedule.timezone)
          IS DISTINCT FROM
          (EXCLUDED.round, EXCLUDED.deadline, EXCLUDED.department, EXCLUDED.owner_id,
           EXCLUDED.timezone)
)
INSERT INTO issue (issue_id, customer_id, status, paused, department, owner_id, category,
                   severity, source, raised_at, timezone, updated_at)
SELECT *, $21::timestamptz FROM row_
ON CONFLICT (issue_id) DO UPDATE SET
    status = EXCLUDED.status, paused = EXCLUDED.paused,
    department = EXCLUDED.department, owner_id = EXCLUDED.owner_id,
    timezone = EXCLUDED.timezone, updated_at = EXCLUDED.updated_at
"""


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as one list per column (unnest's arguments)."""
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _row(issue: domain.Issue) -> tuple[Any, ...]:
    raised = issue.raised
    return (
        issue.issue_id,
        issue.customer_id,
        issue.status.value,
        issue.is_paused,
        issue.department,
        issue.owner_id,
        raised.category,
        raised.severity,
        raised.source,
        raised.raised_at,
        issue.timezone,
    )


def _scheduled(s: domain.ScheduledClock) -> tuple[Any, ...]:
    return (
        s.issue_id,
        s.clock.value,
        s.round,
        s.deadline,
        s.customer_id,
        s.department,
        s.owner_id,
        s.timezone,
    )


async def save_issue_row(
    conn: asyncpg.Connection, issue: domain.Issue, now: datetime, cal: BusinessCalendar
) -> None:
    """The ledger row the API lists and the issue's breach schedule, from the folded issue."""
    await save_issue_rows(conn, [issue], now, cal)


async def save_issue_rows(
    conn: asyncpg.Connection, issues: list[domain.Issue], now: datetime, cal: BusinessCalendar
) -> None:
    """Many ledger rows and their breach schedules at once."""
    if not issues:
        return
    scheduled = [_scheduled(s) for i in issues for s in domain.breach_schedule(i, now, cal)]
    await conn.execute(
        _SAVE_ROWS,
        *_columns([_row(i) for i in issues], 11),
        [i.breached for i in issues],
        *_columns(scheduled, 8),
        now,
    )


async def official_years_counted(conn: asyncpg.Connection) -> list[int] | None:
    """The official calendar years deadlines were last counted on (None: never recorded)."""
    years: list[int] | None = await conn.fetchval(
        "SELECT official_years FROM calendar_state WHERE id = 1"
    )
    return None if years is None else list(years)


async def remember_official_years(conn: asyncpg.Connection, years: list[int]) -> None:
    await conn.execute(
        """INSERT INTO calendar_state (id, official_years) VALUES (1, $1)
           ON CONFLICT (id) DO UPDATE SET official_years = EXCLUDED.official_years""",
        years,
    )


async def open_issues_that_may_count_days_in(conn: asyncpg.Connection, year: int) -> list[str]:
    """Open issues whose working days may fall in `year` or later.

    Deadlines lie at most a few weeks after their clock starts, so issues raised before the
    December ahead of that year cannot reach it, unless reopened since.
    """
    rows = await conn.fetch(
        """SELECT issue_id FROM issue
           WHERE status IN ('raised', 'assigned', 'reopened')
             AND (raised_at >= make_timestamptz($1 - 1, 12, 1, 0, 0, 0, 'UTC')
                  OR status = 'reopened')""",
        year,
    )
    return [r["issue_id"] for r in rows]


# Clocks one breach sweep round reads: 10,000 breaches of a large clock advance take one round,
# whose recording is pipelined in slices (handlers.RECORD_SLICE).
SWEEP_BATCH = 20_000
# Issues folded at once to fill the schedule of a database from before it.
BACKFILL_BATCH = 5000


async def issues_past_breach_time(
    conn: asyncpg.Connection, now: datetime, limit: int = SWEEP_BATCH
) -> list[str]:
    """Issues with a scheduled clock past its deadline, earliest first (an index, not a scan).

    At most `limit` clocks are read, so fewer issues may come back than there are.
    """
    rows = await conn.fetch(
        """SELECT issue_id FROM issue_breach_schedule WHERE deadline < $1
           ORDER BY deadline LIMIT $2""",
        now,
        limit,
    )
    return list(dict.fromkeys(r["issue_id"] for r in rows))


async def scheduled_clocks(
    conn: asyncpg.Connection,
    issue_ids: list[str],
    *,
    due_before: datetime | None = None,
    lock: bool = False,
) -> list[domain.ScheduledClock]:
    """The scheduled clocks of these issues (only those due before `due_before` if given),
    locked like load_issue, then read."""
    read = await read_scheduled_clocks(conn, issue_ids, due_before=due_before, lock=lock)
    return [clock for part in read.slices(len(read) or 1) for clock in part]


class ScheduledClocksRead:
    """Scheduled-clock rows as read, grouped by issue, turned into domain.ScheduledClock a
    slice at a time (so a sweep converts each slice while the previous one is stored)."""

    def __init__(self, rows: list[asyncpg.Record]) -> None:
        self._rows = sorted(rows, key=lambda r: r[0])

    def __len__(self) -> int:
        return len(self._rows)

    def slices(self, size: int) -> Iterator[list[domain.ScheduledClock]]:
        """About `size` clocks each, never splitting an issue's clocks."""
        rows, start = self._rows, 0
        while start < len(rows):
            end = min(start + size, len(rows))
            while end < len(rows) and rows[end][0] == rows[end - 1][0]:
                end += 1
            yield [_scheduled_clock(r) for r in rows[start:end]]
            start = end


def _scheduled_clock(r: asyncpg.Record) -> domain.ScheduledClock:
    return domain.ScheduledClock(
        issue_id=r[0],
        customer_id=r[4],
        clock=_CLOCKS[r[1]],
        round=r[2],
        # Stored as an instant; the domain names it in the customer's zone (ZoneInfo caches).
        deadline=r[3].astimezone(ZoneInfo(r[7])),
        department=r[5],
        owner_id=r[6],
        timezone=r[7],
    )


async def read_scheduled_clocks(
    conn: asyncpg.Connection,
    issue_ids: list[str],
    *,
    due_before: datetime | None = None,
    lock: bool = False,
) -> ScheduledClocksRead:
    """`scheduled_clocks`, left as rows to convert slice by slice."""
    if not issue_ids:
        return ScheduledClocksRead([])
    # Locked before the read (its own statement, so it sees what a command committed
    # meanwhile), in one order, as load_issues.
    ordered = await _ordered_ids(conn, issue_ids, lock=lock)
    # Joined with unnest, not `= ANY($1)`: with thousands of ids the planner scanned the whole
    # schedule for the latter (0.3 s at 1M issues), one index probe per issue for the former.
    rows = await conn.fetch(
        """SELECT s.issue_id, s.clock, s.round, s.deadline, s.customer_id, s.department,
                  s.owner_id, s.timezone
           FROM unnest($1::text[]) AS t(issue_id)
           JOIN issue_breach_schedule s ON s.issue_id = t.issue_id
           WHERE $2::timestamptz IS NULL OR s.deadline < $2""",
        ordered,
        due_before,
    )
    return ScheduledClocksRead(rows)


# Enum construction by value costs ~3 µs; a dict lookup a tenth of that.
_CLOCKS = {c.value: c for c in domain.Clock}


def _record_breaches_sql(*, dedup: bool) -> str:
    """One statement: the events (once per id when `dedup`), their clocks off the schedule,
    their issues listed as breached, and the outbox rows of the events it stored."""
    return f"""
WITH breach AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
        AS b(issue_id, clock, event_id, data)
), stored AS (
    INSERT INTO issue_event (issue_id, event_id, type, data)
    SELECT issue_id, event_id, $5, data::jsonb FROM breach
    {"ON CONFLICT (event_id) DO NOTHING" if dedup else ""}
    RETURNING event_id
), unscheduled AS (
    DELETE FROM issue_breach_schedule s USING breach b
    WHERE s.issue_id = b.issue_id AND s.clock = b.clock
), listed AS (
    INSERT INTO issue_breached (issue_id, customer_id, status, paused, department, owner_id,
                                category, severity, source, raised_at)
    SELECT issue_id, customer_id, status, paused, department, owner_id, category, severity,
           source, raised_at
    FROM issue WHERE issue_id IN (SELECT issue_id FROM breach)
    ON CONFLICT (issue_id) DO NOTHING
), {outbox_cte(6, only_ids_in="stored")}
SELECT event_id FROM stored
"""


# A clock still on the schedule has not breached: its event is new but for a corner (stored,
# then the schedule row put back by a replay's own-topic read, say). The plain insert spares
# the extra index probe per event that ON CONFLICT or NOT EXISTS costs (~10% of the sweep);
# the corner fails it with a unique violation and is recorded again with ON CONFLICT.
_RECORD_NEW_BREACHES = _record_breaches_sql(dedup=False)
_RECORD_BREACHES = _record_breaches_sql(dedup=True)


async def begin_record_breaches(
    conn: asyncpg.Connection,
    breaches: Sequence[tuple[str, domain.Breach]],
    outbox: Sequence[OutboxRow],
) -> asyncio.Future[list[bool]]:
    """Starts storing each (event id, breach) once, taking its clock off the schedule, listing
    its issue as breached and outboxing the events it stored (`outbox`: their rows, in the
    same order), in one statement; the future gives, for each, whether it was new.

    The statement is on its way when this returns, so the caller can prepare the next while
    the database works; the connection is the future's until it is done.
    The same ledger the fold gives: a breach adds to the issue's breaches and moves no
    other clock's deadline (checked against the fold in tests/integration).
    """
    args = (
        [b.issue_id for _, b in breaches],
        [b.clock for _, b in breaches],
        [event_id for event_id, _ in breaches],
        [b.model_dump_json(exclude_none=True) for _, b in breaches],
        domain.Breach.__name__,
        *outbox_params(outbox),
    )
    # Taken here, not in the task: the task's first step must send the statement itself.
    savepoint = conn.transaction()
    await savepoint.start()

    async def record() -> list[bool]:
        try:
            rows = await conn.fetch(_RECORD_NEW_BREACHES, *args)
        except asyncpg.UniqueViolationError:
            await savepoint.rollback()
            rows = await conn.fetch(_RECORD_BREACHES, *args)
        else:
            await savepoint.commit()
        new = {r["event_id"] for r in rows}
        return [event_id in new for event_id, _ in breaches]

    storing = asyncio.ensure_future(record())
    await asyncio.sleep(0)
    return storing


async def record_breaches(
    conn: asyncpg.Connection,
    breaches: Sequence[tuple[str, domain.Breach]],
    outbox: Sequence[OutboxRow],
) -> list[bool]:
    """`begin_record_breaches`, awaited."""
    if not breaches:
        return []
    return await (await begin_record_breaches(conn, breaches, outbox))


async def issues_to_schedule(conn: asyncpg.Connection, limit: int = BACKFILL_BATCH) -> list[str]:
    """Issues stored before the breach schedule existed, still to be scheduled."""
    rows = await conn.fetch("SELECT issue_id FROM issue_schedule_backfill LIMIT $1", limit)
    return [r["issue_id"] for r in rows]


async def forget_to_schedule(conn: asyncpg.Connection, issue_ids: list[str]) -> None:
    """These issues have their breach schedule now."""
    await conn.execute(
        "DELETE FROM issue_schedule_backfill WHERE issue_id = ANY($1::text[])", issue_ids
    )


LIST_COLUMNS = (
    "issue_id",
    "customer_id",
    "status",
    "paused",
    "department",
    "owner_id",
    "category",
    "severity",
    "source",
    "raised_at",
)


async def list_issues(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    department: str | None,
    breached: bool | None,
    customer_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Issues, newest first, keyset-paginated."""
    # One statement per combination of filters (each prepared once per connection), so each
    # is planned for what it filters on. Breached issues are walked in their own index, newest
    # first, unless one customer's few issues are asked for.
    args: list[Any] = []

    def param(value: Any, cast_: str = "") -> str:
        args.append(value)
        return f"${len(args)}{cast_}"

    from_breached = breached is True and customer_id is None
    key = "b" if from_breached else "i"
    where = []
    if status is not None:
        where.append(f"{key}.status = {param(status)}")
    if department is not None:
        where.append(f"{key}.department = {param(department)}")
    if customer_id is not None:
        where.append(f"i.customer_id = {param(customer_id)}")
    if breached is not None and not from_breached:
        where.append(f"x.issue_id IS {'NOT ' if breached else ''}NULL")
    if after is not None:
        at, issue_id = param(after[0], "::timestamptz"), param(after[1], "::text")
        where.append(f"({key}.raised_at, {key}.issue_id) < ({at}, {issue_id})")
    # A left join, not EXISTS (…): PostgreSQL hashed the whole of issue_breached for the latter,
    # once per query (~40 ms at 100,000 issues), where a page needs one index probe per row.
    # Joined on raised_at too, so the probes walk issue_breached_by_raised in the page's own
    # order (~2 µs each) rather than its primary key at random (~7 µs; 0.36 against 0.84 ms a
    # page over 1M issues). Breached issues carry the listed columns: their walk reads no other
    # table.
    source = (
        "issue_breached b"
        if from_breached
        else "issue i LEFT JOIN issue_breached x"
        " ON x.raised_at = i.raised_at AND x.issue_id = i.issue_id"
    )
    flag = "true" if from_breached else "x.issue_id IS NOT NULL"
    columns = ", ".join(f"{key}.{c}" for c in LIST_COLUMNS)
    rows = await conn.fetch(
        f"""SELECT {columns}, {flag} AS breached FROM {source}
            {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY {key}.raised_at DESC, {key}.issue_id DESC
            LIMIT {param(limit)}""",
        *args,
    )
    return [dict(r) for r in rows]
