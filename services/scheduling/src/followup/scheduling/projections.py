"""Scheduling's read-model SQL: customer facts, the plan, and the due sweep."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from followup.scheduling.domain import CustomerFacts, Delivery, PlannedVisit, ResolvedIssue


async def upsert_customer_profile(
    conn: asyncpg.Connection,
    *,
    customer_id: str,
    tier: str,
    segment: str,
    timezone: str | None,
    region: str | None,
    account_manager_id: str | None,
    at: datetime,
    now: datetime,
) -> None:
    """The customer's tier, segment and zone as of their latest fact (order-independent)."""
    await conn.execute(
        """
        INSERT INTO customer (customer_id, tier, segment, timezone, profile_at, region,
                              account_manager_id, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (customer_id) DO UPDATE SET
            tier = CASE WHEN (customer.profile_at IS NULL
                              OR EXCLUDED.profile_at >= customer.profile_at)
                        THEN EXCLUDED.tier ELSE customer.tier END,
            segment = CASE WHEN (customer.profile_at IS NULL
                              OR EXCLUDED.profile_at >= customer.profile_at)
                           THEN EXCLUDED.segment ELSE customer.segment END,
            timezone = CASE WHEN (customer.profile_at IS NULL
                              OR EXCLUDED.profile_at >= customer.profile_at)
                            THEN COALESCE(EXCLUDED.timezone, customer.timezone)
                            ELSE COALESCE(customer.timezone, EXCLUDED.timezone) END,
            profile_at = GREATEST(customer.profile_at, EXCLUDED.profile_at),
            region = COALESCE(EXCLUDED.region, customer.region),
            account_manager_id = COALESCE(EXCLUDED.account_manager_id, customer.account_manager_id),
            updated_at = EXCLUDED.updated_at
        """,
        customer_id,
        tier,
        segment,
        timezone,
        at,
        region,
        account_manager_id,
        now,
    )


async def ensure_customer(conn: asyncpg.Connection, customer_id: str, now: datetime) -> None:
    """A customer row, even before their profile is known."""
    await conn.execute(
        "INSERT INTO customer (customer_id, updated_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        customer_id,
        now,
    )


async def record_delivery(
    conn: asyncpg.Connection,
    *,
    customer_id: str,
    order_id: str,
    delivered_at: datetime,
    product: str,
    tier: str,
    event_id: str,
) -> bool:
    """Stores a delivery; False when that order was already known."""
    status = await conn.execute(
        """
        INSERT INTO delivery (customer_id, order_id, delivered_at, product, tier, event_id)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING
        """,
        customer_id,
        order_id,
        delivered_at,
        product,
        tier,
        event_id,
    )
    return bool(status.endswith(" 1"))


async def record_intent_signed(
    conn: asyncpg.Connection, customer_id: str, signed_at: datetime
) -> None:
    """The first signing counts."""
    await conn.execute(
        """UPDATE customer SET intent_signed_at = LEAST(COALESCE(intent_signed_at, $2), $2)
           WHERE customer_id = $1""",
        customer_id,
        signed_at,
    )


async def record_project_started(
    conn: asyncpg.Connection, customer_id: str, started_at: datetime
) -> None:
    """The first start counts: intent follow-ups stop there."""
    await conn.execute(
        """UPDATE customer SET project_started_at = LEAST(COALESCE(project_started_at, $2), $2)
           WHERE customer_id = $1""",
        customer_id,
        started_at,
    )


async def record_issue_resolved(
    conn: asyncpg.Connection, *, issue_id: str, customer_id: str, resolved_at: datetime
) -> None:
    """The latest resolution of an issue asks for its follow-up visit."""
    await conn.execute(
        """
        INSERT INTO resolved_issue (issue_id, customer_id, resolved_at) VALUES ($1, $2, $3)
        ON CONFLICT (issue_id) DO UPDATE SET
            resolved_at = GREATEST(resolved_issue.resolved_at, EXCLUDED.resolved_at)
        """,
        issue_id,
        customer_id,
        resolved_at,
    )


async def load_customer_facts(
    conn: asyncpg.Connection, customer_id: str, default_timezone: str
) -> CustomerFacts | None:
    """Everything the policy needs about one customer, locked for the re-plan."""
    row = await conn.fetchrow(
        """SELECT tier, timezone, intent_signed_at, project_started_at
           FROM customer WHERE customer_id = $1 FOR UPDATE""",
        customer_id,
    )
    if row is None:
        return None
    tz = row["timezone"] or default_timezone
    tier = row["tier"] or "bronze"
    deliveries = await conn.fetch(
        "SELECT order_id, delivered_at, tier FROM delivery WHERE customer_id = $1", customer_id
    )
    issues = await conn.fetch(
        "SELECT issue_id, resolved_at FROM resolved_issue WHERE customer_id = $1", customer_id
    )
    return CustomerFacts(
        customer_id=customer_id,
        tier=tier,
        timezone=tz,
        deliveries=tuple(
            Delivery(customer_id, d["order_id"], d["delivered_at"], d["tier"], tz)
            for d in deliveries
        ),
        intent_signed_at=row["intent_signed_at"],
        project_started_at=row["project_started_at"],
        resolved_issues=tuple(ResolvedIssue(i["issue_id"], i["resolved_at"]) for i in issues),
    )


async def plan_components(
    conn: asyncpg.Connection, customer_id: str
) -> tuple[frozenset[str], frozenset[str]]:
    """Policy components of the customer's published visits and of their open plan."""
    rows = await conn.fetch(
        """SELECT unnest(sources) AS key, status = 'planned' AS open FROM planned_visit
           WHERE customer_id = $1""",
        customer_id,
    )
    return (
        frozenset(r["key"] for r in rows if not r["open"]),
        frozenset(r["key"] for r in rows if r["open"]),
    )


async def replace_open_plan(
    conn: asyncpg.Connection, customer_id: str, visits: Sequence[PlannedVisit], now: datetime
) -> None:
    """Makes the customer's not-yet-due visits exactly `visits` (published ones stay)."""
    await conn.execute(
        """DELETE FROM planned_visit
           WHERE customer_id = $1 AND status = 'planned' AND NOT (visit_id = ANY($2::text[]))""",
        customer_id,
        [v.visit_id for v in visits],
    )
    if not visits:
        return
    await conn.executemany(
        """
        INSERT INTO planned_visit (visit_id, customer_id, order_id, kinds, due_at, deadline,
                                   deadline_provisional, attempt, issue_id, reason, sources,
                                   created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (visit_id) DO UPDATE SET
            kinds = EXCLUDED.kinds, deadline = EXCLUDED.deadline,
            deadline_provisional = EXCLUDED.deadline_provisional, reason = EXCLUDED.reason,
            sources = EXCLUDED.sources, order_id = EXCLUDED.order_id,
            issue_id = EXCLUDED.issue_id
        WHERE planned_visit.status = 'planned'
        """,
        [
            (
                v.visit_id,
                v.customer_id,
                v.order_id,
                list(v.kinds),
                v.due_at,
                v.deadline,
                v.deadline_provisional,
                v.attempt,
                v.issue_id,
                v.reason,
                list(v.sources),
                now,
            )
            for v in visits
        ],
    )


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
