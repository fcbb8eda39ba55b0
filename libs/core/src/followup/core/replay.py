"""Blue/green rebuild of a service's read model from offset 0.

The service's migrations are applied to a fresh schema (`followup_rebuild`), together with
its own `consumer_offset` and `processed_event`; a consumer in a new group replays every topic
from the beginning into it through the service's own handlers, while the live service keeps
serving (and updating) the old tables. Once caught up, one transaction moves the old tables
aside and the new ones into `public`. The live consumer then finds its stored offsets moved
(its fencing check) and re-seeks to the rebuilt ones.

Handlers decide as they did when the events first arrived: their `now` is what the clock read
when each record reached the broker (`Clock.now_at` its timestamp), and the clock's ticks do not
run until the swap.

Nothing already emitted is emitted again: the outbox and the dead-letter table stay in
`public` (they are not rebuilt), derived events have deterministic ids, and both are
idempotent on them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import structlog

from followup.core.clock import Clock, WallClock
from followup.core.consumer import EventConsumer
from followup.core.db import create_pool, migration_files
from followup.core.deadletter import DeadLetterPublisher
from followup.core.keystore import KeyStore
from followup.core.maintenance import GrowingTable, StatisticsKeeper
from followup.core.metrics import Metrics
from followup.core.retry import is_transient
from followup.core.settings import CoreSettings
from followup.core.subscription import Subscription

log = structlog.get_logger(__name__)

REBUILD_SCHEMA = "followup_rebuild"
# Core tables that belong to the read model (its position and its dedup memory).
READ_MODEL_CORE_TABLES = ("consumer_offset", "processed_event")
# Core tables that are never rebuilt: what was emitted, what was dead-lettered, what ran.
KEPT_CORE_TABLES = ("outbox", "dead_letter", "schema_migration")


@dataclass
class ReplayProgress:
    """Where a replay is."""

    events: int
    events_per_s: float
    lag: int
    elapsed_s: float


@dataclass
class ReplayResult:
    """What a replay did."""

    events: int
    elapsed_s: float
    tables: list[str]
    swapped: bool
    retired_schema: str | None = None
    kept: list[str] = field(default_factory=list)


class ReplayBusy(RuntimeError):
    """Another replay of this service is running."""


async def _prepare_schema(
    conn: asyncpg.Connection, migrations_dir: Path | None, keep: Sequence[str]
) -> list[str]:
    """A fresh rebuild schema holding the service's tables and the read-model core tables."""
    await conn.execute(f"DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE")
    await conn.execute(f"CREATE SCHEMA {REBUILD_SCHEMA}")
    for table in READ_MODEL_CORE_TABLES:
        await conn.execute(
            f"CREATE TABLE {REBUILD_SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)"
        )
    # Unqualified names in the migrations create objects in the first schema of the path.
    await conn.execute(f"SET search_path TO {REBUILD_SCHEMA}, public")
    try:
        for path in migration_files(migrations_dir):
            async with conn.transaction():
                await conn.execute(path.read_text())
    finally:
        await conn.execute("RESET search_path")
    for table in keep:
        # Kept tables are not rebuilt: writes during the replay fall through to public's.
        await conn.execute(f"DROP TABLE IF EXISTS {REBUILD_SCHEMA}.{_ident(table)} CASCADE")
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", REBUILD_SCHEMA
    )
    tables = [r["tablename"] for r in rows]
    clash = set(tables) & set(KEPT_CORE_TABLES)
    if clash:
        raise ValueError(f"service migrations create core table names: {sorted(clash)}")
    return tables


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _swap(conn: asyncpg.Connection, tables: list[str]) -> str:
    """Moves public's tables aside and the rebuilt ones into public, in one transaction."""
    stamp = time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:4]
    retired = f"followup_retired_{stamp}"
    # consumer_offset first: the live consumer locks it first in every batch, so taking it
    # first here waits for the batch in flight and cannot deadlock with the next one.
    ordered = [t for t in READ_MODEL_CORE_TABLES if t in tables] + [
        t for t in tables if t not in READ_MODEL_CORE_TABLES
    ]
    for attempt in range(1, 6):
        try:
            async with conn.transaction():
                existing = {
                    r["tablename"]
                    for r in await conn.fetch(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    )
                }
                live = [t for t in ordered if t in existing]
                if live:
                    await conn.execute(
                        "LOCK TABLE "
                        + ", ".join(f"public.{_ident(t)}" for t in live)
                        + " IN ACCESS EXCLUSIVE MODE"
                    )
                await conn.execute(f"CREATE SCHEMA {retired}")
                for t in live:
                    await conn.execute(f"ALTER TABLE public.{_ident(t)} SET SCHEMA {retired}")
                for t in ordered:
                    await conn.execute(
                        f"ALTER TABLE {REBUILD_SCHEMA}.{_ident(t)} SET SCHEMA public"
                    )
                # What is left (types, standalone sequences) keeps its objects reachable.
                await conn.execute(
                    f"ALTER SCHEMA {REBUILD_SCHEMA} RENAME TO followup_rebuilt_{stamp}"
                )
            return retired
        except asyncpg.exceptions.DeadlockDetectedError:
            log.warning("swap deadlocked; retrying", attempt=attempt)
            await asyncio.sleep(0.2 * attempt)
    raise RuntimeError("could not swap the rebuilt tables in (deadlocks)")


