"""What every service's HTTP commands share: the answer, the refusal, and idempotent replay.

A service keeps `idempotent_request(key text primary key, request_hash text, status_code int,
response jsonb, created_at timestamptz)` in its database (one of its migrations); commands
that return a domain result (`replay_result`, `remember_result`) store no status code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from followup.core.rejections import Rejection, conflict


@dataclass(frozen=True)
class Accepted:
    """A command's answer: its status code and body (the published event's id)."""

    status_code: int
    body: dict[str, Any]


KEY_REUSED = conflict(
    "this Idempotency-Key was used with a different request", reason="idempotency_key_reused"
)


class CommandRejected(Exception):
    """A domain rejection or an idempotency conflict, answered as problem+json (for commands
    that raise; those that return a `Rejection` leave the status to the API)."""

    def __init__(
        self, status: int, detail: str, errors: list[dict[str, str]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.extra = status, detail, errors or [], extra


def request_hash(request: dict[str, Any]) -> str:
    """A stable fingerprint of a request body (keys sorted)."""
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


def idempotency_lock_name(key: str) -> str:
    """The advisory-lock name that serialises the requests of one Idempotency-Key."""
    return "idem:" + key


def stored_answer(
    stored_hash: str, status_code: int, body: dict[str, Any], request: dict[str, Any]
) -> Accepted | Rejection:
    """The stored answer of a repeated keyed request; a conflict when the key came with
    another body."""
    if stored_hash != request_hash(request):
        return KEY_REUSED
    return Accepted(status_code, body)


def replay_answer(
    stored_hash: str, status_code: int, body: dict[str, Any], request: dict[str, Any]
) -> Accepted:
    """The stored answer of a repeated keyed request; 409 when the key came with another body."""
    answer = stored_answer(stored_hash, status_code, body, request)
    if isinstance(answer, Rejection):
        raise CommandRejected(409, answer.detail)
    return answer


async def _stored(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    # Two concurrent requests with one key: the second waits, then replays the first's answer.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", idempotency_lock_name(key))
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT request_hash, status_code, response FROM idempotent_request WHERE key = $1", key
    )
    return row


def _body(row: asyncpg.Record) -> dict[str, Any]:
    body = row["response"]
    return body if isinstance(body, dict) else dict(orjson.loads(body))


async def idempotent_replay(
    conn: asyncpg.Connection, key: str | None, request: dict[str, Any]
) -> Accepted | Rejection | None:
    """The stored answer of a repeated request (in the caller's transaction); a conflict when
    the key came with another body; None for a new key."""
    if key is None:
        return None
    row = await _stored(conn, key)
    if row is None:
        return None
    return stored_answer(row["request_hash"], row["status_code"], _body(row), request)


async def replay_result(
    conn: asyncpg.Connection, key: str | None, request: dict[str, Any]
) -> dict[str, Any] | Rejection | None:
    """The stored result of a repeated request, for commands whose API picks the status itself
    (in the caller's transaction); a conflict when the key came with another body; None for a
    new key."""
    if key is None:
        return None
    row = await _stored(conn, key)
    if row is None:
        return None
    if row["request_hash"] != request_hash(request):
        return KEY_REUSED
    return _body(row)


async def remember_result(
    conn: asyncpg.Connection,
    key: str | None,
    request: dict[str, Any],
    result: dict[str, Any],
    now: datetime,
) -> None:
    """Stores the result of a keyed request (no status: its API picks one), in the transaction
    that produced it; the table's `status_code` must allow NULL."""
    if key is None:
        return
    await conn.execute(
        """INSERT INTO idempotent_request (key, request_hash, status_code, response, created_at)
           VALUES ($1, $2, NULL, $3, $4)""",
        key,
        request_hash(request),
        orjson.dumps(result).decode(),
        now,
    )


async def remember_answer(
    conn: asyncpg.Connection,
    key: str | None,
    request: dict[str, Any],
    answer: Accepted,
    now: datetime,
) -> None:
    """Stores the answer of a keyed request, in the transaction that produced it."""
    if key is None:
        return
    await conn.execute(
        """INSERT INTO idempotent_request (key, request_hash, status_code, response, created_at)
           VALUES ($1, $2, $3, $4, $5)""",
        key,
        request_hash(request),
        answer.status_code,
        orjson.dumps(answer.body).decode(),
        now,
    )
