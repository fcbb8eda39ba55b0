"""What readers see: a customer's plan and the planned-visit list."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def customer_plan(
    conn: asyncpg.Connection, customer_id: str
) -> tuple[asyncpg.Record, list[asyncpg.Record]] | None:
    """The customer and every visit of their plan, by due time (None: no such customer)."""
    customer = await conn.fetchrow(
        "SELECT customer_id, tier, segment, timezone, region FROM customer WHERE customer_id = $1",
        customer_id,
    )
    if customer is None:
        return None
    visits = await conn.fetch(
        """
        SELECT visit_id, order_id, kinds, due_at, deadline, deadline_provisional, attempt,
               issue_id, status, reason
        FROM planned_visit WHERE customer_id = $1 ORDER BY due_at, visit_id
        """,
        customer_id,
    )
    return customer, visits


async def list_planned_visits(
    conn: asyncpg.Connection,
    *,
    start: datetime | None,
    end: datetime | None,
    kind: str | None,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Planned visits by due time, keyset-paginated."""
    return await conn.fetch(
        """
        SELECT visit_id, customer_id, order_id, kinds, due_at, deadline, deadline_provisional,
               attempt, issue_id, status, reason
        FROM planned_visit
        WHERE ($1::timestamptz IS NULL OR due_at >= $1)
          AND ($2::timestamptz IS NULL OR due_at < $2)
          AND ($3::text IS NULL OR $3 = ANY(kinds))
          AND ($4::text IS NULL OR status = $4)
          AND ($5::timestamptz IS NULL OR (due_at, visit_id) > ($5, $6))
        ORDER BY due_at, visit_id
        LIMIT $7
        """,
        start,
        end,
        kind,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
