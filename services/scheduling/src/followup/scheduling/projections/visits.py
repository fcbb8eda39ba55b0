"""A visit's life after planning: due, retried, done or missed."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from followup.scheduling.domain.plan import PlannedVisit


async def load_visit(conn: asyncpg.Connection, visit_id: str) -> asyncpg.Record | None:
    """One visit row, locked."""
    return await conn.fetchrow(
        "SELECT * FROM planned_visit WHERE visit_id = $1 FOR UPDATE", visit_id
    )


async def reschedule_visit(conn: asyncpg.Connection, visit: PlannedVisit) -> None:
    """A retry: the same visit, planned again with its next attempt."""
    await conn.execute(
        """UPDATE planned_visit SET kinds = $2, due_at = $3, deadline = $4,
                  deadline_provisional = $5, attempt = $6, reason = $7, status = 'planned'
           WHERE visit_id = $1 AND attempt < $6""",
        visit.visit_id,
        list(visit.kinds),
        visit.due_at,
        visit.deadline,
        visit.deadline_provisional,
        visit.attempt,
        visit.reason,
    )


async def take_due_visits(
    conn: asyncpg.Connection, now: datetime, limit: int = 10000
) -> list[asyncpg.Record]:
    """Planned visits whose due time has come, marked `due` in the same statement."""
    return await conn.fetch(
        """
        UPDATE planned_visit SET status = 'due'
        WHERE visit_id IN (
            SELECT visit_id FROM planned_visit
            WHERE status = 'planned' AND due_at <= $1
            ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING visit_id, customer_id, order_id, kinds, due_at, deadline, attempt, issue_id,
                  agent_id, reason
        """,
        now,
        limit,
    )


async def mark_visits_missed(conn: asyncpg.Connection, now: datetime) -> int:
    """Due visits whose deadline passed without a completed log become `missed`."""
    status = await conn.execute(
        "UPDATE planned_visit SET status = 'missed' WHERE status = 'due' AND deadline < $1", now
    )
    return int(status.split()[-1])


async def mark_visit_done(conn: asyncpg.Connection, visit_id: str) -> None:
    """A completed VisitLogged closes the visit."""
    await conn.execute("UPDATE planned_visit SET status = 'done' WHERE visit_id = $1", visit_id)
