"""Waiting for the services to finish what the demo started, by watching them, not by sleeping.

Settled means: every service that ticks has ticked for the latest clock advance (its
`followup_clock_ticks` grew and its `followup_clock_now_seconds` reached the advance), and every
service answered ready with no consumer lag (the demo stack runs with
FOLLOWUP_READINESS_MAX_LAG=0) while the topics' end offsets stood still: nothing in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import datetime

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class SettleTimeout(RuntimeError):
    """The services did not settle in time."""


def tick_figures(text: str) -> tuple[float | None, float]:
    """(ticks so far or None when the service never ticks, its clock's last tick instant), read
    from the two families' lines alone (the whole exposition is not worth parsing each poll)."""
    ticks: float | None = None
    clock = 0.0
    for line in text.splitlines():
        if line.startswith("followup_clock_ticks_total"):
            ticks = (ticks or 0.0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith("followup_clock_now_seconds"):
            clock = max(clock, float(line.rsplit(" ", 1)[1]))
    return ticks, clock


class Settler:
    """Knows the services' URLs and the topics, and waits for them to settle."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        services: Mapping[str, str],
        bootstrap: str,
        topic_prefix: str = "",
        timeout_s: float = 120.0,
    ) -> None:
        self.client = client
        self.services = dict(services)
        self.bootstrap = bootstrap
        self.prefix = topic_prefix
        self.timeout_s = timeout_s
        self._kafka: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self.waits = 0
        self.waited_s = 0.0
        self.tick_s = 0.0
        self.rounds = 0

    async def start(self) -> None:
        self._kafka = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await self._kafka.start()
        await self._refresh_partitions()

    async def stop(self) -> None:
        if self._kafka is not None:
            await self._kafka.stop()

    async def _refresh_partitions(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            names = [
                t for t in await admin.list_topics() if t.startswith(self.prefix + "followup.")
            ]
            described = await admin.describe_topics(sorted(names))
        finally:
            await admin.close()
        self._partitions = [
            TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
        ]

    async def end_offsets(self) -> dict[TopicPartition, int]:
        assert self._kafka is not None
        ends: dict[TopicPartition, int] = await self._kafka.end_offsets(self._partitions)
        return ends

    async def ticks(self) -> dict[str, tuple[float | None, float]]:
        """Each service's tick figures, from its /metrics."""
        answers = await asyncio.gather(
            *(self.client.get(f"{url}/metrics") for url in self.services.values())
        )
        return {name: tick_figures(r.text) for name, r in zip(self.services, answers, strict=True)}

    async def _all_ready(self) -> bool:
        answers = await asyncio.gather(
            *(self.client.get(f"{url}/readyz") for url in self.services.values())
        )
        return all(r.status_code == 200 for r in answers)

    async def wait(
        self, before: Mapping[str, tuple[float | None, float]] | None, advanced_to: datetime | None
    ) -> None:
        """Returns once settled; `before` are the tick figures from before the clock advance."""
        started = time.monotonic()
        deadline = started + self.timeout_s
        if before is not None and advanced_to is not None:
            target = advanced_to.timestamp()
            while True:
                now = await self.ticks()
                pending = [
                    name
                    for name, (ticks, clock) in now.items()
                    if before.get(name, (None, 0.0))[0] is not None
                    and ((ticks or 0.0) <= (before[name][0] or 0.0) or clock < target)
                ]
                if not pending:
                    break
                self._check(deadline, f"waiting for the tick of {', '.join(pending)}")
                await asyncio.sleep(0.01)
        self.tick_s += time.monotonic() - started
        while True:
            # Offsets that stood still while every consumer reported no lag: nothing in flight.
            before_check = await self.end_offsets()
            ready = await self._all_ready()
            if ready and await self.end_offsets() == before_check:
                break
            self.rounds += 1
            self._check(deadline, "waiting for the consumers to catch up")
            await asyncio.sleep(0.01)
        self.waits += 1
        self.waited_s += time.monotonic() - started

    def _check(self, deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise SettleTimeout(f"not settled after {self.timeout_s:.0f} s: {what}")
