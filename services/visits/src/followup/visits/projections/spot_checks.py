"""The spot-check sample's source: the completed logs of an agent, from the stored events."""

from __future__ import annotations

from datetime import datetime

import asyncpg


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
