"""The breach schedule (`issue_breach_schedule`): the clocks still able to breach, read by the
sweep in narrow rows, and the breaches it records in one statement each; and the backfill of
issues stored before the schedule existed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from followup.core.outbox import OutboxRow, outbox_cte, outbox_params
from followup.issues.domain.clocks import ScheduledClock
from followup.issues.domain.model import Breach, Clock
from followup.issues.projections.history import ordered_ids

# Clocks one breach sweep round reads: 10,000 breaches of a large clock advance take one round,
# whose recording is pipelined in slices (sweep.RECORD_SLICE).
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
) -> list[ScheduledClock]:
    """The scheduled clocks of these issues (only those due before `due_before` if given),
    locked like load_issue, then read."""
    read = await read_scheduled_clocks(conn, issue_ids, due_before=due_before, lock=lock)
    return [clock for part in read.slices(len(read) or 1) for clock in part]


class ScheduledClocksRead:
    """Scheduled-clock rows as read, grouped by issue, turned into ScheduledClock a
    slice at a time (so a sweep converts each slice while the previous one is stored)."""

    def __init__(self, rows: list[asyncpg.Record]) -> None:
        self._rows = sorted(rows, key=lambda r: r[0])

    def __len__(self) -> int:
        return len(self._rows)

    def slices(self, size: int) -> Iterator[list[ScheduledClock]]:
        """About `size` clocks each, never splitting an issue's clocks."""
        rows, start = self._rows, 0
        while start < len(rows):
            end = min(start + size, len(rows))
            while end < len(rows) and rows[end][0] == rows[end - 1][0]:
                end += 1
            yield [_scheduled_clock(r) for r in rows[start:end]]
            start = end


def _scheduled_clock(r: asyncpg.Record) -> ScheduledClock:
    return ScheduledClock(
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
    ordered = await ordered_ids(conn, issue_ids, lock=lock)
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
_CLOCKS = {c.value: c for c in Clock}


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
    breaches: Sequence[tuple[str, Breach]],
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
        Breach.__name__,
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
    breaches: Sequence[tuple[str, Breach]],
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
