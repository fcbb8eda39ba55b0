"""The PostgreSQL side of a visit command: its locks, its load and its one-statement write."""

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
from followup.events import VisitAssigned, VisitLogged, VisitSpotChecked
from followup.visits.domain.model import Visit
from followup.visits.projections.queue import UPSERT_IF_APPENDED, row_values
from followup.visits.projections.visit_events import APPEND_EVENT, LOAD_FROM, event_json, fold_rows


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
LEFT JOIN (SELECT e.seq, {LOAD_FROM.removeprefix(chr(10) + "SELECT ")} WHERE e.visit_id = $1) AS l
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
    return stored, fold_rows([r for r in rows if r["type"] is not None])


_RECORD_COMMAND = f"""
{APPEND_EVENT},
queued AS (
{UPSERT_IF_APPENDED}
    RETURNING 1
),
remembered AS (
    INSERT INTO idempotent_request (key, request_hash, status_code, response, created_at)
    SELECT $20::text, $21::text, $22::int, $23::text::jsonb, $15::timestamptz
    WHERE $20::text IS NOT NULL
    RETURNING 1
),
{outbox_cte(24)}
SELECT count(*) FROM appended
"""


async def record_command_event(
    conn: asyncpg.Connection,
    event_id: str,
    event: VisitLogged | VisitSpotChecked | VisitAssigned,
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
    type_, data = event_json(event)
    key, fingerprint, status, body = answer if answer is not None else (None, None, None, None)
    await conn.execute(
        _RECORD_COMMAND,
        *row_values(visit, now),
        event_id,
        type_,
        data,
        key,
        fingerprint,
        status,
        orjson.dumps(body).decode() if body is not None else None,
        *outbox_params([outbox]),
    )
