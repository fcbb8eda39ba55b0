"""PostgreSQL: the connection pool and the migration runner.

The runner is a small one over asyncpg on purpose: yoyo needs a synchronous driver and alembic
needs SQLAlchemy, and we need neither for forward-only, plain-SQL migrations.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import orjson
import structlog

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

log = structlog.get_logger(__name__)

# A connection of its own or one borrowed from a pool: the core's SQL runs on either.
Conn: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

CORE_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CORE_SCOPE = "core"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[A-Za-z0-9_]+\.sql$")
# One advisory lock for every migrator of a database: concurrent starters queue, not race.
_MIGRATE_LOCK_KEY = "followup:migrate"


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb and json travel as Python values encoded by orjson."""
    for typ in ("jsonb", "json"):
        await conn.set_type_codec(
            typ,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def create_pool(
    dsn: str, *, idle_in_transaction_timeout_s: float = 30.0, **kw: Any
) -> asyncpg.Pool:
    """A pool whose connections carry the orjson jsonb codecs (extra kwargs go to asyncpg).

    The server ends a session idle inside a transaction for longer than the timeout (0: never),
    and probes a silent client's socket: a frozen or vanished member's batch releases its
    offset rows in seconds, not when its host's TCP gives up (hours).
    """
    user_init = kw.pop("init", None)
    server_settings = {
        "idle_in_transaction_session_timeout": str(int(idle_in_transaction_timeout_s * 1000)),
        "tcp_keepalives_idle": "10",
        "tcp_keepalives_interval": "5",
        "tcp_keepalives_count": "3",
        **kw.pop("server_settings", {}),
    }

    async def init(conn: asyncpg.Connection) -> None:
        await init_connection(conn)
        if user_init is not None:
            await user_init(conn)

    kw.setdefault("min_size", 2)
    kw.setdefault("max_size", 10)
    kw.setdefault("command_timeout", 60)
    pool = await asyncpg.create_pool(dsn, init=init, server_settings=server_settings, **kw)
    assert pool is not None
    return pool


def migration_files(directory: Path | None) -> list[Path]:
    """`NNNN_name.sql` files of a directory in order (none when it does not exist)."""
    if directory is None or not directory.is_dir():
        return []
    files = sorted(p for p in directory.iterdir() if _MIGRATION_NAME.match(p.name))
    numbers = [p.name[:4] for p in files]
    if len(numbers) != len(set(numbers)):
        raise ValueError(f"two migrations share a number in {directory}: {numbers}")
    return files


def _checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


async def migrate(
    pool_or_dsn: asyncpg.Pool | str,
    *,
    service: str,
    migrations_dir: Path | None = None,
) -> list[str]:
    """Applies the core's migrations, then the service's, each once and in its own transaction.

    Returns the names applied now.
    """
    if isinstance(pool_or_dsn, str):
        own = await asyncpg.connect(pool_or_dsn)
        try:
            return await _migrate(own, service, migrations_dir)
        finally:
            await own.close()
    async with pool_or_dsn.acquire() as conn:
        return await _migrate(conn, service, migrations_dir)


async def _migrate(conn: Conn, service: str, migrations_dir: Path | None) -> list[str]:
    await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", _MIGRATE_LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migration (
                   scope      text NOT NULL,
                   name       text NOT NULL,
                   checksum   text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (scope, name))"""
        )
        applied: list[str] = []
        for scope, directory in ((CORE_SCOPE, CORE_MIGRATIONS), (service, migrations_dir)):
            done = {
                r["name"]: r["checksum"]
                for r in await conn.fetch(
                    "SELECT name, checksum FROM schema_migration WHERE scope = $1", scope
                )
            }
            for path in migration_files(directory):
                sql = path.read_text()
                if path.name in done:
                    if done[path.name] != _checksum(sql):
                        # Migrations are forward-only: an edited old file is a mistake to see,
                        # not a reason to refuse to start.
                        log.warning(
                            "applied migration changed since", scope=scope, migration=path.name
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migration (scope, name, checksum) VALUES ($1, $2, $3)",
                        scope,
                        path.name,
                        _checksum(sql),
                    )
                log.info("migration applied", scope=scope, migration=path.name)
                applied.append(f"{scope}/{path.name}")
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", _MIGRATE_LOCK_KEY)
