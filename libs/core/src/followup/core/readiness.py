"""A consumer's health: transient failures, lag per partition, and readiness from both."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

if TYPE_CHECKING:
    from followup.core.metrics import Metrics

log = structlog.get_logger(__name__)


class Health:
    """What a consumer's readiness is made of; its lag gauges.

    `assigned` and `db_offsets` are the consumer's own (shared, not copied); `kafka` is set
    while it runs.
    """

    def __init__(
        self,
        name: str,
        metrics: Metrics,
        assigned: set[TopicPartition],
        db_offsets: dict[TopicPartition, int],
    ) -> None:
        self.name = name
        self.metrics = metrics
        self.assigned = assigned
        self.db_offsets = db_offsets
        self.kafka: AIOKafkaConsumer | None = None
        # Why the infrastructure is failing (None while it works).
        self.failing: str | None = None
        # Why the consumer can never be ready again (its consume loop died).
        self.dead: str | None = None
        self.end_offsets: dict[TopicPartition, int] = {}
        # Partitions stopped because their log no longer matches the stored offset, and why.
        self.stopped: dict[TopicPartition, str] = {}
        self._last_kafka_check = (0.0, "")

    def note_failure(self, component: str, exc: BaseException) -> None:
        """A transient failure of the database or the broker (logged once until recovery)."""
        self.metrics.transient_failures.labels(component).inc()
        if self.failing is None:
            log.warning(
                "transient failure; retrying with backoff",
                component=component,
                consumer=self.name,
                error=repr(exc),
            )
        self.failing = f"{component} unavailable: {exc!r}"[:300]

    def note_ok(self) -> None:
        """The infrastructure works again."""
        if self.failing is not None:
            log.info("recovered", consumer=self.name)
        self.failing = None

    def highwater(self, tp: TopicPartition) -> int | None:
        # aiokafka asserts the partition is assigned: during a rebalance ours may not be.
        kafka = self.kafka
        if kafka is None or tp not in kafka.assignment():
            return None
        high: int | None = kafka.highwater(tp)
        return high

    def lag(self) -> dict[tuple[str, int], int]:
        """End offset minus the offset stored in the database, per assigned partition."""
        out: dict[tuple[str, int], int] = {}
        for tp in list(self.assigned):
            high = self.highwater(tp)
            known = [e for e in (high, self.end_offsets.get(tp)) if e is not None]
            end = max(known) if known else None
            stored = self.db_offsets.get(tp)
            if end is None or stored is None:
                continue
            out[(tp.topic, tp.partition)] = max(0, end - stored)
        return out

    def observe_committed(self, tps: list[TopicPartition]) -> None:
        """Refreshes the lag gauges of partitions a batch just committed."""
        if self.kafka is None:
            return
        gauge = self.metrics.consumer_lag
        for tp in tps:
            high = self.highwater(tp)
            if high is not None and tp in self.db_offsets:
                self.end_offsets[tp] = high
                gauge.labels(self.name, tp.topic, str(tp.partition)).set(
                    max(0, high - self.db_offsets[tp])
                )

    def forget(self, tp: TopicPartition) -> None:
        """Drops a revoked partition's gauges."""
        self.stopped.pop(tp, None)
        for gauge in (self.metrics.consumer_lag, self.metrics.partition_stopped):
            with contextlib.suppress(KeyError):
                gauge.remove(self.name, tp.topic, str(tp.partition))

    def stop(self, tp: TopicPartition, reason: str) -> None:
        """Alarms on a partition that must not be consumed on (the consumer pauses it)."""
        if tp not in self.stopped:
            log.error(
                "partition stopped: its log does not match the stored offset",
                consumer=self.name,
                topic=tp.topic,
                partition=tp.partition,
                reason=reason,
            )
        self.stopped[tp] = reason
        self.metrics.partition_stopped.labels(self.name, tp.topic, str(tp.partition)).set(1)

    async def mismatched(self, stored: dict[TopicPartition, int]) -> dict[TopicPartition, str]:
        """Partitions whose log cannot continue from the stored offset, and why.

        A stored offset past the log's end means the topic was recreated or truncated (with
        `auto_offset_reset` the client would read it again from 0, as if applied already); one
        before the log's start means records were deleted before they were applied.
        """
        if self.kafka is None or not stored:
            return {}
        tps = list(stored)
        try:
            ends = await asyncio.wait_for(self.kafka.end_offsets(tps), 10)
            begins = await asyncio.wait_for(self.kafka.beginning_offsets(tps), 10)
        except Exception as exc:
            log.warning("log bounds unknown; not checked", consumer=self.name, error=repr(exc))
            return {}
        out = {}
        for tp, offset in stored.items():
            if offset > ends.get(tp, offset):
                out[tp] = f"stored offset {offset} beyond the log end {ends[tp]}"
            elif offset < begins.get(tp, offset):
                out[tp] = f"stored offset {offset} before the log start {begins[tp]}"
        return out

    async def refresh_end_offsets(self) -> None:
        """Asks the broker for end offsets of the assigned partitions."""
        if self.kafka is None or not self.assigned:
            return
        ends = await self.kafka.end_offsets(list(self.assigned))
        self.end_offsets.update(ends)

    async def lag_loop(self) -> None:
        """Keeps every assigned partition's lag gauge fresh, idle partitions included."""
        while True:
            await asyncio.sleep(5.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.refresh_end_offsets(), 5.0)
            for (topic, partition), lag in self.lag().items():
                self.metrics.consumer_lag.labels(self.name, topic, str(partition)).set(lag)

    async def readiness(self, assigned_once: bool, max_lag: int) -> str | None:
        """None when ready; else why not (infrastructure down, no partitions yet, lag)."""
        if self.dead is not None:
            return self.dead
        if self.kafka is None:
            return "consumer not running"
        if self.failing is not None:
            return self.failing
        now = time.monotonic()
        checked_at, error = self._last_kafka_check
        if now - checked_at > 2.0:
            try:
                await asyncio.wait_for(self.kafka.topics(), 1.5)
                error = ""
            except Exception as exc:
                error = f"kafka unreachable: {exc!r}"
            self._last_kafka_check = (now, error)
        if error:
            return error
        if not assigned_once:
            return "waiting for partition assignment"
        if any(self.highwater(tp) is None and tp not in self.end_offsets for tp in self.assigned):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.refresh_end_offsets(), 1.0)
        lag = max(self.lag().values(), default=0)
        if lag > max_lag:
            return f"consumer lag {lag} above {max_lag}"
        return None
