"""Scheduling's read-model SQL: what each fact does to the tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from followup.scheduling.domain import PlannedVisit


async def upsert_customer(conn: asyncpg.Connection, *, customer_id: str, tier: str, segment: str,
                          timezone: str, region: str | None, account_manager_id: str | None,
                          delivered_at: datetime, now: datetime) -> None:
    """Keeps the customer's latest tier and time zone (no personal data here)."""
    await conn.execute(
        """
        INSERT INTO customer (customer_id, tier, segment, timezone, region, account_manager_id,
                              first_delivered_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (customer_id) DO UPDATE SET
            tier = EXCLUDED.tier, segment = EXCLUDED.segment, timezone = EXCLUDED.timezone,
            region = COALESCE(EXCLUDED.region, customer.region),
            account_manager_id = COALESCE(EXCLUDED.account_manager_id, customer.account_manager_id),
            first_delivered_at = LEAST(customer.first_delivered_at, EXCLUDED.first_delivered_at),
            updated_at = EXCLUDED.updated_at
        """,
        customer_id, tier, segment, timezone, region, account_manager_id, delivered_at, now,
    )


async def record_delivery(conn: asyncpg.Connection, *, customer_id: str, order_id: str,
                          delivered_at: datetime, product: str, tier: str,
                          event_id: str) -> bool:
    """Stores a delivery; False when that order was already known."""
    status = await conn.execute(
        """
        INSERT INTO delivery (customer_id, order_id, delivered_at, product, tier, event_id)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING
        """,
        customer_id, order_id, delivered_at, product, tier, event_id,
    )
    return bool(status.endswith(" 1"))


async def add_planned_visits(conn: asyncpg.Connection, visits: Sequence[PlannedVisit],
                             now: datetime) -> None:
    """Adds visits to the plan; a visit already planned (same id) is left as it is."""
    if not visits:
        return
    await conn.executemany(
        """
        INSERT INTO planned_visit (visit_id, customer_id, order_id, kinds, due_at, deadline,
                                   deadline_provisional, attempt, issue_id, reason, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (visit_id) DO NOTHING
        """,
        [(v.visit_id, v.customer_id, v.order_id, list(v.kinds), v.due_at, v.deadline,
          v.deadline_provisional, v.attempt, v.issue_id, v.reason, now) for v in visits],
    )


async def take_due_visits(conn: asyncpg.Connection, now: datetime,
                          limit: int = 5000) -> list[asyncpg.Record]:
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
        now, limit,
    )


async def mark_visits_missed(conn: asyncpg.Connection, now: datetime) -> int:
    """Due visits whose deadline passed without a completed log become `missed`."""
    status = await conn.execute(
        "UPDATE planned_visit SET status = 'missed' WHERE status = 'due' AND deadline < $1", now
    )
    return int(status.split()[-1])


async def mark_visit_done(conn: asyncpg.Connection, visit_id: str) -> None:
    """A completed VisitLogged closes the visit, whatever state it was in."""
    await conn.execute(
        "UPDATE planned_visit SET status = 'done' WHERE visit_id = $1", visit_id
    )


async def customer_plan(conn: asyncpg.Connection, customer_id: str) -> dict[str, Any] | None:
    """The customer and every visit of their plan, by due time."""
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
    return {**dict(customer), "visits": [dict(v) for v in visits]}


async def list_planned_visits(conn: asyncpg.Connection, *, start: datetime | None,
                              end: datetime | None, kind: str | None, status: str | None,
                              after: tuple[datetime, str] | None,
                              limit: int) -> list[asyncpg.Record]:
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
        start, end, kind, status, after[0] if after else None, after[1] if after else None,
        limit,
    )
