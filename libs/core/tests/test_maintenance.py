"""Statistics maintenance on a real PostgreSQL: a grown table is analyzed once per doubling,
through the search path, and the keeper's check does it beside any handler."""

from __future__ import annotations

import asyncpg

from followup.core.db import create_pool
from followup.core.maintenance import GrowingTable, StatisticsKeeper, analyze_grown_tables

from .conftest import Env

FACTS = GrowingTable("fact", ("key",))


async def _fill(conn: asyncpg.Connection, rows: int) -> None:
    await conn.execute(
        "INSERT INTO fact (key, body) SELECT 'K-' || g, repeat('x', 40) "
        "FROM generate_series(1, $1) AS g",
        rows,
    )


async def test_a_table_is_analyzed_when_it_has_doubled_and_not_again_until_it_doubles_again(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE fact (key text PRIMARY KEY, body text)")
        assert await analyze_grown_tables(conn, [FACTS]) == []  # fresh and small
        await _fill(conn, 5000)
        assert await analyze_grown_tables(conn, [FACTS, GrowingTable("missing")]) == ["fact"]
        pages = await conn.fetchval("SELECT relpages FROM pg_class WHERE relname = 'fact'")
        assert pages > 16
        # Counted now: nothing more until it doubles again.
        assert await analyze_grown_tables(conn, [FACTS]) == []
        plan = "\n".join(
            r[0]
            for r in await conn.fetch("EXPLAIN SELECT body FROM fact WHERE key = ANY($1)", ["K-1"])
        )
        assert "Seq Scan" not in plan and "Index" in plan, plan


async def test_the_keeper_analyzes_the_table_its_search_path_names(
    env: Env, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        await conn.execute("CREATE SCHEMA rebuild")
        await conn.execute("CREATE TABLE fact (key text PRIMARY KEY, body text)")
        await conn.execute("CREATE TABLE rebuild.fact (key text PRIMARY KEY, body text)")
        await conn.execute("SET search_path TO rebuild, public")
        await _fill(conn, 5000)
        await conn.execute("RESET search_path")
    rebuild = await create_pool(
        env.dsn, min_size=1, max_size=1, server_settings={"search_path": "rebuild, public"}
    )
    try:
        keeper = StatisticsKeeper(rebuild, [FACTS])
        assert await keeper.run_once() == ["fact"]
        assert await keeper.run_once() == []
    finally:
        await rebuild.close()
    async with pool.acquire() as conn:
        analyzed = await conn.fetch(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'fact' AND c.relpages > 0"
        )
    assert [r[0] for r in analyzed] == ["rebuild"]
