"""Official calendar data loaded later: the years the stored deadlines were counted on, and
the open visits whose deadlines it can move."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg


async def load_calendar_years(conn: asyncpg.Connection, region: str) -> dict[int, str]:
    """The official years (and their digests) the stored deadlines were counted on."""
    rows = await conn.fetch(
        "SELECT year, fingerprint FROM calendar_year WHERE region = $1 FOR UPDATE", region
    )
    return {r["year"]: r["fingerprint"] for r in rows}


async def save_calendar_years(
    conn: asyncpg.Connection, region: str, fingerprints: dict[int, str]
) -> None:
    """Records the official years the deadlines are now counted on."""
    await conn.execute("DELETE FROM calendar_year WHERE region = $1", region)
    await conn.execute(
        """INSERT INTO calendar_year (region, year, fingerprint)
           SELECT $1, * FROM unnest($2::int[], $3::text[])""",
        region,
        list(fingerprints),
        list(fingerprints.values()),
    )


async def customers_with_open_visits(
    conn: asyncpg.Connection, *, since: datetime | None, until: datetime | None
) -> list[str]:
    """Customers with a visit not done whose deadline is provisional or, when a window is
    given, whose due-to-deadline span touches it."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT customer_id FROM planned_visit
        WHERE status <> 'done'
          AND (deadline_provisional
               OR ($1::timestamptz IS NOT NULL AND deadline >= $1 AND due_at < $2))
        ORDER BY customer_id
        """,
        since,
        until,
    )
    return [r[0] for r in rows]


async def set_deadlines(
    conn: asyncpg.Connection, changes: Sequence[tuple[str, datetime, bool]], now: datetime
) -> None:
    """New deadlines of open visits; a missed visit whose deadline is ahead again is due again.

    Done visits are never touched.
    """
    if not changes:
        return
    ids, deadlines, provisional = (list(col) for col in zip(*changes, strict=True))
    await conn.execute(
        """
        UPDATE planned_visit p SET deadline = u.deadline,
               deadline_provisional = u.provisional,
               status = CASE WHEN p.status = 'missed' AND u.deadline >= $4 THEN 'due'
                             ELSE p.status END
        FROM unnest($1::text[], $2::timestamptz[], $3::bool[]) AS u(visit_id, deadline, provisional)
        WHERE p.visit_id = u.visit_id AND p.status <> 'done'
        """,
        ids,
        deadlines,
        provisional,
        now,
    )
