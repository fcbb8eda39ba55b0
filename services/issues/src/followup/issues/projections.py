"""Issues' read-model SQL: the events of each issue, its ledger row."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import asyncpg
import orjson

from followup.calendar import BusinessCalendar
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
        """INSERT INTO issue_event (issue_id, event_id, type, data) VALUES ($1, $2, $3, $4)
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
        """INSERT INTO issue_event (issue_id, event_id, type, data) VALUES ($1, $2, $3, $4)
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
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "issue:" + issue_id)
    rows = await conn.fetch(
        "SELECT type, data FROM issue_event WHERE issue_id = $1 ORDER BY seq", issue_id
    )
    if not rows:
        return None
    return domain.fold(_from_json(r["type"], r["data"]) for r in rows)


async def load_issues(
    conn: asyncpg.Connection, issue_ids: list[str], *, lock: bool = False
) -> list[domain.Issue]:
    """Many issues folded from their stored events, in one read (locked like load_issue)."""
    if not issue_ids:
        return []
    ordered = sorted(set(issue_ids))
    if lock:
        # In one order, so two sweeps (or a sweep and a command) never wait on each other.
        await conn.execute(
            """SELECT pg_advisory_xact_lock(hashtext('issue:' || id))
               FROM unnest($1::text[]) WITH ORDINALITY AS t(id, n) ORDER BY n""",
            ordered,
        )
    rows = await conn.fetch(
        """SELECT issue_id, type, data FROM issue_event WHERE issue_id = ANY($1::text[])
           ORDER BY issue_id, seq""",
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
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
           ON CONFLICT (event_id) DO NOTHING
           RETURNING event_id""",
        [issue_id for issue_id, _, _ in events],
        [event_id for _, event_id, _ in events],
        [type_ for type_, _ in encoded],
        [data for _, data in encoded],
    )
    new = {r["event_id"] for r in rows}
    return [event_id in new for _, event_id, _ in events]


_UPSERT_ROW = """
    INSERT INTO issue (issue_id, customer_id, status, paused, department, owner_id,
                       category, severity, source, raised_at, breached, timezone,
                       next_breach_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    ON CONFLICT (issue_id) DO UPDATE SET
        status = EXCLUDED.status, paused = EXCLUDED.paused,
        department = EXCLUDED.department, owner_id = EXCLUDED.owner_id,
        breached = EXCLUDED.breached, timezone = EXCLUDED.timezone,
        next_breach_at = EXCLUDED.next_breach_at, updated_at = EXCLUDED.updated_at
"""


def _row(issue: domain.Issue, now: datetime, cal: BusinessCalendar) -> tuple[Any, ...]:
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
        issue.breached,
        issue.timezone,
        domain.next_breach_at(issue, now, cal),
        now,
    )


async def save_issue_row(
    conn: asyncpg.Connection, issue: domain.Issue, now: datetime, cal: BusinessCalendar
) -> None:
    """The ledger row the API lists, from the folded issue."""
    await conn.execute(_UPSERT_ROW, *_row(issue, now, cal))


async def save_issue_rows(
    conn: asyncpg.Connection, issues: list[domain.Issue], now: datetime, cal: BusinessCalendar
) -> None:
    """Many ledger rows at once."""
    if issues:
        await conn.executemany(_UPSERT_ROW, [_row(i, now, cal) for i in issues])


async def mark_swept(
    conn: asyncpg.Connection, rows: list[tuple[str, bool, datetime | None]], now: datetime
) -> None:
    """After a breach sweep: each (issue, breached, next breach time), in one statement."""
    if not rows:
        return
    await conn.execute(
        """UPDATE issue SET breached = u.breached, next_breach_at = u.next_breach_at,
                  updated_at = $4
           FROM unnest($1::text[], $2::bool[], $3::timestamptz[])
                AS u(issue_id, breached, next_breach_at)
           WHERE issue.issue_id = u.issue_id""",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
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


SWEEP_BATCH = 5000


async def issues_past_breach_time(
    conn: asyncpg.Connection, now: datetime, limit: int = SWEEP_BATCH
) -> list[str]:
    """Issues with a deadline passed whose breach is not recorded yet (an index, not a scan)."""
    rows = await conn.fetch(
        """SELECT issue_id FROM issue WHERE next_breach_at IS NOT NULL AND next_breach_at < $1
           ORDER BY next_breach_at LIMIT $2""",
        now,
        limit,
    )
    return [r["issue_id"] for r in rows]


LIST_COLUMNS = """issue_id, customer_id, status, paused, department, owner_id, category,
                  severity, source, raised_at, breached"""


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
    rows = await conn.fetch(
        f"""
        SELECT {LIST_COLUMNS} FROM issue
        WHERE ($1::text IS NULL OR status = $1)
          AND ($2::text IS NULL OR department = $2)
          AND ($3::boolean IS NULL OR breached = $3)
          AND ($4::text IS NULL OR customer_id = $4)
          AND ($5::timestamptz IS NULL OR (raised_at, issue_id) < ($5, $6))
        ORDER BY raised_at DESC, issue_id DESC
        LIMIT $7
        """,
        status,
        department,
        breached,
        customer_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [dict(r) for r in rows]
