"""Clock ticks: a subscription's `on_tick` run once per clock advance, in its own transaction."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg
import structlog

from followup.core.retry import Backoff, is_transient

if TYPE_CHECKING:
    from followup.core.applier import Applier
    from followup.core.clock import Clock
    from followup.core.metrics import Metrics
    from followup.core.readiness import Health
    from followup.core.settings import CoreSettings

log = structlog.get_logger(__name__)


class Ticker:
    """Runs a subscription's on_tick as the clock advances; one instance of a group at a time."""

    def __init__(
        self,
        applier: Applier,
        *,
        pool: asyncpg.Pool,
        settings: CoreSettings,
        clock: Clock,
        metrics: Metrics,
        health: Health,
        tx_lock: asyncio.Lock,
    ) -> None:
        self.applier = applier
        self.name = applier.name
        self.on_tick = applier.sub.on_tick
        self.pool = pool
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.health = health
        self.tx_lock = tx_lock

    async def loop(self) -> None:
        """Ticks now, then at every advance of the clock."""
        since = self.clock.now()
        await self.tick(since)
        while True:
            now = await self.clock.wait_advance(since)
            if now <= since and self.settings.clock == "simulated":
                continue
            since = now
            await self.tick(now)

    async def tick(self, now: datetime) -> bool:
        """Runs on_tick once for `now` in its own transaction; False if another ran it."""
        on_tick = self.on_tick
        if on_tick is None:
            return False
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        self.metrics.clock_now.set(now.timestamp())
        while True:
            try:
                async with self.tx_lock, self.pool.acquire() as conn, conn.transaction():
                    # One instance of a group sweeps at a time; the others skip this tick.
                    got = await conn.fetchval(
                        "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                        f"followup:tick:{self.name}",
                    )
                    if not got:
                        return False
                    tx = self.applier.new_tx(conn, now)
                    await on_tick(tx, now)
                    await tx.flush()
                self.metrics.ticks.labels(self.name).inc()
                self.health.note_ok()
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    self.metrics.handler_failures.labels(self.name, "tick").inc()
                    log.exception("tick failed", consumer=self.name, now=now.isoformat())
                    return False
                self.health.note_failure("database", exc)
                await backoff.sleep()
