"""The stored history of each issue (`issue_event`): appending events, folding them back, and
the issue locks every change takes first."""

from __future__ import annotations

import zlib
from typing import Any, cast

import asyncpg
import orjson

from followup.events import model_for
from followup.issues.domain.model import Issue, IssueEvent, fold


def encode_event(event: IssueEvent) -> tuple[str, str]:
    """An event as stored: its type name and its JSON."""
    return type(event).__name__, event.model_dump_json(exclude_none=True)


def decode_event(type_: str, data: Any) -> IssueEvent:
    """A stored event back as its model."""
    raw = data if isinstance(data, str) else orjson.dumps(data)
    return cast(IssueEvent, model_for(type_).model_validate_json(raw))


async def append_issue_event(
    conn: asyncpg.Connection, issue_id: str, event_id: str, event: IssueEvent
) -> bool:
    """Stores an event this service decided; False when that event id was already stored."""
    type_, data = encode_event(event)
    status = await conn.execute(
        """INSERT INTO issue_event (issue_id, event_id, type, data)
           VALUES ($1, $2, $3, $4::text::jsonb)
           ON CONFLICT (event_id) DO NOTHING""",
        issue_id,
        event_id,
        type_,
        data,
    )
    return bool(status.endswith(" 1"))


async def store_published_event(
    conn: asyncpg.Connection, issue_id: str, event_id: str, event: IssueEvent
) -> bool:
    """Stores an event read back from followup.issues; False when it was stored as it is.

    The topic is the record: where a replay re-derived an event under the same id with other
    content (a customer's zone not yet known, say), the published version replaces it.
    """
    type_, data = encode_event(event)
    status = await conn.execute(
        """INSERT INTO issue_event (issue_id, event_id, type, data)
           VALUES ($1, $2, $3, $4::text::jsonb)
           ON CONFLICT (event_id) DO UPDATE SET type = EXCLUDED.type, data = EXCLUDED.data
           WHERE issue_event.type IS DISTINCT FROM EXCLUDED.type
              OR issue_event.data IS DISTINCT FROM EXCLUDED.data""",
        issue_id,
        event_id,
        type_,
        data,
    )
    return bool(status.endswith(" 1"))


async def load_issue(
    conn: asyncpg.Connection, issue_id: str, *, lock: bool = False
) -> Issue | None:
    """The issue folded from its stored events."""
    if lock:
        await _lock_issues(conn, [issue_id])
    rows = await conn.fetch(
        "SELECT type, data::text AS data FROM issue_event WHERE issue_id = $1 ORDER BY seq",
        issue_id,
    )
    if not rows:
        return None
    return fold(decode_event(r["type"], r["data"]) for r in rows)


async def ordered_ids(conn: asyncpg.Connection, issue_ids: list[str], *, lock: bool) -> list[str]:
    """The distinct ids in one order, their lock stripes taken first when `lock`."""
    ordered = sorted(set(issue_ids))
    if lock:
        await _lock_issues(conn, ordered)
    return ordered


# Issues are locked by stripe (advisory locks in their own key space), not one lock each:
# PostgreSQL's shared lock table holds max_locks_per_transaction x max_connections locks in
# all (~6,400 by default), so a sweep locking 40,000 issues in its transaction ran out of
# shared memory, was retried as transient, and stalled the consumer. 2,048 stripes bound any
# transaction's locks; the price is that a command may wait behind an unrelated issue's sweep.
ISSUE_LOCK_SPACE = 0x155E
ISSUE_LOCK_STRIPES = 2048


def issue_lock_stripe(issue_id: str) -> int:
    """The stripe whose lock covers this issue (stable across processes and releases)."""
    return zlib.crc32(issue_id.encode()) % ISSUE_LOCK_STRIPES


async def _lock_issues(conn: asyncpg.Connection, issue_ids: list[str]) -> None:
    # Ascending in one statement, so two lockers of many issues never wait on each other.
    stripes = sorted({issue_lock_stripe(i) for i in issue_ids})
    if len(stripes) == 1:
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1::int, $2::int)", ISSUE_LOCK_SPACE, *stripes
        )
        return
    await conn.execute(
        """SELECT pg_advisory_xact_lock($1::int, s)
           FROM unnest($2::int[]) WITH ORDINALITY AS t(s, n) ORDER BY n""",
        ISSUE_LOCK_SPACE,
        stripes,
    )


async def load_issues(
    conn: asyncpg.Connection, issue_ids: list[str], *, lock: bool = False
) -> list[Issue]:
    """Many issues folded from their stored events, in one read (locked like load_issue)."""
    if not issue_ids:
        return []
    ordered = await ordered_ids(conn, issue_ids, lock=lock)
    rows = await conn.fetch(
        """SELECT issue_id, type, data::text AS data FROM issue_event
           WHERE issue_id = ANY($1::text[]) ORDER BY issue_id, seq""",
        ordered,
    )
    events: dict[str, list[IssueEvent]] = {}
    for r in rows:
        events.setdefault(r["issue_id"], []).append(decode_event(r["type"], r["data"]))
    issues = (fold(evs) for evs in events.values())
    return [i for i in issues if i is not None]


async def append_issue_events(
    conn: asyncpg.Connection, events: list[tuple[str, str, IssueEvent]]
) -> list[bool]:
    """Stores many (issue id, event id, event); for each, whether it was new."""
    if not events:
        return []
    encoded = [encode_event(e) for _, _, e in events]
    rows = await conn.fetch(
        """INSERT INTO issue_event (issue_id, event_id, type, data)
           SELECT issue_id, event_id, type, data::jsonb
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                AS e(issue_id, event_id, type, data)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING event_id""",
        [issue_id for issue_id, _, _ in events],
        [event_id for _, event_id, _ in events],
        [type_ for type_, _ in encoded],
        [data for _, data in encoded],
    )
    new = {r["event_id"] for r in rows}
    return [event_id in new for _, event_id, _ in events]
