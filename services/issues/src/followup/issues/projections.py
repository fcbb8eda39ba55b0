"""Issues' read-model SQL: the events of each issue, its ledger row."""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from enum import Enum
from typing import Any, cast

import asyncpg
import orjson
from pydantic import BaseModel

from followup.calendar import BusinessCalendar
from followup.events import (
    IssueAssigned,
    IssueClosed,
    IssueRaised,
    IssueReopened,
    IssueResolved,
)
from followup.issues import domain

_CONTRACT: dict[str, type[BaseModel]] = {
    m.__name__: m for m in (IssueRaised, IssueAssigned, IssueResolved, IssueReopened, IssueClosed)
}
_INTERNAL: dict[str, type[Any]] = {
    c.__name__: c
    for c in (domain.IssuePaused, domain.IssueResumed, domain.Breach, domain.DeadlinesRecomputed)
}


def _to_json(event: domain.IssueEvent) -> tuple[str, str]:
    if isinstance(event, BaseModel):
        return type(event).__name__, event.model_dump_json(exclude_none=True)
    data = {
        k: (v.isoformat() if isinstance(v, datetime) else v.value if isinstance(v, Enum) else v)
        for k, v in dataclasses.asdict(event).items()
    }
    return type(event).__name__, orjson.dumps(data).decode()


def _from_json(type_: str, data: Any) -> domain.IssueEvent:
    raw = data if isinstance(data, dict) else orjson.loads(data)
    if type_ in _CONTRACT:
        return cast(domain.IssueEvent, _CONTRACT[type_].model_validate_json(orjson.dumps(raw)))
    cls = _INTERNAL[type_]
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value, hint = raw[f.name], hints[f.name]
        if value is not None and "datetime" in str(hint):
            value = datetime.fromisoformat(value)
        elif value is not None and f.name == "clock":
            value = domain.Clock(value)
        values[f.name] = value
    internal: domain.IssueEvent = cls(**values)
    return internal


async def append_issue_event(
    conn: asyncpg.Connection, issue_id: str, event_id: str, event: domain.IssueEvent
) -> bool:
    """Stores one event of an issue; False when that event id was already stored."""
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
    tz = await conn.fetchval("SELECT timezone FROM issue WHERE issue_id = $1", issue_id)
    return domain.fold((_from_json(r["type"], r["data"]) for r in rows), tz)


async def save_issue_row(
    conn: asyncpg.Connection, issue: domain.Issue, now: datetime, cal: BusinessCalendar
) -> None:
    """The ledger row the API lists, from the folded issue."""
    raised = issue.raised
    await conn.execute(
        """
        INSERT INTO issue (issue_id, customer_id, status, paused, department, owner_id,
                           category, severity, source, raised_at, breached, timezone,
                           next_breach_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        ON CONFLICT (issue_id) DO UPDATE SET
            status = EXCLUDED.status, paused = EXCLUDED.paused,
            department = EXCLUDED.department, owner_id = EXCLUDED.owner_id,
            breached = EXCLUDED.breached, next_breach_at = EXCLUDED.next_breach_at,
            updated_at = EXCLUDED.updated_at
        """,
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


async def issues_past_breach_time(
    conn: asyncpg.Connection, now: datetime, limit: int = 5000
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
