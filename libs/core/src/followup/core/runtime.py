"""What a service's background parts run on, and what such a part is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import asyncpg
from prometheus_client import CollectorRegistry

from followup.core.clock import Clock
from followup.core.metrics import Metrics
from followup.core.settings import CoreSettings


@dataclass(frozen=True)
class Runtime:
    """The I/O objects `build_service` made: settings, pool, clock, the core's metrics."""

    settings: CoreSettings
    pool: asyncpg.Pool
    clock: Clock
    metrics: Metrics


class Background(Protocol):
    """A part that runs beside the service's consumer (a second consumer, a worker)."""

    def register_metrics(self, registry: CollectorRegistry) -> None: ...

    async def start(self, runtime: Runtime) -> None: ...

    async def stop(self) -> None: ...
