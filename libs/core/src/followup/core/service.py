"""Builds a service's I/O objects in one place: pool, clock, consumer, outbox relay, HTTP app.

Each service's `main.py` calls `build_service` with what is its own (subscription, routes,
migrations); nothing here runs at import time.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry

from followup.core.auth import Authenticate, TokenTable, bearer_auth
from followup.core.clock import Clock, clock_from_settings
from followup.core.consumer import EventConsumer
from followup.core.db import create_pool, migrate
from followup.core.deadletter import DeadLetterPublisher
from followup.core.http import ReadyCheck, create_app
from followup.core.keystore import KeyStore
from followup.core.logging import configure_logging
from followup.core.maintenance import GrowingTable, StatisticsKeeper
from followup.core.metrics import Metrics
from followup.core.outbox import OutboxRelay
from followup.core.runtime import Background, Runtime
from followup.core.settings import CoreSettings
from followup.core.subscription import Subscription
from followup.events.asyncapi import build_asyncapi

log = structlog.get_logger()


@dataclass
class ServiceParts:
    """What makes one service different from another."""

    name: str
    migrations_dir: Path
    subscription: Callable[[Clock], Subscription] | None
    routers: Callable[[Authenticate], Sequence[APIRouter]]
    publishes: Sequence[str] = ()
    consumes: Sequence[str] = ()
    description: str = ""
    extra_state: dict[str, Any] = field(default_factory=dict)
    # Registers the service's own metrics on the app's registry.
    register_metrics: Callable[[CollectorRegistry], None] | None = None
    # Tables filled at ingest speed whose statistics a StatisticsKeeper refreshes.
    growing_tables: Sequence[GrowingTable] = ()
    # Customer keys (followup.keys), started before the consumer: handlers and routes seal with it.
    key_store: KeyStore | None = None
    # Parts that run beside the consumer (a service's notifications, say), started after it.
    background: Sequence[Background] = ()
    # More consumers with their own groups and dedup (scheduling's intake); never replayed.
    extra_subscriptions: Callable[[Clock], Sequence[Subscription]] | None = None
    # Runs once the pool and key store are up, before any consumer (data moves such as
    # re-sealing rows with the key store's keys).
    on_start: Callable[[asyncpg.Pool], Awaitable[Any]] | None = None


def build_service(settings: CoreSettings, parts: ServiceParts) -> FastAPI:
    """The service's app; its lifespan starts and stops every I/O object it needs."""
    configure_logging(parts.name, settings.log_level)
    registry = CollectorRegistry()
    metrics = Metrics(registry=registry)
    if parts.register_metrics is not None:
        parts.register_metrics(registry)
    for part in parts.background:
        part.register_metrics(registry)
    tokens = TokenTable.from_env()
    auth = bearer_auth(tokens)
    state: dict[str, Any] = {}

    async def db_ready() -> str | None:
        pool: asyncpg.Pool | None = state.get("pool")
        if pool is None:
            return "database pool not started"
        async with pool.acquire(timeout=1.5) as conn:
            await conn.fetchval("SELECT 1")
        return None

    async def consumer_ready() -> str | None:
        consumers: list[EventConsumer] = state.get("consumers", [])
        for consumer in consumers:  # a service that consumes nothing is ready without one
            problem = await consumer.readiness(settings.readiness_max_lag)
            if problem is not None:
                return problem
        return None

    async def keys_ready() -> str | None:
        started = parts.key_store is not None and parts.key_store.started
        return None if started else "key store not caught up"

    ready_checks: dict[str, ReadyCheck] = {"database": db_ready, "consumer": consumer_ready}
    if parts.key_store is not None:
        ready_checks["keys"] = keys_ready

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(
            settings.pg_dsn,
            min_size=settings.pg_pool_min,
            max_size=settings.pg_pool_max,
            idle_in_transaction_timeout_s=settings.pg_idle_in_transaction_timeout_s,
        )
        state["pool"] = app.state.pool = pool
        await migrate(pool, service=parts.name, migrations_dir=parts.migrations_dir)
        clock = clock_from_settings(settings)
        await clock.start()
        app.state.clock = clock
        for key, value in parts.extra_state.items():
            setattr(app.state, key, value)
        if parts.key_store is not None:
            await parts.key_store.start()
            app.state.key_store = parts.key_store
        if parts.on_start is not None:
            await parts.on_start(pool)
        relay = OutboxRelay(pool, settings, metrics)
        await relay.start()
        statistics = StatisticsKeeper(pool, parts.growing_tables)
        await statistics.start()
        subscriptions = [] if parts.subscription is None else [parts.subscription(clock)]
        if parts.extra_subscriptions is not None:
            subscriptions += parts.extra_subscriptions(clock)
        consumers: list[EventConsumer] = state.setdefault("consumers", [])
        for subscription in subscriptions:
            consumer = EventConsumer(
                subscription,
                pool=pool,
                settings=settings,
                clock=clock,
                metrics=metrics,
                dead_letters=DeadLetterPublisher(settings, metrics, key_store=parts.key_store),
                on_fatal=lambda exc: _exit_failed(app),
            )
            await consumer.start()
            consumers.append(consumer)
        runtime = Runtime(settings=settings, pool=pool, clock=clock, metrics=metrics)
        started: list[Background] = []
        for part in parts.background:
            await part.start(runtime)
            started.append(part)
        log.info("service started", port=settings.port, clock=settings.clock)
        try:
            yield
        finally:
            # SIGTERM: finish the current batch, flush the outbox, leave the group.
            for part in reversed(started):
                await part.stop()
            for consumer in reversed(consumers):
                await consumer.stop()
            await statistics.stop()
            await relay.stop()
            if parts.key_store is not None:
                await parts.key_store.stop()
            await clock.stop()
            await pool.close()
            log.info("service stopped")

    return create_app(
        parts.name,
        registry=registry,
        ready_checks=ready_checks,
        asyncapi=lambda: build_asyncapi(
            parts.name, publishes=list(parts.publishes), consumes=list(parts.consumes)
        ),
        routers=parts.routers(auth),
        lifespan=lifespan,
        description=parts.description,
    )


def _exit_failed(app: FastAPI) -> None:
    """Shuts the service down (as SIGTERM does) to exit non-zero: it can apply nothing more."""
    app.state.failed = True
    os.kill(os.getpid(), signal.SIGTERM)


def run(app_factory: Callable[[], FastAPI], settings: CoreSettings) -> None:
    """Serves the app with uvicorn on the configured port until SIGTERM; exits 1 if it failed."""
    import uvicorn

    app = app_factory()
    uvicorn.run(
        app,
        host=os.environ.get("FOLLOWUP_HOST", "127.0.0.1"),
        port=settings.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
    )
    if getattr(app.state, "failed", False):
        sys.exit(1)
