"""Statistics of fast-growing tables kept fresh, beside the consumer rather than in a handler.

A table filled from empty at ingest speed (a new service, a first import, a replay's fresh
tables) has statistics that say "tiny" long before autovacuum's next look: the planner then
reads it with sequential scans (a `key = ANY(<500 ids>)` comparing every row with every id), and
each batch costs more than the one before. A service names such tables (`ServiceParts.
growing_tables`); its wiring runs a `StatisticsKeeper` on the live pool and the replay runs one
on the rebuild's, so a handler only stores what its events say.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from followup.core.db import Conn

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class GrowingTable:
    """A table to keep statistics of; `columns` are those reads filter or join by (empty: all)."""

    name: str
    columns: tuple[str, ...] = ()


async def analyze_grown_tables(conn: Conn, tables: Sequence[GrowingTable]) -> list[str]:
    """ANALYZEs the tables now more than twice the size PostgreSQL last counted (and over
    128 kB); returns their names.

    Doubling keeps it to a few runs over any table's life. Only the named columns are analyzed:
    what matters is the table's size (which any ANALYZE records), and autovacuum does the full
    job later. SKIP_LOCKED: a table another transaction is analyzing is left to it. Names are
    resolved through the search path (a replay's rebuild schema first).
    """
    if not tables:
        return []
    rows = await conn.fetch(
        """
        SELECT n FROM unnest($1::text[]) AS n
        WHERE to_regclass(n) IS NOT NULL
          AND pg_relation_size(to_regclass(n)) / current_setting('block_size')::int
              > 2 * greatest((SELECT relpages FROM pg_class WHERE oid = to_regclass(n)), 0) + 16
        """,
        [t.name for t in tables],
    )
    grown = {r[0] for r in rows}
    if not grown:
        return []
    async with conn.transaction():
        # A 3,000-row sample is plenty to tell a large table from a small one.
        await conn.execute("SET LOCAL default_statistics_target = 10")
        for table in tables:
            if table.name in grown:
                columns = f" ({', '.join(table.columns)})" if table.columns else ""
                await conn.execute(f"ANALYZE (SKIP_LOCKED) {table.name}{columns}")
    return [t.name for t in tables if t.name in grown]


class StatisticsKeeper:
    """Every `interval_s`, refreshes the statistics of the tables that have doubled."""

    def __init__(
        self, pool: asyncpg.Pool, tables: Sequence[GrowingTable], *, interval_s: float = 5.0
    ) -> None:
        self._pool = pool
        self._tables = tuple(tables)
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> list[str]:
        """One check (and the ANALYZEs it calls for); the names of the tables analyzed."""
        async with self._pool.acquire() as conn:
            grown = await analyze_grown_tables(conn, self._tables)
        if grown:
            log.info("statistics refreshed for grown tables", tables=grown)
        return grown

    async def start(self) -> None:
        """Starts the periodic check (nothing when no table is named)."""
        if self._tables and self._task is None:
            self._task = asyncio.create_task(self._run(), name="statistics-keeper")

    async def stop(self) -> None:
        """Stops the check, waiting for an ANALYZE in flight to be cancelled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # The next check tries again; statistics are an optimisation, not a duty.
                log.warning("statistics check failed", error=str(exc))
