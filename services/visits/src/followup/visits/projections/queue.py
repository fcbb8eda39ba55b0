"""The queue row of each visit (the table the API lists), written from the folded visit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from followup.visits.domain.model import Visit

VISIT_UPSERT = """
    ON CONFLICT (visit_id) DO UPDATE SET
        order_id = EXCLUDED.order_id, kinds = EXCLUDED.kinds, status = EXCLUDED.status,
        agent_id = EXCLUDED.agent_id, due_at = EXCLUDED.due_at,
        deadline = EXCLUDED.deadline, attempt = EXCLUDED.attempt,
        issue_id = EXCLUDED.issue_id, completed_at = EXCLUDED.completed_at,
        completed_by = EXCLUDED.completed_by, on_time = EXCLUDED.on_time,
        spot_check = EXCLUDED.spot_check, updated_at = EXCLUDED.updated_at,
        rescheduled_to = EXCLUDED.rescheduled_to
"""
VISIT_COLUMNS_IN = """visit_id, customer_id, order_id, kinds, status, agent_id, due_at, deadline,
                       attempt, issue_id, completed_at, completed_by, on_time, spot_check,
                       updated_at, rescheduled_to"""
VISIT_VALUES = """$1::text, $2::text, $3::text, $4::text[], $5::text, $6::text,
                   $7::timestamptz, $8::timestamptz, $9::smallint, $10::text, $11::timestamptz,
                   $12::text, $13::boolean, $14::text, $15::timestamptz, $16::timestamptz"""


# Upserts the queue row from $1..$16 once a WITH item `appended` says the event was new.
UPSERT_IF_APPENDED = f"""INSERT INTO visit ({VISIT_COLUMNS_IN})
SELECT {VISIT_VALUES} FROM appended
{VISIT_UPSERT}"""


def row_values(visit: Visit, now: datetime) -> tuple[Any, ...]:
    due = visit.due
    completion = visit.completion
    return (
        visit.visit_id,
        visit.customer_id,
        due.order_id if due else None,
        list(due.kinds) if due else [],
        visit.status.value,
        visit.assigned_agent_id,
        due.due_at if due else None,
        visit.deadline,
        due.attempt if due else None,
        due.issue_id if due else None,
        completion.logged_at if completion else None,
        completion.agent_id if completion else None,
        visit.completed_on_time,
        visit.spot_check.result if visit.spot_check else None,
        now,
        visit.rescheduled_to,
    )


async def save_visit_row(conn: asyncpg.Connection, visit: Visit, now: datetime) -> None:
    """The queue row the API reads, from the folded visit."""
    await conn.execute(
        f"INSERT INTO visit ({VISIT_COLUMNS_IN}) VALUES ({VISIT_VALUES}) {VISIT_UPSERT}",
        *row_values(visit, now),
    )


async def save_visit_rows(conn: asyncpg.Connection, visits: list[Visit], now: datetime) -> None:
    """The queue rows of many folded visits, pipelined."""
    if visits:
        await conn.executemany(
            f"INSERT INTO visit ({VISIT_COLUMNS_IN}) VALUES ({VISIT_VALUES}) {VISIT_UPSERT}",
            [row_values(v, now) for v in visits],
        )


async def visits_of_customer_needing_agent(conn: asyncpg.Connection, customer_id: str) -> list[str]:
    """Open visits of a customer with nobody assigned yet."""
    rows = await conn.fetch(
        "SELECT visit_id FROM visit WHERE customer_id = $1 AND agent_id IS NULL", customer_id
    )
    return [r["visit_id"] for r in rows]


_OPEN = "('due', 'missed', 'rescheduled')"


async def open_loads(conn: asyncpg.Connection, agent_ids: list[str]) -> dict[str, int]:
    """How many open visits each of these agents has (routing's least-loaded pick)."""
    rows = await conn.fetch(
        f"""SELECT agent_id, count(*) AS n FROM visit
            WHERE agent_id = ANY($1::text[]) AND status IN {_OPEN} GROUP BY agent_id""",
        agent_ids,
    )
    return {r["agent_id"]: r["n"] for r in rows}


async def open_visit_ids_of(
    conn: asyncpg.Connection, agent_ids: list[str], limit: int = 5000
) -> list[str]:
    """Open visits assigned to these agents (the re-routing of inactive agents' work)."""
    rows = await conn.fetch(
        f"""SELECT visit_id FROM visit WHERE agent_id = ANY($1::text[]) AND status IN {_OPEN}
            ORDER BY deadline, visit_id LIMIT $2""",
        agent_ids,
        limit,
    )
    return [r["visit_id"] for r in rows]


# The clock's sweeps, each over the index its condition matches (visit_by_status for the
# missed one, the partial visit_rescheduled for the other).
_OVERDUE = """SELECT visit_id FROM visit WHERE status = 'due' AND deadline < $1
              ORDER BY deadline LIMIT $2"""
_BACK_DUE = """SELECT visit_id FROM visit WHERE status = 'rescheduled' AND rescheduled_to <= $1
               ORDER BY rescheduled_to LIMIT $2"""


async def overdue_visit_ids(
    conn: asyncpg.Connection, now: datetime, limit: int = 5000
) -> list[str]:
    """Due visits whose deadline has passed: the missed sweep's work."""
    return [r["visit_id"] for r in await conn.fetch(_OVERDUE, now, limit)]


async def rescheduled_visit_ids(
    conn: asyncpg.Connection, now: datetime, limit: int = 5000
) -> list[str]:
    """Rescheduled visits whose time has come: the sweep that puts them back in the queue."""
    return [r["visit_id"] for r in await conn.fetch(_BACK_DUE, now, limit)]


VISIT_COLUMNS = """visit_id, customer_id, order_id, kinds, status, agent_id, due_at, deadline,
                   attempt, issue_id, completed_at, completed_by, on_time, spot_check,
                   rescheduled_to"""


async def list_visits(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    agent_id: str | None,
    customer_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
    unassigned: bool = False,
    agent_ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Visits ordered by deadline, keyset-paginated; `unassigned` keeps those nobody has,
    `agent_ids` those of these agents (a supervisor's teams)."""
    # One statement per combination of filters, holding only the conditions in use: a catch-all
    # `($1 IS NULL OR status = $1)` is planned anew on every call (its generic plan is a
    # sequential scan), while this one's cached plan is the index scan matching it exactly
    # (the due queue: visit_queue on agent_id, status, deadline, visit_id).
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("agent_id", agent_id), ("status", status), ("customer_id", customer_id)):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    if unassigned:
        where.append("agent_id IS NULL")
    if agent_ids is not None:
        args.append(agent_ids)
        where.append(f"agent_id = ANY(${len(args)}::text[])")
    if after is not None:
        args += after
        where.append(f"(deadline, visit_id) > (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {VISIT_COLUMNS} FROM visit"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY deadline, visit_id LIMIT ${len(args)}",
        *args,
    )
    return [dict(r) for r in rows]


async def get_visit_row(conn: asyncpg.Connection, visit_id: str) -> dict[str, Any] | None:
    """One queue row."""
    row = await conn.fetchrow(f"SELECT {VISIT_COLUMNS} FROM visit WHERE visit_id = $1", visit_id)
    return dict(row) if row else None
