"""Visits' read-model SQL: the events of each visit, its queue row, customers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from followup.core.commands import idempotency_lock_name
from followup.core.outbox import OutboxRow, outbox_cte, outbox_params
from followup.events import VisitDeadlineRecomputed, VisitDue, VisitLogged, VisitSpotChecked
from followup.visits.domain import (
    Visit,
    VisitEvent,
    VisitMissed,
    assign_account_manager,
    evolve,
)

_MODELS: dict[
    str,
    type[VisitDue] | type[VisitDeadlineRecomputed] | type[VisitLogged] | type[VisitSpotChecked],
] = {
    "VisitDue": VisitDue,
    "VisitDeadlineRecomputed": VisitDeadlineRecomputed,
    "VisitLogged": VisitLogged,
    "VisitSpotChecked": VisitSpotChecked,
}


def _event_json(event: VisitEvent) -> tuple[str, str]:
    """An event's type and its data as JSON text (stored as a jsonb object)."""
    if isinstance(event, VisitMissed):
        data = {"visit_id": event.visit_id, "missed_at": event.missed_at.isoformat()}
        return "VisitMissed", orjson.dumps(data).decode()
    return type(event).__name__, event.model_dump_json(exclude_none=True)


def _event_from_row(type_: str, data: str) -> VisitEvent:
    if type_ == "VisitMissed":
        doc = orjson.loads(data)
        return VisitMissed(doc["visit_id"], datetime.fromisoformat(doc["missed_at"]))
    # The contract models are strict: their JSON mode is the one that reads RFC 3339 text.
    return _MODELS[type_].model_validate_json(data)


# Rows written before 0002 hold their data as a jsonb string wrapping the JSON document (it was
# encoded twice); `#>> '{}'` unwraps those, so both forms read the same.
_LOAD_FROM = """
SELECT e.visit_id, e.type,
       CASE WHEN jsonb_typeof(e.data) = 'string' THEN e.data #>> '{}' ELSE e.data::text END
           AS data,
       c.customer_id, c.account_manager_id
FROM visit_event e
LEFT JOIN customer c
       ON c.customer_id = CASE WHEN jsonb_typeof(e.data) = 'string'
                               THEN (e.data #>> '{}')::jsonb ->> 'customer_id'
                               ELSE e.data ->> 'customer_id' END
"""
_LOAD = _LOAD_FROM + "WHERE e.visit_id = $1 ORDER BY e.seq"
_LOAD_MANY = _LOAD_FROM + "WHERE e.visit_id = ANY($1::text[]) ORDER BY e.visit_id, e.seq"


def _fold_rows(rows: list[asyncpg.Record]) -> Visit | None:
    """One visit's stored events folded in order, with the customer's account manager."""
    visit: Visit | None = None
    for row in rows:
        visit = evolve(visit, _event_from_row(row["type"], row["data"]))
    if visit is None:
        return None
    manager = next(
        (r["account_manager_id"] for r in rows if r["customer_id"] == visit.customer_id), None
    )
    return assign_account_manager(visit, manager) if manager else visit


async def load_visit(
    conn: asyncpg.Connection, visit_id: str, *, lock: bool = False
) -> Visit | None:
    """The visit folded from its stored events, with the customer's account manager.

    With `lock`, commands on the visit are serialised until the caller's transaction ends
    (two agents logging it at once, a log racing the consumer's VisitDue): what the caller then
    decides and folds in memory is what the stored events say.
    """
    if lock:
        # Its own statement: in READ COMMITTED the next one's snapshot is taken after the lock
        # is held, so it sees every event committed by the previous holder.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", visit_id)
    # One round trip: the events and, joined on each event's customer, the account manager.
    return _fold_rows(await conn.fetch(_LOAD, visit_id))


async def load_visits(conn: asyncpg.Connection, visit_ids: list[str]) -> list[Visit]:
    """Many visits folded from their stored events, in one round trip (no lock)."""
    rows = await conn.fetch(_LOAD_MANY, visit_ids)
    visits: list[Visit] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i]["visit_id"] != rows[start]["visit_id"]:
            visit = _fold_rows(rows[start:i])
            if visit is not None:
                visits.append(visit)
            start = i
    return visits


