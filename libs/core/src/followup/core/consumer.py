"""Consuming with an exactly-once effect on a PostgreSQL read model: the consume loop.

Kafka delivers at least once; the effect is made exactly once by one database transaction per
batch (followup.core.claim states the invariant, followup.core.batchtx runs the transaction).
This module fetches and decodes batches, hands them to the database in order, seeks to the
offsets stored in the database on partition assignment, and commits Kafka offsets afterwards
for lag tools only.

aiokafka is used directly (not faststream): seeking to database offsets in a rebalance
listener, `getmany()` batches and the order "database commit, then Kafka commit" are all
needed, and faststream's ack policies give none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from followup.core.applier import Applier, BatchResult, Item, SortedBatch, decode_batch
from followup.core.batchtx import BatchWriter, Flight, Signals
from followup.core.claim import Fenced, stored_offsets
from followup.core.deadletter import DeadLetterPublisher
from followup.core.gctune import tune_gc
from followup.core.metrics import observe_ages
from followup.core.readiness import Health
from followup.core.retry import Backoff, is_transient
from followup.core.subscription import Subscription
from followup.core.ticks import Ticker

if TYPE_CHECKING:
    from followup.core.clock import Clock
    from followup.core.metrics import Metrics
    from followup.core.settings import CoreSettings

log = structlog.get_logger(__name__)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: EventConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.consumer.on_revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.consumer.on_assigned(list(assigned))


class EventConsumer:
    """Consumes a subscription's topics in batches, applying each event's effect once."""

    def __init__(
        self,
        subscription: Subscription,
        *,
        pool: asyncpg.Pool,
        settings: CoreSettings,
        clock: Clock,
        metrics: Metrics,
        dead_letters: DeadLetterPublisher,
        run_ticks: bool = True,
        group_id: str | None = None,
        after_commit: Callable[[list[Item]], None] | None = None,
        now_from_events: bool = False,
        on_fatal: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.sub = subscription
        self.pool = pool
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.dead_letters = dead_letters
        self.name = subscription.consumer
        self.group_id = group_id or settings.group_id(subscription.consumer)
        self.topics = [settings.topic(t) for t in subscription.topics]
        self.applier = Applier(
            subscription,
            settings=settings,
            clock=clock,
            metrics=metrics,
            now_from_events=now_from_events,
        )
        self.run_ticks = run_ticks and subscription.on_tick is not None
        # Instrumentation (benchmarks, tests): called with each batch right after its commit.
        self.after_commit = after_commit
        # Called once if the consume loop dies (the service then exits non-zero).
        self.on_fatal = on_fatal
        self._kafka: AIOKafkaConsumer | None = None
        # The next offset of each assigned partition as committed in the database: where
        # the next batch must start, and what the fencing check expects to find.
        self._db_offsets: dict[TopicPartition, int] = {}
        self._assigned: set[TopicPartition] = set()
        self._assigned_once = False
        self._generation = 0
        # From revocation until the new assignment is sought: no batch is admitted.
        self._revoking = False
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        # Batches handed to the database, oldest first: at most two (see followup.core.batchtx).
        self._flights: list[Flight] = []
        tx_lock = asyncio.Lock()
        self.health = Health(self.name, metrics, self._assigned, self._db_offsets)
        self.writer = BatchWriter(
            self.applier,
            pool=pool,
            settings=settings,
            clock=clock,
            metrics=metrics,
            dead_letters=dead_letters,
            health=self.health,
            tx_lock=tx_lock,
            db_offsets=self._db_offsets,
            generation=lambda: self._generation,
        )
        self.ticker = Ticker(
            self.applier,
            pool=pool,
            settings=settings,
            clock=clock,
            metrics=metrics,
            health=self.health,
            tx_lock=tx_lock,
        )
        self._kafka_commit: dict[TopicPartition, int] = {}
        self._kafka_commit_wake = asyncio.Event()
        self.events_committed = 0
        self.batches_committed = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Joins the group and starts consuming (and ticking) in the background."""
        tune_gc(self.settings.gc_young_threshold, self.settings.batch_max_records)
        await self.dead_letters.start()
        self._kafka = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.group_id,
            client_id=f"followup-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.batch_max_records,
            fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            metadata_max_age_ms=10000,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.settings.kafka_session_timeout_ms // 5),
        )
        self._kafka.subscribe(self.topics, listener=_Listener(self))
        await self._kafka.start()
        self.health.kafka = self._kafka
        self._running = True
        consume = asyncio.create_task(self._consume_loop(), name=f"consume-{self.name}")
        consume.add_done_callback(self._consume_ended)
        self._tasks = [
            consume,
            asyncio.create_task(self._kafka_commit_loop(), name=f"kafka-commit-{self.name}"),
            asyncio.create_task(self.health.lag_loop(), name=f"lag-{self.name}"),
        ]
        if self.run_ticks:
            self._tasks.append(asyncio.create_task(self.ticker.loop(), name=f"tick-{self.name}"))
        log.info("consumer started", consumer=self.name, group=self.group_id, topics=self.topics)

    async def stop(self) -> None:
        """Finishes the batch in progress, commits, leaves the group (the SIGTERM path)."""
        if not self._running:
            return
        self._running = False
        consume, *others = self._tasks
        try:
            await asyncio.wait_for(asyncio.shield(consume), self.settings.stop_timeout_s)
        except (TimeoutError, Exception) as exc:
            log.warning("consumer did not finish its batch in time; abandoning it", error=repr(exc))
            consume.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await consume
        for task in others:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._commit_kafka_now()
        if self._kafka is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._kafka.stop(), 15)
            self._kafka = self.health.kafka = None
        await self.writer.close()
        await self.dead_letters.stop()
        log.info("consumer stopped", consumer=self.name, events=self.events_committed)

    def _consume_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        assert exc is not None
        log.critical(
            "consume loop died; this consumer applies nothing more",
            consumer=self.name,
            error=repr(exc),
            exc_info=exc,
        )
        self.health.dead = f"consume loop died: {exc!r}"[:300]
        if self.on_fatal is not None:
            self.on_fatal(exc)

    async def tick(self, now: datetime) -> bool:
        """Runs on_tick once for `now` in its own transaction; False if another ran it."""
        return await self.ticker.tick(now)

    # -- rebalance ---------------------------------------------------------------------------

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        """Lets the batches in flight commit before another member takes their partitions."""
        # Make the main loop drop whatever it fetched for the old assignment, and admit nothing
        # more until the new one is sought.
        self._revoking = True
        self._generation += 1
        while any(not flight.task.done() for flight in self._flights):
            for flight in list(self._flights):
                if not flight.task.done():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(flight.task)
        await self._commit_kafka_now()
        for tp in revoked:
            self._assigned.discard(tp)
            self._db_offsets.pop(tp, None)
            self._kafka_commit.pop(tp, None)
            self.health.forget(tp)

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        """Seeks each assigned partition to the offset stored in the database."""
        self._generation += 1
        offsets = await self._stored_offsets(assigned)
        assert self._kafka is not None
        for tp, reason in (await self.health.mismatched(offsets)).items():
            self._stop_partition(tp, reason)
        for tp in assigned:
            self._kafka.seek(tp, offsets[tp])
            self._db_offsets[tp] = offsets[tp]
            self._assigned.add(tp)
        # Again after the seeks: records fetched while the offsets were loading came from the
        # positions before the seek and must not be applied (they are fetched again).
        self._generation += 1
        self._revoking = False
        self._assigned_once = True
        log.info(
            "partitions assigned",
            consumer=self.name,
            partitions=sorted(f"{tp.topic}[{tp.partition}]@{offsets[tp]}" for tp in assigned),
        )

    async def _stored_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The stored offsets, waiting for the database: there is nowhere safe to read from
        without them."""
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        while True:
            try:
                offsets = await stored_offsets(self.pool, self.name, tps)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("loading stored offsets failed; retrying", consumer=self.name)
                self.health.note_failure("database", exc)
                await backoff.sleep()
        self.health.note_ok()
        return offsets

    # -- the loop ----------------------------------------------------------------------------

    async def _consume_loop(self) -> None:
        assert self._kafka is not None
        kafka = self._kafka
        handles = self.applier.handles
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        while self._running:
            try:
                batch = await kafka.getmany(
                    timeout_ms=self.settings.batch_timeout_ms,
                    max_records=self.settings.batch_max_records,
                )
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.health.note_failure("kafka", exc)
                await backoff.sleep()
                continue
            if not batch:
                await self._await_inflight()
                continue
            generation = self._generation
            decoded, sorted_ = await decode_batch(batch, handles)
            # At most two batches in the database: the one before the last must be done.
            await self._await_flights(keep=1 if self.writer.pipelining else 0)
            if generation != self._generation or self._revoking:
                # A rebalance or a fence happened meanwhile: every partition has been (or will
                # be) sought to its database offset, so these records are simply dropped.
                continue
            prev = self._flights[-1] if self._flights else None
            if prev is not None and prev.generation != generation:
                # Sent before the partitions moved: it may end without a commit, so this batch
                # cannot start where that one ends. Let it end first.
                await self._await_inflight()
                if generation != self._generation or self._revoking:
                    continue
                prev = None
            # Where a batch still in the database ends, this one starts (once done, it either
            # committed, and the stored offsets say so, or this one is fenced with it).
            ahead = prev.next_offsets if prev is not None and not prev.task.done() else {}
            items, next_offsets = self._admissible(decoded, ahead)
            if not items:
                continue
            if len(items) != len(sorted_.items):
                # Some records were dropped (a fetch that raced a seek): sort what is left.
                sorted_ = SortedBatch.of(items, handles)
            slot = 1 - prev.slot if prev is not None else 0
            signals = Signals()
            task = asyncio.create_task(
                self._fly(sorted_, next_offsets, generation, slot, prev, signals)
            )
            self._flights.append(Flight(task, sorted_, next_offsets, slot, signals, generation))
        await self._await_inflight()

    def _admissible(
        self, decoded: list[tuple[TopicPartition, list[Item]]], ahead: dict[TopicPartition, int]
    ) -> tuple[list[Item], dict[TopicPartition, int]]:
        """Drops records this consumer must not apply, and gives each partition's next offset.

        Records of a partition whose stored offset is not known yet (fetched before the
        rebalance listener sought it) are dropped: the listener's seek fetches them again.
        Records below the stored offset were applied already (a fetch that raced a seek).
        `ahead` holds the next offsets of a batch still in the database, where this one starts.
        """
        kept: list[Item] = []
        next_offsets: dict[TopicPartition, int] = {}
        for tp, items in decoded:
            stored = self._db_offsets.get(tp)
            if stored is None:
                continue
            if tp in self.health.stopped:
                continue
            stored = ahead.get(tp, stored)
            first = items[0].record.offset
            high = self.health.highwater(tp)
            if first < stored and high is not None and high < stored:
                # Not a fetch that raced a seek: the log is shorter than what was applied.
                self._stop_partition(tp, f"stored offset {stored} beyond the log end {high}")
                continue
            if first < stored:
                items = [i for i in items if i.record.offset >= stored]
                if not items:
                    continue
            elif first > stored:
                # Only transaction markers or compaction leave gaps; neither is expected on
                # the contract's topics, so say so.
                log.warning(
                    "offset gap in a partition",
                    consumer=self.name,
                    topic=tp.topic,
                    partition=tp.partition,
                    stored=stored,
                    first=first,
                )
            kept.extend(items)
            next_offsets[tp] = items[-1].record.offset + 1
        return kept, next_offsets

    def _stop_partition(self, tp: TopicPartition, reason: str) -> None:
        self.health.stop(tp, reason)
        if self._kafka is not None and tp in self._kafka.assignment():
            self._kafka.pause(tp)

    async def _await_inflight(self) -> None:
        await self._await_flights(keep=0)

    async def _await_flights(self, keep: int) -> None:
        """Waits for batches in the database, oldest first, until `keep` are left."""
        while len(self._flights) > keep:
            flight = self._flights[0]
            try:
                await flight.task
            except Fenced:
                await self._refence()
            finally:
                if self._flights and self._flights[0] is flight:
                    self._flights.pop(0)

    async def _refence(self) -> None:
        """Seeks every assigned partition to the offset the database holds now."""
        assert self._kafka is not None
        self._generation += 1
        stored = await self._stored_offsets(sorted(self._assigned))
        moved = {
            f"{tp.topic}[{tp.partition}]": (self._db_offsets.get(tp), offset)
            for tp, offset in stored.items()
            if self._db_offsets.get(tp) != offset
        }
        for tp, offset in stored.items():
            if tp in self._assigned:
                self._db_offsets[tp] = offset
                self._kafka.seek(tp, offset)
        self._generation += 1
        log.warning(
            "stored offsets moved under this consumer (another owner, or a swap); re-sought",
            consumer=self.name,
            moved=moved,
        )

    async def _fly(
        self,
        batch: SortedBatch,
        next_offsets: dict[TopicPartition, int],
        generation: int,
        slot: int,
        prev: Flight | None,
        signals: Signals,
    ) -> None:
        result = await self.writer.process(batch, next_offsets, generation, slot, prev, signals)
        if result is not None:
            self._after_commit(batch.items, next_offsets, result)

    def _after_commit(
        self, items: list[Item], next_offsets: dict[TopicPartition, int], result: BatchResult
    ) -> None:
        for tp, offset in next_offsets.items():
            self._db_offsets[tp] = offset
            self._kafka_commit[tp] = offset
        self._kafka_commit_wake.set()
        if self.after_commit is not None:
            self.after_commit(items)
        self.events_committed += len(items)
        self.batches_committed += 1
        m = self.metrics
        name = self.name
        for outcome in ("ok", "duplicate", "skipped", "dead_letter"):
            n = getattr(result, outcome)
            if n:
                m.events_consumed.labels(name, outcome).inc(n)
        m.batch_size.labels(name).observe(len(items))
        observe_ages(
            m.processing_latency.labels(name),
            time.time() * 1000,
            [item.record.timestamp for item in items],
        )
        self.health.observe_committed(list(next_offsets))

    # -- Kafka offsets (for lag tools only) ---------------------------------------------------

    async def _kafka_commit_loop(self) -> None:
        while True:
            await self._kafka_commit_wake.wait()
            self._kafka_commit_wake.clear()
            await self._commit_kafka_now()
            await asyncio.sleep(1.0)

    async def _commit_kafka_now(self) -> None:
        pending = {tp: o for tp, o in self._kafka_commit.items() if tp in self._assigned}
        self._kafka_commit.clear()
        if not pending or self._kafka is None:
            return
        try:
            await self._kafka.commit({tp: OffsetAndMetadata(o, "") for tp, o in pending.items()})
        except Exception as exc:  # only lag tools read these: never worth failing over
            log.debug("kafka offset commit skipped", error=repr(exc))

    # -- lag and readiness (followup.core.readiness) ------------------------------------------

    @property
    def assigned_once(self) -> bool:
        """True once the group has assigned partitions and their offsets were sought."""
        return self._assigned_once

    def lag(self) -> dict[tuple[str, int], int]:
        """End offset minus the offset stored in the database, per assigned partition."""
        return self.health.lag()

    def max_lag(self) -> int:
        """The largest partition lag (0 with no partitions)."""
        return max(self.lag().values(), default=0)

    def total_lag(self) -> int:
        """The sum of partition lags."""
        return sum(self.lag().values())

    async def refresh_end_offsets(self) -> None:
        """Asks the broker for the end offsets of the assigned partitions."""
        await self.health.refresh_end_offsets()

    async def readiness(self, max_lag: int | None = None) -> str | None:
        """None when ready; else why not (not running, infrastructure down, lag too high)."""
        if not self._running:
            return "consumer not running"
        bound = self.settings.readiness_max_lag if max_lag is None else max_lag
        return await self.health.readiness(self._assigned_once, bound)
