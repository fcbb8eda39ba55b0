"""Statistics of fast-growing tables."""

from __future__ import annotations

import asyncpg

# The tables every batch reads by customer. Filled from empty at ingest speed (a new service, or
# a replay into fresh tables), their statistics say "tiny" long before autovacuum's next look:
# the planner then reads them with sequential scans, a `customer_id = ANY(<500 ids>)` comparing
# every row with every id, and each batch costs more than the one before.
GROWING_TABLES = ("planned_visit", "delivery", "customer")


async def analyze_grown_tables(conn: asyncpg.Connection) -> list[str]:
    """ANALYZEs the tables of GROWING_TABLES now more than twice the size PostgreSQL last
    counted (and over 128 kB); returns their names.

    Doubling keeps it to a few runs over any table's life. Only the column the batches read by
    is analyzed: what matters is the table's size (which any ANALYZE records), and statistics
    on the plan's arrays would cost several times more; autovacuum does the full job later.
    SKIP_LOCKED: a table another transaction is analyzing is left to it.
    """
    rows = await conn.fetch(
        """
        SELECT c.relname FROM pg_class c
        WHERE c.oid = ANY($1::text[]::regclass[])
          AND pg_relation_size(c.oid) / current_setting('block_size')::int
              > 2 * greatest(c.relpages, 0) + 16
        """,
        list(GROWING_TABLES),
    )
    grown = [r[0] for r in rows]
    if grown:
        # A 3,000-row sample is plenty to tell a large table from a small one.
        await conn.execute("SET LOCAL default_statistics_target = 10")
        for table in grown:
            await conn.execute(f"ANALYZE (SKIP_LOCKED) {table} (customer_id)")
        await conn.execute("SET LOCAL default_statistics_target TO DEFAULT")
    return grown
