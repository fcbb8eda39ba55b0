"""The claim: the statements that make a batch's effect exactly-once.

The invariant, stated once: a batch's transaction stores together the read model's writes, the
next offset of every partition in the batch and the ids of the events it applied, so after any
crash the read model is the effect of each event id once, of exactly the records below the
stored offsets. Two guards keep it:

- Fencing. The transaction opens with a compare-and-set of each partition's stored offset from
  where this consumer left it to the batch's end. The rows stay locked until commit, so a zombie
  that lost the partition in a rebalance can neither overwrite newer progress nor slip in
  between; fewer rows moved than partitions means someone else moved them: the batch is rolled
  back (`Fenced`) and the consumer re-seeks to the stored offsets.
- Dedup. Every id of the batch is inserted into `processed_event` in the same transaction; an id
  already there (the same event at another offset, a redelivery) is not applied again.

Kafka's own committed offsets are written afterwards, for lag tools only; nothing reads them.

The plain path is `claim` at the start of the transaction. With pipelined claims (see
`followup.core.batchtx`) a batch claims its ids (`claim_ahead`) while the batch before it is
still in the database, and moves the offsets (`claim_rest`) once that one has committed: the
same statements, split, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from followup.core.db import Conn
from followup.events import Event

# [topics, partitions, expected next offsets, new next offsets]: the compare-and-set's arguments.
Offsets = list[list[Any]]


class SeenBefore(Exception):
    """The all-new claim met an id already processed: claim the batch again with dedup."""


class Fenced(Exception):
    """The stored offsets are not where this consumer left them (a newer owner, a swap)."""


# The offsets' compare-and-set, as a WITH item returning a row per partition moved.
_MOVED = """moved AS (
    UPDATE consumer_offset o
    SET next_offset = u.next_offset, updated_at = now()
    FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[])
         AS u(topic, partition, expected, next_offset)
    WHERE o.consumer = $1 AND o.topic = u.topic AND o.partition = u.partition
      AND o.next_offset = u.expected
    RETURNING 1
)"""

# The shared head of both claims: the compare-and-set and the insert of the batch's ids (the
# claim that follows decides how a known id is met).
_MOVE_AND_INSERT = f"""WITH {_MOVED}, fresh AS (
    INSERT INTO processed_event (consumer, event_id)
    SELECT $1, json_array_elements_text($6::text::json)"""

# One statement opens every batch: fencing and dedup of the whole batch's ids.
# The ids travel as one JSON array in a text parameter (asyncpg encodes a text[] element by
# element in Python, at several times the cost; text, so no connection's json codec applies),
# and come back only when some were seen before (the rare case).
_CLAIM = f"""
{_MOVE_AND_INSERT}
    ON CONFLICT DO NOTHING
    RETURNING event_id
), counted AS (
    SELECT count(*) AS n FROM fresh
)
SELECT (SELECT count(*) FROM moved) AS moved,
       CASE WHEN (SELECT n FROM counted) < $7 THEN ARRAY(SELECT event_id FROM fresh) END AS fresh