_VISIT_UPSERT = """
    ON CONFLICT (visit_id) DO UPDATE SET
        order_id = EXCLUDED.order_id, kinds = EXCLUDED.kinds, status = EXCLUDED.status,
        agent_id = EXCLUDED.agent_id, due_at = EXCLUDED.due_at,
        deadline = EXCLUDED.deadline, attempt = EXCLUDED.attempt,
        issue_id = EXCLUDED.issue_id, completed_at = EXCLUDED.completed_at,
        completed_by = EXCLUDED.completed_by, on_time = EXCLUDED.on_time,
        spot_check = EXCLUDED.spot_check, updated_at = EXCLUDED.updated_at
"""
_VISIT_COLUMNS_IN = """visit_id, customer_id, order_id, kinds, status, agent_id, due_at, deadline,
                       attempt, issue_id, completed_at, completed_by, on_time, spot_check,
                       updated_at"""
_VISIT_VALUES = """$1::text, $2::text, $3::text, $4::text[], $5::text, $6::text,
                   $7::timestamptz, $8::timestamptz, $9::smallint, $10::text, $11::timestamptz,
                   $12::text, $13::boolean, $14::text, $15::timestamptz"""


def _row_values(visit: Visit, now: datetime) -> tuple[Any, ...]:
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
    )


# Both recordings append the event ($1 visit, $16 id, $17 type, $18 data) and, only if it was
# new, upsert the visit's queue row from $1..$15.
_APPEND_EVENT = """WITH appended AS (
    INSERT INTO visit_event (visit_id, event_id, type, data)
    VALUES ($1, $16, $17, $18::text::jsonb)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING 1
)"""
_UPSERT_IF_APPENDED = f"""INSERT INTO visit ({_VISIT_COLUMNS_IN})
SELECT {_VISIT_VALUES} FROM appended
{_VISIT_UPSERT}"""

_RECORD = f"""
{_APPEND_EVENT}
{_UPSERT_IF_APPENDED}
RETURNING true
"""

_APPEND = """
INSERT INTO visit_event (visit_id, event_id, type, data) VALUES ($1, $2, $3, $4::text::jsonb)
ON CONFLICT (event_id) DO NOTHING
RETURNING true
"""


async def record_visit_event(
    conn: asyncpg.Connection,
    visit_id: str,
    event_id: str,
    event: VisitEvent,
    visit: Visit | None,
    now: datetime,
) -> bool:
    """Stores one event of a visit and, in the same statement, the queue row of `visit` (the
    visit with that event folded in; None leaves the row alone). False, and no change at all,
    when that event id was already stored."""
    type_, data = _event_json(event)
    if visit is None:
        return bool(await conn.fetchval(_APPEND, visit_id, event_id, type_, data))
    values = _row_values(visit, now)
    return bool(await conn.fetchval(_RECORD, *values, event_id, type_, data))


def _text_sql(value: str) -> str:
    """A SQL expression of `value` written with hex digits only: safe to inline, whatever the
    text holds."""
    return f"convert_from(decode('{value.encode().hex()}', 'hex'), 'UTF8')"


def _begin_locked_sql(visit_id: str, idempotency_key: str | None) -> str:
    # The Idempotency-Key first, under the name every keyed command takes
    # (`idempotency_lock_name`), then the visit (the name and hash `load_visit(lock=True)`
    # uses): every command takes them in that order, so two never wait for each other in a
    # cycle.
    names = [idempotency_lock_name(idempotency_key)] if idempotency_key is not None else []
    names.append(visit_id)
    locks = ", ".join(f"pg_advisory_xact_lock(hashtext({_text_sql(n)}))" for n in names)
    return f"BEGIN; SELECT {locks}"


@asynccontextmanager
async def command_transaction(
    conn: asyncpg.Connection, visit_id: str, idempotency_key: str | None
) -> AsyncIterator[None]:
    """A transaction holding the key's lock (if any) and the visit's until it ends, begun in
    one round trip; committed when the block ends, rolled back when it raises.

    The simple query protocol carries several statements in one message but no parameters,
    hence the names inlined as hex. The caller's next statement takes its READ COMMITTED
    snapshot after the locks are held, so it sees every event the previous holder committed.
    """
    if conn.is_in_transaction():
        # BEGIN would not nest and COMMIT would end the caller's transaction.
        raise RuntimeError("a visit command runs in a transaction of its own")
    try:
        await conn.execute(_begin_locked_sql(visit_id, idempotency_key))
        yield
    except BaseException:
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


