"""A command's answer leaves before its pooled connection is reset, and the reset still runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from fastapi.responses import JSONResponse

from followup.core.db import create_pool
from followup.core.http import answer_then_release

LOCK = 4242


@pytest.fixture
async def one_connection_pool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(fresh_db, min_size=1, max_size=1)
    yield p
    try:
        # close() waits for every connection to come back: a leaked one would hang the test.
        await asyncio.wait_for(p.close(), 5)
    except TimeoutError:
        p.terminate()


async def _lock_is_free(dsn: str) -> bool:
    other = await asyncpg.connect(dsn)
    try:
        free = bool(await other.fetchval("SELECT pg_try_advisory_lock($1)", LOCK))
        await other.execute("SELECT pg_advisory_unlock_all()")
        return free
    finally:
        await other.close()


async def test_the_answer_is_sent_before_the_connection_is_reset_and_released(
    one_connection_pool: asyncpg.Pool, fresh_db: str
) -> None:
    pool = one_connection_pool

    async def command(conn: asyncpg.Connection) -> int:
        # Session state a command should not leave behind: the pool's reset undoes it.
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK)
        return int(await conn.fetchval("SELECT 41 + 1"))

    response = await answer_then_release(pool, command, lambda n: JSONResponse({"n": n}))
    sent: list[dict[str, Any]] = []
    held_while_sending: list[bool] = []

    async def send(message: dict[str, Any]) -> None:
        held_while_sending.append(pool.get_idle_size() == 0)
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    await response({"type": "http", "method": "POST"}, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == b'{"n":42}'
    assert held_while_sending == [True, True]  # the answer went out first
    assert pool.get_idle_size() == 1  # then the connection went back
    assert await _lock_is_free(fresh_db)  # reset: its session lock is gone
    async with pool.acquire() as conn:  # and it serves the next command
        assert await conn.fetchval("SELECT 1") == 1


async def test_the_connection_goes_back_even_when_sending_the_answer_fails(
    one_connection_pool: asyncpg.Pool, fresh_db: str
) -> None:
    pool = one_connection_pool

    async def command(conn: asyncpg.Connection) -> int:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK)
        return 1

    response = await answer_then_release(pool, command, lambda n: JSONResponse({"n": n}))

    async def send(message: dict[str, Any]) -> None:
        raise OSError("the client went away")

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    with pytest.raises(OSError):
        await response({"type": "http", "method": "POST"}, receive, send)
    assert pool.get_idle_size() == 1
    assert await _lock_is_free(fresh_db)


async def test_a_failing_command_releases_its_connection_before_the_error_answer(
    one_connection_pool: asyncpg.Pool, fresh_db: str
) -> None:
    pool = one_connection_pool

    async def command(conn: asyncpg.Connection) -> int:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK)
        raise LookupError("no such thing")

    with pytest.raises(LookupError):
        await answer_then_release(pool, command, lambda n: JSONResponse({"n": n}))
    assert pool.get_idle_size() == 1
    assert await _lock_is_free(fresh_db)
