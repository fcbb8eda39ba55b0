"""`followup_issues_open{department,state}`: the issues not closed, counted from the ledger
every `interval_s` by a background part of the service (state `paused` while a pause is open,
else the issue's status: raised, assigned, reopened, resolved)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from prometheus_client import CollectorRegistry, Gauge

from followup.core.runtime import Runtime

log = structlog.get_logger(__name__)

OPEN_BY_DEPARTMENT_SQL = """
    SELECT department, CASE WHEN paused THEN 'paused' ELSE status END AS state, count(*) AS n
      FROM issue WHERE status <> 'closed' GROUP BY 1, 2"""


class OpenIssues:
    """Keeps the open-issues gauge; a label pair that empties reads 0, not its last count."""

    def __init__(self, interval_s: float = 15.0) -> None:
        self.interval_s = interval_s
        self._gauge: Gauge | None = None
        self._task: asyncio.Task[None] | None = None
        self._seen: set[tuple[str, str]] = set()

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Creates the gauge on the service's registry."""
        self._gauge = Gauge(
            "followup_issues_open",
            "Issues not closed, by department and state",
            ["department", "state"],
            registry=registry,
        )

    async def refresh(self, runtime: Runtime) -> dict[tuple[str, str], int]:
        """Counts once and sets the gauge; returns the counts."""
        rows = await runtime.pool.fetch(OPEN_BY_DEPARTMENT_SQL)
        counts = {(r["department"], r["state"]): int(r["n"]) for r in rows}
        if self._gauge is not None:
            for labels in self._seen | set(counts):
                self._gauge.labels(*labels).set(counts.get(labels, 0))
        self._seen |= set(counts)
        return counts

    async def start(self, runtime: Runtime) -> None:
        """Counts in the background until stopped."""

        async def loop() -> None:
            while True:
                try:
                    await self.refresh(runtime)
                except Exception as exc:
                    log.warning("open issues not counted", error=repr(exc))
                await asyncio.sleep(self.interval_s)

        self._task = asyncio.create_task(loop(), name="issues-open-gauge")

    async def stop(self) -> None:
        """Stops counting."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
