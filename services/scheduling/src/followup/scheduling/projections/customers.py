"""Customers' rows and their facts (deliveries, resolved issues), read and written a whole batch
of customers at a time."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import asyncpg

from followup.core import pgcopy
from followup.scheduling.domain.model import CustomerState, Profile


async def lock_customers(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> tuple[dict[str, Profile], dict[str, datetime | None]]:
    """The customers that have a row, locked for the re-plan: their Profile and how far their
    stored plan reaches. The others are new: save_customers writes their rows.

    Locked in id order, so two transactions touching the same customers never deadlock. A
    new customer is not locked: their row is written with a COPY at the end, which fails the
    whole batch on the key if another transaction wrote it meanwhile (the consumer then
    retries the batch's events one at a time, when the row exists). Writing each new row once,
    complete, instead of an empty row to lock and an update, halves what a new customer costs.
    """
    rows = await conn.fetch(
        """SELECT customer_id, tier, segment, timezone, profile_at, region, account_manager_id,
                  intent_signed_at, project_started_at, planned_until
           FROM customer WHERE customer_id = ANY($1::text[])
           ORDER BY customer_id FOR UPDATE""",
        customer_ids,
    )
    profiles = {
        r[0]: Profile(
            tier=r[1],
            segment=r[2],
            timezone=r[3],
            profile_at=r[4],
            region=r[5],
            account_manager_id=r[6],
            intent_signed_at=r[7],
            project_started_at=r[8],
        )
        for r in rows
    }
    return profiles, {r[0]: r[9] for r in rows}


async def customers_stored_short(
    conn: asyncpg.Connection, before: datetime, limit: int = 500
) -> list[str]:
    """Customers whose stored plan ends before `before` (the index on planned_until)."""
    rows = await conn.fetch(
        """SELECT customer_id FROM customer WHERE planned_until < $1
           ORDER BY planned_until, customer_id LIMIT $2""",
        before,
        limit,
    )
    return [r[0] for r in rows]


async def planned_until(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> dict[str, datetime | None]:
    """How far these customers' stored plans reach."""
    rows = await conn.fetch(
        "SELECT customer_id, planned_until FROM customer WHERE customer_id = ANY($1::text[])",
        customer_ids,
    )
    return {r[0]: r[1] for r in rows}


async def stored_until(conn: asyncpg.Connection, customer_id: str) -> tuple[bool, datetime | None]:
    """Whether the customer is known, and how far their stored plan reaches."""
    row = await conn.fetchrow(
        "SELECT planned_until FROM customer WHERE customer_id = $1", customer_id
    )
    return (False, None) if row is None else (True, row[0])


async def load_deliveries(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> dict[str, dict[str, datetime]]:
    """customer -> order -> delivered_at."""
    return await _by_customer(
        conn,
        """SELECT customer_id, order_id, delivered_at FROM delivery
           WHERE customer_id = ANY($1::text[])""",
        customer_ids,
    )


async def load_resolved_issues(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> dict[str, dict[str, datetime]]:
    """customer -> issue -> resolved_at."""
    return await _by_customer(
        conn,
        """SELECT customer_id, issue_id, resolved_at FROM resolved_issue
           WHERE customer_id = ANY($1::text[])""",
        customer_ids,
    )


async def _by_customer(
    conn: asyncpg.Connection, query: str, customer_ids: Sequence[str]
) -> dict[str, dict[str, datetime]]:
    """(customer, key, instant) rows as customer -> key -> instant."""
    out: dict[str, dict[str, datetime]] = {}
    for r in await conn.fetch(query, customer_ids):
        out.setdefault(r[0], {})[r[1]] = r[2]
    return out


async def insert_deliveries(
    conn: asyncpg.Connection, rows: Sequence[tuple[str, str, datetime, str, str, str]]
) -> None:
    """(customer_id, order_id, delivered_at, product, tier, event_id): new orders of locked
    (or new) customers, with one COPY (text format, as the plan's visits)."""
    if not rows:
        return
    await pgcopy.copy_lines(
        conn,
        "delivery",
        ("customer_id", "order_id", "delivered_at", "product", "tier", "event_id"),
        [pgcopy.row((c, o, at.isoformat(), p, t, e)) for c, o, at, p, t, e in rows],
    )


async def upsert_resolved_issues(
    conn: asyncpg.Connection, rows: Sequence[tuple[str, str, datetime]]
) -> None:
    """(issue_id, customer_id, resolved_at); the latest resolution of an issue counts."""
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO resolved_issue (issue_id, customer_id, resolved_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
        ON CONFLICT (issue_id) DO UPDATE SET
            resolved_at = GREATEST(resolved_issue.resolved_at, EXCLUDED.resolved_at)
        """,
        *(list(col) for col in zip(*rows, strict=True)),
    )


async def save_customers(
    conn: asyncpg.Connection,
    states: Mapping[str, CustomerState],
    planned_until: Mapping[str, datetime | None],
    now: datetime,
    new: Collection[str] = (),
) -> None:
    """Writes the customers' folded profiles and how far their plans reach: the rows of the
    `new` ones (see lock_customers), with a COPY; the others' (locked) rows, updated."""
    if new:
        await _copy_customers(conn, states, planned_until, now, new)
    ids = [c for c in states if c not in new] if new else list(states)
    if not ids:
        return
    ps = [states[i].profile for i in ids]
    await conn.execute(
        """
        UPDATE customer c SET tier = u.tier, segment = u.segment, timezone = u.timezone,
               profile_at = u.profile_at, region = u.region,
               account_manager_id = u.account_manager_id,
               intent_signed_at = u.intent_signed_at, project_started_at = u.project_started_at,
               planned_until = u.planned_until, updated_at = $11
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                    $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[],
                    $10::timestamptz[])
             AS u(customer_id, tier, segment, timezone, profile_at, region, account_manager_id,
                  intent_signed_at, project_started_at, planned_until)
        WHERE c.customer_id = u.customer_id
        """,
        ids,
        [p.tier for p in ps],
        [p.segment for p in ps],
        [p.timezone for p in ps],
        [p.profile_at for p in ps],
        [p.region for p in ps],
        [p.account_manager_id for p in ps],
        [p.intent_signed_at for p in ps],
        [p.project_started_at for p in ps],
        [planned_until.get(i) for i in ids],
        now,
    )


_CUSTOMER_COLUMNS = (
    "customer_id",
    "tier",
    "segment",
    "timezone",
    "profile_at",
    "region",
    "account_manager_id",
    "intent_signed_at",
    "project_started_at",
    "planned_until",
    "updated_at",
)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


async def _copy_customers(
    conn: asyncpg.Connection,
    states: Mapping[str, CustomerState],
    planned_until: Mapping[str, datetime | None],
    now: datetime,
    ids: Collection[str],
) -> None:
    """New customers' rows, with one COPY (text format)."""
    updated = now.isoformat()
    lines = []
    for c in ids:
        p = states[c].profile
        lines.append(
            pgcopy.row(
                (
                    c,
                    p.tier,
                    p.segment,
                    p.timezone,
                    _iso(p.profile_at),
                    p.region,
                    p.account_manager_id,
                    _iso(p.intent_signed_at),
                    _iso(p.project_started_at),
                    _iso(planned_until.get(c)),
                    updated,
                )
            )
        )
    await pgcopy.copy_lines(conn, "customer", _CUSTOMER_COLUMNS, lines)


async def lock_states(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> tuple[dict[str, CustomerState], dict[str, datetime | None], set[str]]:
    """The customers' folded states, locked (see lock_customers), how far their stored plans
    reach, and which are new (an empty state and no plan end).

    Deliveries and issues are read only for customers with a stored plan end: a delivery or a
    resolved issue always sets one (in the transaction that stores it), so the others, new
    customers mostly, have none, and a batch of new customers skips both reads.
    """
    profiles, reach = await lock_customers(conn, customer_ids)
    new = {c for c in customer_ids if c not in profiles}
    for c in new:
        reach[c] = None
    known = [c for c, at in reach.items() if at is not None]
    deliveries = await load_deliveries(conn, known) if known else {}
    issues = await load_resolved_issues(conn, known) if known else {}
    none: dict[str, datetime] = {}
    states = {
        c: CustomerState(
            profiles[c] if c in profiles else Profile(),
            deliveries.get(c, none),
            issues.get(c, none),
        )
        for c in customer_ids
    }
    return states, reach, new


async def customer_timezone(conn: asyncpg.Connection, customer_id: str) -> str | None:
    """The customer's zone (None: unknown or no such customer), the row locked."""
    zone: str | None = await conn.fetchval(
        "SELECT timezone FROM customer WHERE customer_id = $1 FOR UPDATE", customer_id
    )
    return zone
