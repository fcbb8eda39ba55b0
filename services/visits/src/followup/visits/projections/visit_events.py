"""A visit's stored events: encoded as JSON objects, appended once per id, folded back."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import orjson

from followup.events import (
    VisitAssigned,
    VisitDeadlineRecomputed,
    VisitDue,
    VisitLogged,
    VisitSpotChecked,
)
from followup.visits.domain.model import (
    Visit,
    VisitBackInQueue,
    VisitEvent,
    VisitMissed,
    assign_account_manager,
    evolve,
)
from followup.visits.projections.queue import UPSERT_IF_APPENDED, row_values

_MODELS: dict[
    str,
    type[VisitDue]
    | type[VisitDeadlineRecomputed]
    | type[VisitLogged]
    | type[VisitSpotChecked]
    | type[VisitAssigned],
] = {
    "VisitDue": VisitDue,
    "VisitDeadlineRecomputed": VisitDeadlineRecomputed,
    "VisitLogged": VisitLogged,
    "VisitSpotChecked": VisitSpotChecked,
    "VisitAssigned": VisitAssigned,
}


def event_json(event: VisitEvent) -> tuple[str, str]:
    """An event's type and its data as JSON text (stored as a jsonb object)."""
    if isinstance(event, VisitMissed):
        data = {"visit_id": event.visit_id, "missed_at": event.missed_at.isoformat()}
        return "VisitMissed", orjson.dumps(data).decode()
    if isinstance(event, VisitBackInQueue):
        data = {"visit_id": event.visit_id, "back_at": event.back_at.isoformat()}
        return "VisitBackInQueue", orjson.dumps(data).decode()
    return type(event).__name__, event.model_dump_json(exclude_none=True)


def event_from_row(type_: str, data: str) -> VisitEvent:
    if type_ == "VisitMissed":
        doc = orjson.loads(data)
        return VisitMissed(doc["visit_id"], datetime.fromisoformat(doc["missed_at"]))
    if type_ == "VisitBackInQueue":
        doc = orjson.loads(data)
        return VisitBackInQueue(doc["visit_id"], datetime.fromisoformat(doc["back_at"]))
    # The contract models are strict: their JSON mode is the one that reads RFC 3339 text.
    return _MODELS[type_].model_validate_json(data)


# Rows written before 0002 hold their data as a jsonb string wrapping the JSON document (it was
# encoded twice); `#>> '{}'` unwraps those, so both forms read the same.
LOAD_FROM = """
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
_LOAD = LOAD_FROM + "WHERE e.visit_id = $1 ORDER BY e.seq"
_LOAD_MANY = LOAD_FROM + "WHERE e.visit_id = ANY($1::text[]) ORDER BY e.visit_id, e.seq"


def fold_rows(rows: list[asyncpg.Record]) -> Visit | None:
    """One visit's stored events folded in order, with the customer's account manager."""
    visit: Visit | None = None
    for row in rows:
        visit = evolve(visit, event_from_row(row["type"], row["data"]))
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
    return fold_rows(await conn.fetch(_LOAD, visit_id))


async def load_visits(conn: asyncpg.Connection, visit_ids: list[str]) -> list[Visit]:
    """Many visits folded from their stored events, in one round trip (no lock)."""
    rows = await conn.fetch(_LOAD_MANY, visit_ids)
    visits: list[Visit] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i]["visit_id"] != rows[start]["visit_id"]:
            visit = fold_rows(rows[start:i])
            if visit is not None:
                visits.append(visit)
            start = i
    return visits


# Both recordings append the event ($1 visit, $17 id, $18 type, $19 data) and, only if it was
# new, upsert the visit's queue row from $1..$16.
APPEND_EVENT = """WITH appended AS (
    INSERT INTO visit_event (visit_id, event_id, type, data)
    VALUES ($1, $17, $18, $19::text::jsonb)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING 1
)"""

_RECORD = f"""
{APPEND_EVENT}
{UPSERT_IF_APPENDED}
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
    type_, data = event_json(event)
    if visit is None:
        return bool(await conn.fetchval(_APPEND, visit_id, event_id, type_, data))
    values = row_values(visit, now)
    return bool(await conn.fetchval(_RECORD, *values, event_id, type_, data))


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
    encoded = [event_json(e) for _, _, e in events]
    await conn.execute(
        _APPEND_MANY,
        [v for v, _, _ in events],
        [i for _, i, _ in events],
        [t for t, _ in encoded],
        [d for _, d in encoded],
    )