"""

# The same without ON CONFLICT, for when no id of the batch is expected to be known: a plain
# insert costs PostgreSQL about half as much per row (no speculative insertion, no RETURNING).
# Any id seen before raises a unique violation, which rolls the whole batch back; it is then
# claimed again with _CLAIM (and so are the following batches, until one has no duplicate).
_CLAIM_ALL_NEW = f"""
{_MOVE_AND_INSERT}
)
SELECT (SELECT count(*) FROM moved) AS moved, NULL::text[] AS fresh
"""

_AHEAD_ALL_NEW = """
INSERT INTO processed_event (consumer, event_id)
SELECT $1, json_array_elements_text($2::text::json)
"""

_AHEAD = """
WITH fresh AS (
    INSERT INTO processed_event (consumer, event_id)
    SELECT $1, json_array_elements_text($2::text::json)
    ON CONFLICT DO NOTHING
    RETURNING event_id
), counted AS (
    SELECT count(*) AS n FROM fresh
)
SELECT CASE WHEN (SELECT n FROM counted) < $3 THEN ARRAY(SELECT event_id FROM fresh) END
"""

_MOVE = f"""
WITH {_MOVED}
SELECT count(*) FROM moved
"""

_DEDUP = """
INSERT INTO processed_event (consumer, event_id)
SELECT $1, unnest($2::text[])
ON CONFLICT DO NOTHING
RETURNING event_id
"""


def _kept(events: list[Event[Any]], fresh: set[str] | None) -> list[Event[Any]]:
    return events if fresh is None else [e for e in events if e.id in fresh]


async def claim(
    conn: Conn,
    consumer: str,
    offsets: Offsets,
    ids_json: str,
    events: list[Event[Any]],
    *,
    expect_duplicates: bool,
) -> list[Event[Any]]:
    """Moves the offsets (or raises Fenced) and claims the ids; returns the events to apply.

    Without `expect_duplicates` a known id raises SeenBefore (the transaction is then lost).
    """
    args = [consumer, *offsets, ids_json]
    if expect_duplicates:
        row = await conn.fetchrow(_CLAIM, *args, len(events))
    else:
        try:
            row = await conn.fetchrow(_CLAIM_ALL_NEW, *args)
        except asyncpg.UniqueViolationError:
            # Only processed_event's key can be violated by the claim.
            raise SeenBefore() from None
    assert row is not None
    if row["moved"] != len(offsets[0]):
        raise Fenced()
    return _kept(events, None if row["fresh"] is None else set(row["fresh"]))


async def claim_ahead(
    conn: Conn, consumer: str, ids_json: str, n: int, *, expect_duplicates: bool
) -> set[str] | None:
    """Claims ids before the offsets can be moved; returns the fresh ones (None: all of them).

    Without `expect_duplicates` a known id raises asyncpg's UniqueViolationError.
    """
    # consumer_offset before processed_event, as every batch and the replay's swap (which locks
    # it first) take them: a swap then waits for this batch, which cannot wait for it in turn.
    await conn.execute("LOCK TABLE consumer_offset IN ROW EXCLUSIVE MODE")
    if not expect_duplicates:
        await conn.execute(_AHEAD_ALL_NEW, consumer, ids_json)
        return None
    fresh_ids = await conn.fetchval(_AHEAD, consumer, ids_json, n)
    return None if fresh_ids is None else set(fresh_ids)


async def claim_rest(
    conn: Conn,
    consumer: str,
    offsets: Offsets,
    events: list[Event[Any]],
    fresh: set[str] | None,
    late: Sequence[str],
) -> list[Event[Any]]:
    """After `claim_ahead`: moves the offsets (or raises Fenced) and claims the `late` ids
    (those also in the batch before, held back so as not to wait on its uncommitted rows);
    returns the events to apply."""
    if await conn.fetchval(_MOVE, consumer, *offsets) != len(offsets[0]):
        raise Fenced()
    if not late:
        return _kept(events, fresh)
    late_set = set(late)
    late_fresh = await dedup(conn, consumer, late)
    return [
        e
        for e in events
        if (e.id in late_fresh if e.id in late_set else fresh is None or e.id in fresh)
    ]


async def stored_offsets(
    pool: asyncpg.Pool, consumer: str, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """The stored next offset of each partition, creating rows at 0 for new ones.

    Creating the rows here means the compare-and-set always has a row to move (and lock).
    """
    if not tps:
        return {}
    topics_, parts = [tp.topic for tp in tps], [tp.partition for tp in tps]
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO consumer_offset (consumer, topic, partition, next_offset)
               SELECT $1, t, p, 0 FROM unnest($2::text[], $3::int[]) AS u(t, p)
               ON CONFLICT DO NOTHING""",
            consumer,
            topics_,
            parts,
        )
        rows = await conn.fetch(
            """SELECT o.topic, o.partition, o.next_offset FROM consumer_offset o
               JOIN unnest($2::text[], $3::int[]) AS u(t, p)
                 ON o.topic = u.t AND o.partition = u.p
               WHERE o.consumer = $1""",
            consumer,
            topics_,
            parts,
        )
    return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def dedup(conn: Conn, consumer: str, ids: Sequence[str]) -> set[str]:
    """Records the ids as processed in one statement; returns those not seen before."""
    if not ids:
        return set()
    rows = await conn.fetch(_DEDUP, consumer, list(ids))
    return {r[0] for r in rows}
