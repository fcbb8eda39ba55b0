"""Handler attempts counted in the database, so the bound on attempts survives restarts.

An attempt is recorded in its own short transaction before the handler runs and forgotten in
another once it succeeds; what stays is the count of attempts that failed or never finished
(the process died: OOM, kill, segfault). A count that reached the bound means the event is
dead-lettered without running its handler again.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from followup.core.deadletter import storable

# What an attempt that never finished is recorded as, until the handler says otherwise.
INTERRUPTED = "Interrupted"
INTERRUPTED_ERROR = "the consumer stopped while handling the event (crash, kill or OOM)"


@dataclass(frozen=True, slots=True)
class PastAttempts:
    """Attempts of one event that failed or never finished, and the last error seen."""

    attempts: int
    error_type: str
    error: str


def exhausted(past: PastAttempts | None, bound: int) -> bool:
    """True when the event may not be attempted again."""
    return past is not None and past.attempts >= bound


class AttemptStore:
    """The `handler_attempt` table of one consumer, written outside the batch transaction."""

    def __init__(self, pool: asyncpg.Pool, consumer: str) -> None:
        self.pool = pool
        self.consumer = consumer

    async def past_many(self, event_ids: list[str]) -> dict[str, PastAttempts]:
        """The unfinished attempts recorded for each of these events (absent: none)."""
        rows = await self.pool.fetch(
            """SELECT event_id, attempts, error_type, error FROM handler_attempt
               WHERE consumer = $1 AND event_id = ANY($2::text[])""",
            self.consumer,
            event_ids,
        )
        return {r[0]: PastAttempts(r[1], r[2], r[3]) for r in rows}

    async def begin(self, event_id: str) -> int:
        """Records one more attempt (committed before the handler runs); returns the count."""
        return int(
            await self.pool.fetchval(
                """INSERT INTO handler_attempt (consumer, event_id, attempts, error_type, error)
                   VALUES ($1, $2, 1, $3, $4)
                   ON CONFLICT (consumer, event_id) DO UPDATE
                   SET attempts = handler_attempt.attempts + 1,
                       error_type = excluded.error_type, error = excluded.error,
                       updated_at = now()
                   RETURNING attempts""",
                self.consumer,
                event_id,
                INTERRUPTED,
                INTERRUPTED_ERROR,
            )
        )

    async def failed(self, event_id: str, error_type: str, error: str) -> None:
        """Says why the attempt in progress failed (it stays counted)."""
        await self.pool.execute(
            """UPDATE handler_attempt SET error_type = $3, error = $4, updated_at = now()
               WHERE consumer = $1 AND event_id = $2""",
            self.consumer,
            event_id,
            storable(error_type),
            storable(error)[:2000],
        )

    async def succeeded(self, event_id: str) -> None:
        """Forgets the event's attempts: its handler finished (the batch may still roll back,
        and then the event is innocent of whatever stopped it)."""
        await self.pool.execute(
            "DELETE FROM handler_attempt WHERE consumer = $1 AND event_id = $2",
            self.consumer,
            event_id,
        )