# One anchor row, so the stored answer comes back even when the visit has no events; when the
# visit has some, every event row carries it.
_LOAD_FOR_COMMAND = f"""
SELECT i.request_hash, i.status_code, i.response::text AS response, l.*
FROM (SELECT 1) AS anchor
LEFT JOIN idempotent_request i ON i.key = $2
LEFT JOIN (SELECT e.seq, {_LOAD_FROM.removeprefix(chr(10) + "SELECT ")} WHERE e.visit_id = $1) AS l
       ON true
ORDER BY l.seq
"""


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer a keyed request was given, with the fingerprint of that request."""

    request_hash: str
    status_code: int
    body: dict[str, Any]


async def load_for_command(
    conn: asyncpg.Connection, visit_id: str, idempotency_key: str | None
) -> tuple[StoredAnswer | None, Visit | None]:
    """In one round trip: the answer stored under the Idempotency-Key, if any, and the visit
    folded from its stored events (run it inside `command_transaction`, under the locks)."""
    rows = await conn.fetch(_LOAD_FOR_COMMAND, visit_id, idempotency_key)
    first = rows[0]
    stored = (
        StoredAnswer(first["request_hash"], first["status_code"], orjson.loads(first["response"]))
        if first["request_hash"] is not None
        else None
    )
    return stored, _fold_rows([r for r in rows if r["type"] is not None])


_RECORD_COMMAND = f"""
{_APPEND_EVENT},
queued AS (
{_UPSERT_IF_APPENDED}
    RETURNING 1
),
remembered AS (
    INSERT INTO idempotent_request (key, request_hash, status_code, response, created_at)
    SELECT $19::text, $20::text, $21::int, $22::text::jsonb, $15::timestamptz
    WHERE $19::text IS NOT NULL
    RETURNING 1
),
{outbox_cte(23)}
SELECT count(*) FROM appended
"""


async def record_command_event(
    conn: asyncpg.Connection,
    event_id: str,
    event: VisitLogged | VisitSpotChecked,
    visit: Visit,
    outbox: OutboxRow,
    answer: tuple[str, str, int, dict[str, Any]] | None,
    now: datetime,
) -> None:
    """One statement for all a command writes: the event of the visit, the queue row of
    `visit` (that event folded in), the outbox row publishing it and, for a keyed request,
    `answer` (key, request fingerprint, status, body) for its replays.

    PostgreSQL runs every data-modifying WITH item to completion, read or not.
    """
    type_, data = _event_json(event)
    key, fingerprint, status, body = answer if answer is not None else (None, None, None, None)
    await conn.execute(
        _RECORD_COMMAND,
        *_row_values(visit, now),
        event_id,
        type_,
        data,
        key,
        fingerprint,
        status,
        orjson.dumps(body).decode() if body is not None else None,
        *outbox_params([outbox]),
    )


async def stored_event_ids(conn: asyncpg.Connection, event_ids: list[str]) -> set[str]:
    """Which of these event ids are stored already (one index lookup each, one round trip)."""
    rows = await conn.fetch(
        "SELECT event_id FROM visit_event WHERE event_id = ANY($1::text[])", event_ids
    )
    return {r["event_id"] for r in rows}


_APPEND_MANY = """
INSERT INTO visit_event (visit_id, event_id, type, data)
SELECT v, e, t, d::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(v, e, t, d, n)
ORDER BY n
ON CONFLICT (event_id) DO NOTHING
"""


async def append_visit_events(
    conn: asyncpg.Connection, events: list[tuple[str, str, VisitEvent]]
) -> None:
    """Stores (visit id, event id, event) in order, once per event id, in one statement."""
    encoded = [_event_json(e) for _, _, e in events]
    await conn.execute(
        _APPEND_MANY,
        [v for v, _, _ in events],
        [i for _, i, _ in events],
        [t for t, _ in encoded],
        [d for _, d in encoded],
    )


async def save_visit_row(conn: asyncpg.Connection, visit: Visit, now: datetime) -> None:
    """The queue row the API reads, from the folded visit."""
    await conn.execute(
        f"INSERT INTO visit ({_VISIT_COLUMNS_IN}) VALUES ({_VISIT_VALUES}) {_VISIT_UPSERT}",
        *_row_values(visit, now),
    )


async def save_visit_rows(conn: asyncpg.Connection, visits: list[Visit], now: datetime) -> None:
    """The queue rows of many folded visits, pipelined."""
    if visits:
        await conn.executemany(
            f"INSERT INTO visit ({_VISIT_COLUMNS_IN}) VALUES ({_VISIT_VALUES}) {_VISIT_UPSERT}",
            [_row_values(v, now) for v in visits],
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
