"""Visits' read-model SQL: the events of each visit, its queue row, customers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from followup.events import VisitDue, VisitLogged, VisitSpotChecked
from followup.visits.domain import Visit, VisitEvent, VisitMissed, evolve

_MODELS: dict[str, type[VisitDue] | type[VisitLogged] | type[VisitSpotChecked]] = {
    "VisitDue": VisitDue,
    "VisitLogged": VisitLogged,
    "VisitSpotChecked": VisitSpotChecked,
}


async def append_visit_event(
    conn: asyncpg.Connection, visit_id: str, event_id: str, event: VisitEvent
) -> bool:
    """Stores one event of a visit; False when that event id was already stored."""
    if isinstance(event, VisitMissed):
        type_, data = (
            "VisitMissed",
            {"visit_id": event.visit_id, "missed_at": event.missed_at.isoformat()},
        )
    else:
        type_, data = type(event).__name__, event.model_dump(mode="json", exclude_none=True)
    status = await conn.execute(
        """INSERT INTO visit_event (visit_id, event_id, type, data) VALUES ($1, $2, $3, $4)
           ON CONFLICT (event_id) DO NOTHING""",
        visit_id,
        event_id,
        type_,
        orjson.dumps(data).decode(),
    )
    return bool(status.endswith(" 1"))


def _event_from_row(row: asyncpg.Record) -> VisitEvent:
    data = row["data"] if isinstance(row["data"], dict) else orjson.loads(row["data"])
    if row["type"] == "VisitMissed":
        return VisitMissed(data["visit_id"], datetime.fromisoformat(data["missed_at"]))
    return _MODELS[row["type"]].model_validate_json(orjson.dumps(data))


async def load_visit(
    conn: asyncpg.Connection, visit_id: str, *, lock: bool = False
) -> Visit | None:
    """The visit folded from its stored events, with the customer's account manager."""
    if lock:
        # Serialises commands on one visit (two agents logging it at once).
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", visit_id)
    rows = await conn.fetch(
        "SELECT type, data FROM visit_event WHERE visit_id = $1 ORDER BY seq", visit_id
    )
    visit: Visit | None = None
    for row in rows:
        visit = evolve(visit, _event_from_row(row))
    if visit is None:
        return None
    manager = await conn.fetchval(
        "SELECT account_manager_id FROM customer WHERE customer_id = $1", visit.customer_id
    )
    if manager:
        from followup.visits.domain import assign_account_manager

        visit = assign_account_manager(visit, manager)
    return visit


async def save_visit_row(conn: asyncpg.Connection, visit: Visit, now: datetime) -> None:
    """The queue row the API reads, from the folded visit."""
    due = visit.due
    completion = visit.completion
    await conn.execute(
        """
        INSERT INTO visit (visit_id, customer_id, order_id, kinds, status, agent_id, due_at,
                           deadline, attempt, issue_id, completed_at, completed_by, on_time,
                           spot_check, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        ON CONFLICT (visit_id) DO UPDATE SET
            order_id = EXCLUDED.order_id, kinds = EXCLUDED.kinds, status = EXCLUDED.status,
            agent_id = EXCLUDED.agent_id, due_at = EXCLUDED.due_at,
            deadline = EXCLUDED.deadline, attempt = EXCLUDED.attempt,
            issue_id = EXCLUDED.issue_id, completed_at = EXCLUDED.completed_at,
            completed_by = EXCLUDED.completed_by, on_time = EXCLUDED.on_time,
            spot_check = EXCLUDED.spot_check, updated_at = EXCLUDED.updated_at
        """,
        visit.visit_id,
        visit.customer_id,
        due.order_id if due else None,
        list(due.kinds) if due else [],
        visit.status.value,
        visit.assigned_agent_id,
        due.due_at if due else None,
        due.deadline if due else None,
        due.attempt if due else None,
        due.issue_id if due else None,
        completion.logged_at if completion else None,
        completion.agent_id if completion else None,
        visit.completed_on_time,
        visit.spot_check.result if visit.spot_check else None,
        now,
    )


async def upsert_customer(
    conn: asyncpg.Connection,
    customer_id: str,
    account_manager_id: str | None,
    contact_ciphertext: bytes | None,
    now: datetime,
) -> None:
    """The customer's account manager and sealed contact."""
    await conn.execute(
        """
        INSERT INTO customer (customer_id, account_manager_id, contact_ciphertext, updated_at)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (customer_id) DO UPDATE SET
            account_manager_id = COALESCE(EXCLUDED.account_manager_id,
                                          customer.account_manager_id),
            contact_ciphertext = COALESCE(EXCLUDED.contact_ciphertext,
                                          customer.contact_ciphertext),
            updated_at = EXCLUDED.updated_at
        """,
        customer_id,
        account_manager_id,
        contact_ciphertext,
        now,
    )


async def visits_of_customer_needing_agent(conn: asyncpg.Connection, customer_id: str) -> list[str]:
    """Open visits of a customer with nobody assigned yet."""
    rows = await conn.fetch(
        "SELECT visit_id FROM visit WHERE customer_id = $1 AND agent_id IS NULL", customer_id
    )
    return [r["visit_id"] for r in rows]


async def overdue_visit_ids(
    conn: asyncpg.Connection, now: datetime, limit: int = 5000
) -> list[str]:
    """Due visits whose deadline has passed: the missed sweep's work (index on status)."""
    rows = await conn.fetch(
        """SELECT visit_id FROM visit WHERE status = 'due' AND deadline < $1
           ORDER BY deadline LIMIT $2""",
        now,
        limit,
    )
    return [r["visit_id"] for r in rows]


VISIT_COLUMNS = """visit_id, customer_id, order_id, kinds, status, agent_id, due_at, deadline,
                   attempt, issue_id, completed_at, completed_by, on_time, spot_check"""


async def list_visits(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    agent_id: str | None,
    customer_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Visits ordered by deadline, keyset-paginated."""
    rows = await conn.fetch(
        f"""
        SELECT {VISIT_COLUMNS} FROM visit
        WHERE ($1::text IS NULL OR status = $1)
          AND ($2::text IS NULL OR agent_id = $2)
          AND ($3::text IS NULL OR customer_id = $3)
          AND ($4::timestamptz IS NULL OR (deadline, visit_id) > ($4, $5))
        ORDER BY deadline, visit_id
        LIMIT $6
        """,
        status,
        agent_id,
        customer_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [dict(r) for r in rows]


async def get_visit_row(conn: asyncpg.Connection, visit_id: str) -> dict[str, Any] | None:
    """One queue row."""
    row = await conn.fetchrow(f"SELECT {VISIT_COLUMNS} FROM visit WHERE visit_id = $1", visit_id)
    return dict(row) if row else None


async def completed_visit_ids(
    conn: asyncpg.Connection, agent_id: str, start: datetime, end: datetime
) -> list[str]:
    """Visits the agent completed in [start, end), from the log history."""
    rows = await conn.fetch(
        """SELECT DISTINCT visit_id FROM visit_event
           WHERE type = 'VisitLogged' AND data->>'agent_id' = $1
             AND data->>'outcome' = 'completed'
             AND (data->>'logged_at')::timestamptz >= $2
             AND (data->>'logged_at')::timestamptz < $3""",
        agent_id,
        start,
        end,
    )
    return [r["visit_id"] for r in rows]


async def customer_contact(conn: asyncpg.Connection, customer_id: str) -> bytes | None:
    """The sealed contact of a customer."""
    value: bytes | None = await conn.fetchval(
        "SELECT contact_ciphertext FROM customer WHERE customer_id = $1", customer_id
    )
    return value
