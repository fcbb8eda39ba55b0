"""The notification table: rows stored in a consumer's batch, claimed and settled by workers.

Times are the database's (`clock_timestamp()`), so backoff and leases hold across instances
whatever the service's clock (a simulated one does not delay real people's mail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg

from followup.core.db import Conn, migrate
from followup.core.notify.models import Channel, Delivery, Reason

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCOPE = "notify"
_ERROR_MAX = 500
# A connection in a transaction (the consumer's batch) or the pool (the worker's statements).
Db: TypeAlias = "Conn | asyncpg.Pool"


async def migrate_store(pool: asyncpg.Pool | str) -> list[str]:
    """Creates the notification table in a service's database (its own migration scope)."""
    return await migrate(pool, service=SCOPE, migrations_dir=MIGRATIONS)


@dataclass(frozen=True)
class Pending:
    """A claimed row: what the worker sends, and how many tries it has had with this one."""

    delivery_id: str
    event_id: str
    event_type: str
    person_id: str
    role: str
    channel: Channel
    reason: Reason
    facts: dict[str, Any]
    occurred_at: datetime
    attempts: int


async def store(conn: Db, deliveries: Sequence[Delivery]) -> int:
    """Inserts deliveries not stored before (by delivery id); returns how many were new."""
    if not deliveries:
        return 0
    rows = await conn.fetch(
        """INSERT INTO notification (delivery_id, event_id, event_type, person_id, role,
                                     channel, reason, facts, occurred_at)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                                $6::text[], $7::text[], $8::jsonb[], $9::timestamptz[])
           ON CONFLICT (delivery_id) DO NOTHING
           RETURNING 1""",
        [d.delivery_id for d in deliveries],
        [d.event_id for d in deliveries],
        [d.event_type for d in deliveries],
        [d.person_id for d in deliveries],
        [str(d.role) for d in deliveries],
        [d.channel for d in deliveries],
        [d.reason for d in deliveries],
        [dict(d.facts) for d in deliveries],
        [d.occurred_at for d in deliveries],
    )
    return len(rows)


async def claim(conn: Db, limit: int, lease_s: float) -> list[Pending]:
    """Takes up to `limit` due rows for `lease_s` (another worker skips them meanwhile; a
    worker that dies leaves them due again when the lease ends) and counts the attempt."""
    rows = await conn.fetch(
        """WITH due AS (
               SELECT delivery_id FROM notification
                WHERE state = 'pending' AND next_attempt_at <= clock_timestamp()
                ORDER BY next_attempt_at LIMIT $1
                FOR UPDATE SKIP LOCKED)
           UPDATE notification n
              SET attempts = n.attempts + 1,
                  next_attempt_at = clock_timestamp() + make_interval(secs => $2)
             FROM due WHERE n.delivery_id = due.delivery_id
           RETURNING n.delivery_id::text, n.event_id, n.event_type, n.person_id, n.role,
                     n.channel, n.reason, n.facts, n.occurred_at, n.attempts""",
        limit,
        lease_s,
    )
    return [Pending(**dict(r)) for r in rows]


async def delivered(conn: Db, delivery_id: str) -> float:
    """Marks a row delivered; returns the seconds from storing it to now."""
    seconds = await conn.fetchval(
        """UPDATE notification
              SET state = 'delivered', finished_at = clock_timestamp(), last_error = NULL
            WHERE delivery_id = $1::uuid AND state = 'pending'
           RETURNING extract(epoch FROM clock_timestamp() - created_at)::float8""",
        delivery_id,
    )
    return float(seconds or 0.0)


async def retry_later(conn: Db, delivery_id: str, error: str, after_s: float) -> None:
    """Records a failed attempt; the row is due again in `after_s`."""
    await conn.execute(
        """UPDATE notification
              SET next_attempt_at = clock_timestamp() + make_interval(secs => $3),
                  last_error = $2
            WHERE delivery_id = $1::uuid AND state = 'pending'""",
        delivery_id,
        error[:_ERROR_MAX],
        after_s,
    )


async def dead(conn: Db, delivery_id: str, error: str) -> None:
    """Gives up on a row after its last attempt (or a refusal): a dead letter to inspect."""
    await conn.execute(
        """UPDATE notification
              SET state = 'dead', finished_at = clock_timestamp(), last_error = $2
            WHERE delivery_id = $1::uuid AND state = 'pending'""",
        delivery_id,
        error[:_ERROR_MAX],
    )


async def revive(conn: Db, delivery_ids: Sequence[str] | None = None) -> int:
    """Makes dead rows due again with fresh attempts (all of them without ids)."""
    status = await conn.execute(
        """UPDATE notification
              SET state = 'pending', attempts = 0, next_attempt_at = clock_timestamp(),
                  finished_at = NULL
            WHERE state = 'dead' AND ($1::uuid[] IS NULL OR delivery_id = ANY($1::uuid[]))""",
        list(delivery_ids) if delivery_ids is not None else None,
    )
    return int(status.split()[-1])


async def prune(conn: Db, older_than_days: float) -> int:
    """Forgets rows settled more than this long ago (0 keeps everything)."""
    if older_than_days <= 0:
        return 0
    status = await conn.execute(
        """DELETE FROM notification
            WHERE state <> 'pending'
              AND finished_at < clock_timestamp() - make_interval(secs => $1)""",
        older_than_days * 86400.0,
    )
    return int(status.split()[-1])


async def counts(conn: Db) -> dict[str, int]:
    """Rows by state."""
    rows = await conn.fetch("SELECT state, count(*) AS n FROM notification GROUP BY state")
    return {r["state"]: int(r["n"]) for r in rows}


async def listed(conn: Db, state: str | None, limit: int) -> list[dict[str, Any]]:
    """Rows, newest first, of one state or all: what operators look at (no facts)."""
    rows = await conn.fetch(
        """SELECT delivery_id::text, event_id, event_type, person_id, channel, state, attempts,
                  last_error, created_at, finished_at
             FROM notification WHERE ($1::text IS NULL OR state = $1)
            ORDER BY created_at DESC LIMIT $2""",
        state,
        limit,
    )
    return [dict(r) for r in rows]