async def rebuild(
    subscription: Subscription,
    *,
    settings: CoreSettings,
    migrations_dir: Path | None,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    on_progress: Callable[[ReplayProgress], None] | None = None,
    swap: bool = True,
    keep_old: bool = False,
    progress_interval_s: float = 0.5,
    growing_tables: Sequence[GrowingTable] = (),
    key_store: KeyStore | None = None,
) -> ReplayResult:
    """Rebuilds the read model from offset 0 into new tables and swaps them in atomically."""
    metrics = metrics or Metrics()
    clock = clock or WallClock(settings.tick_interval_s)
    admin = await asyncpg.connect(settings.pg_dsn)
    lock_key = f"followup:replay:{settings.service}"
    if not await admin.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", lock_key):
        await admin.close()
        raise ReplayBusy(f"a replay of {settings.service} is already running")
    pool: asyncpg.Pool | None = None
    consumer: EventConsumer | None = None
    statistics: StatisticsKeeper | None = None
    started = time.monotonic()
    try:
        tables = await _prepare_schema(admin, migrations_dir, subscription.replay_keep_tables)
        log.info("replay: rebuilding", service=settings.service, tables=tables)
        pool = await create_pool(
            settings.pg_dsn,
            min_size=1,
            max_size=4,
            idle_in_transaction_timeout_s=settings.pg_idle_in_transaction_timeout_s,
            server_settings={"search_path": f"{REBUILD_SCHEMA}, public"},
        )
        group = f"{settings.group_id(subscription.consumer)}-replay-{uuid.uuid4().hex[:8]}"
        consumer = EventConsumer(
            subscription,
            pool=pool,
            settings=settings,
            clock=clock,
            metrics=metrics,
            dead_letters=DeadLetterPublisher(settings, metrics, key_store=key_store),
            run_ticks=False,
            group_id=group,
            now_from_events=True,
        )
        await consumer.start()
        # The rebuilt tables fill from empty at full speed: theirs are the statistics to keep.
        statistics = StatisticsKeeper(pool, growing_tables)
        await statistics.start()
        last_events, last_t = 0, time.monotonic()
        while True:
            await asyncio.sleep(progress_interval_s)
            done = await consumer_caught_up(consumer)
            now = time.monotonic()
            eps = (consumer.events_committed - last_events) / max(now - last_t, 1e-6)
            last_events, last_t = consumer.events_committed, now
            if on_progress is not None:
                on_progress(
                    ReplayProgress(
                        consumer.events_committed, eps, consumer.total_lag(), now - started
                    )
                )
            if done:
                break
        await consumer.stop()
        consumer = None
        await statistics.stop()
        events = last_events
        await pool.close()
        pool = None
        retired = None
        if swap:
            retired = await _swap(admin, tables)
            if not keep_old:
                await admin.execute(f"DROP SCHEMA {retired} CASCADE")
            log.info(
                "replay: swapped in", service=settings.service, retired=retired, kept_old=keep_old
            )
        return ReplayResult(
            events=events,
            elapsed_s=time.monotonic() - started,
            tables=tables,
            swapped=swap,
            retired_schema=retired if keep_old else None,
            kept=list(subscription.replay_keep_tables),
        )
    finally:
        if consumer is not None:
            await consumer.stop()
        if statistics is not None:
            await statistics.stop()
        if pool is not None:
            await pool.close()
        await admin.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock_key)
        await admin.close()


async def consumer_caught_up(consumer: EventConsumer) -> bool:
    """True once every partition's stored offset has reached the broker's end offset."""
    if not consumer.assigned_once:
        return False
    try:
        await consumer.refresh_end_offsets()
    except Exception as exc:
        if not is_transient(exc):
            raise
        return False
    lag = consumer.lag()
    return all(v == 0 for v in lag.values())
