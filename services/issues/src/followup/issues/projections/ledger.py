"""Issues' ledger: the row the API lists per issue (with its breach schedule), the list itself,
customers' zones and the official calendar years deadlines were counted on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from followup.calendar import BusinessCalendar
from followup.issues.domain.clocks import ScheduledClock, breach_schedule
from followup.issues.domain.model import Issue


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


def _row(issue: Issue) -> tuple[Any, ...]:
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


def _scheduled(s: ScheduledClock) -> tuple[Any, ...]:
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
    conn: asyncpg.Connection, issue: Issue, now: datetime, cal: BusinessCalendar
) -> None:
    """The ledger row the API lists and the issue's breach schedule, from the folded issue."""
    await save_issue_rows(conn, [issue], now, cal)


async def save_issue_rows(
    conn: asyncpg.Connection, issues: list[Issue], now: datetime, cal: BusinessCalendar
) -> None:
    """Many ledger rows and their breach schedules at once."""
    if not issues:
        return
    scheduled = [_scheduled(s) for i in issues for s in breach_schedule(i, now, cal)]
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
