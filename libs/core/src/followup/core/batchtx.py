"""One batch's transaction: claim, handlers, dead letters, commit; retried until done or fenced.

The plain path (`pipelined_claims` off) is claim -> apply -> commit on one connection, one
batch at a time. With pipelined claims, while a batch is in the database the next one opens its
transaction on the consumer's second connection and claims its ids there (the larger half of
the claim's work), then waits for it and moves the offsets once it has committed
(followup.core.claim states the invariant both keep).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson
import structlog
from aiokafka import TopicPartition

from followup.core import claim
from followup.core.applier import (
    Applier,
    BatchResult,
    HandlerFailed,
    Item,
    SortedBatch,
    handler_dead_letter,
    reject_dead_letter,
)
from followup.core.attempts import AttemptStore
from followup.core.db import Conn
from followup.core.deadletter import (
    HANDLER_FAILED,
    PROCESSING_FAILED,
    DeadLetter,
    DeadLetterPublisher,
    record_dead_letters,
)
from followup.core.deadletter_sealing import seal_letters
from followup.core.retry import Backoff, is_transient

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    from followup.core.clock import Clock
    from followup.core.metrics import Metrics
    from followup.core.readiness import Health
    from followup.core.settings import CoreSettings

log = structlog.get_logger(__name__)
_dumps = orjson.dumps

# Failures outside any handler, in isolation, before a batch goes one record at a time.
_DETERMINISTIC_TRIES = 2


@dataclass(slots=True)
class Signals:
    """What the batch after this one waits for before claiming its ids ahead.

    Only once this batch holds its offset rows (`claimed`): a lock request queued behind the
    next batch's could otherwise block this one's claim, and the next batch waits for this one
    outside the database's sight (no deadlock detection). For the same reason the next batch
    gives its early claim up as soon as this one must start over (`retrying`).
    """

    claimed: asyncio.Event = field(default_factory=asyncio.Event)
    retrying: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class Flight:
    """A batch handed to the database: its task, its items, its connection slot."""

    task: asyncio.Task[None]
    batch: SortedBatch
    next_offsets: dict[TopicPartition, int]
    slot: int
    signals: Signals
    generation: int


@dataclass(slots=True)
class _Early:
    """A batch's transaction opened with its ids claimed ahead of the offsets."""

    conn: Conn
    tr: Any  # asyncpg's Transaction, started
    # Ids claimed that were not seen before (None: all of them).
    fresh: set[str] | None
    # Ids left to claim with the offsets: also in the previous batch, whose uncommitted rows
    # they would wait on (and that batch's retries on theirs).
    late: list[str]


class BatchWriter:
    """Commits batches for one consumer on its own connections (two with pipelined claims)."""

    def __init__(
        self,
        applier: Applier,
        *,
        pool: asyncpg.Pool,
        settings: CoreSettings,
        clock: Clock,
        metrics: Metrics,
        dead_letters: DeadLetterPublisher,
        health: Health,
        tx_lock: asyncio.Lock,
        db_offsets: dict[TopicPartition, int],
        generation: Callable[[], int],
    ) -> None:
        self.applier = applier
        self.name = applier.name
        self.pool = pool
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.dead_letters = dead_letters
        self.health = health
        self.attempts = AttemptStore(pool, self.name)
        # Batches and ticks of one process take turns in the database.
        self.tx_lock = tx_lock
        # The consumer's next offset of each partition as committed: what the fencing expects.
        self.db_offsets = db_offsets
        self.generation = generation
        self.expect_duplicates = False
        # The consumer's own connections, one per batch in the database.
        self._conns: list[PoolConnectionProxy[Any] | None] = [None, None]

    @property
    def pipelining(self) -> bool:
        """True when a batch may claim its ids while the one before it is in the database."""
        # Two batches hold two connections: only with a pool that keeps one more for the short
        # uses (offsets at assignment, counted attempts, ticks).
        return self.settings.pipelined_claims and self.pool.get_max_size() >= 3

    async def connection(self, slot: int) -> Conn:
        """One of the consumer's own connections: no pool round trips on the hot path."""
        conn = self._conns[slot]
        if conn is None or conn.is_closed():
            conn = self._conns[slot] = await self.pool.acquire()
        return conn

    async def drop_connection(self, slot: int) -> None:
        """Gives a connection back to the pool (the next batch on its slot takes another)."""
        conn, self._conns[slot] = self._conns[slot], None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.release(conn), 5)

    async def close(self) -> None:
        """Gives every connection back."""
        for slot in range(len(self._conns)):
            await self.drop_connection(slot)

    async def process(
        self,
        batch: SortedBatch,
        next_offsets: dict[TopicPartition, int],
        generation: int,
        slot: int,
        prev: Flight | None,
        signals: Signals,
    ) -> BatchResult | None:
        """Commits one batch, retrying transient failures until it is done (or fenced).

        None when its partitions moved before it could commit (their owner fetches it again).
        With the batch before it still in the database, its ids are claimed at once on its own
        connection and the rest waits for that batch (which it follows: fenced, it is too).
        """
        early: _Early | None = None
        if prev is not None:
            try:
                if self.pipelining and await _first(prev.signals.claimed, prev):
                    early = await self._claim_early(batch, slot, prev.batch)
                    if early is not None and await _first(prev.signals.retrying, prev):
                        await self._rollback(early.tr, slot)
                        early = None
                await asyncio.shield(prev.task)
            except BaseException:
                if early is not None:
                    await self._rollback(early.tr, slot)
                raise
            if generation != self.generation():
                # Its partitions moved meanwhile: their new owner (or this one, re-sought)
                # fetches these records again.
                if early is not None:
                    await self._rollback(early.tr, slot)
                return None
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        isolate = False
        deterministic = 0
        while True:
            try:
                async with self.tx_lock:
                    result = await self._commit(batch, next_offsets, isolate, slot, early, signals)
                break
            except claim.SeenBefore:
                signals.retrying.set()
                self.expect_duplicates = True
            except HandlerFailed as exc:
                signals.retrying.set()
                log.warning(
                    "handler failed in batch; isolating the event",
                    consumer=self.name,
                    error=str(exc),
                )
                isolate = True
            except (claim.Fenced, asyncio.CancelledError):
                raise
            except Exception as exc:
                signals.retrying.set()
                if is_transient(exc):
                    self.health.note_failure("kafka" if _is_kafka_error(exc) else "database", exc)
                    await self.drop_connection(slot)
                else:
                    # Outside any handler: isolating may pin it on one event; if not, the
                    # batch goes one record at a time and only the culprit is dead-lettered.
                    deterministic += 1
                    log.exception("batch failed outside its handlers", consumer=self.name)
                    if not isolate:
                        isolate = True
                        continue
                    if deterministic >= _DETERMINISTIC_TRIES:
                        return await self._one_by_one(batch, generation, slot)
                await backoff.sleep()
                if generation != self.generation():
                    # Lost the partitions while retrying: the new owner redoes this batch.
                    return None
            finally:
                early = None  # committed or rolled back by the first attempt
        self.health.note_ok()
        # Back to the all-new claim once a batch had no id seen before.
        self.expect_duplicates = result.duplicate > 0
        result.duplicate += batch.handled - len(batch.unique)
        result.skipped = batch.skipped
        return result

    async def _one_by_one(
        self, batch: SortedBatch, generation: int, slot: int
    ) -> BatchResult | None:
        """The bounded path: each record in its own transaction, in order; one that still fails
        outside its handlers on its own is dead-lettered bare (PROCESSING_FAILED)."""
        log.error(
            "batch keeps failing outside its handlers; applying it one record at a time",
            consumer=self.name,
            records=len(batch.items),
        )
        self.expect_duplicates = True
        total = BatchResult(skipped=batch.skipped)
        for item in batch.items:
            tp = TopicPartition(item.record.topic, item.record.partition)
            offsets = {tp: item.record.offset + 1}
            one = await self._commit_alone(item, offsets, generation, slot)
            if one is None:
                return None
            if tp in self.db_offsets:
                self.db_offsets[tp] = offsets[tp]
            total.ok += one.ok
            total.duplicate += one.duplicate
            total.dead_letter += one.dead_letter
        self.health.note_ok()
        return total

    async def _commit_alone(
        self, item: Item, offsets: dict[TopicPartition, int], generation: int, slot: int
    ) -> BatchResult | None:
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        single = SortedBatch.of([item], self.applier.handles)
        culprit: str | None = None
        while True:
            try:
                async with self.tx_lock:
                    if culprit is None:
                        return await self._commit(single, offsets, True, slot, None, Signals())
                    return await self._bare_dead_letter(item, offsets, slot, culprit)
            except (claim.Fenced, asyncio.CancelledError):
                raise
            except Exception as exc:
                if is_transient(exc):
                    self.health.note_failure("database", exc)
                    await self.drop_connection(slot)
                    await backoff.sleep()
                elif culprit is None:
                    culprit = f"{type(exc).__name__}: {exc}"
                else:
                    log.exception("a bare dead letter failed too; retrying", consumer=self.name)
                    await backoff.sleep()
                if generation != self.generation():
                    return None

    async def _bare_dead_letter(
        self, item: Item, offsets: dict[TopicPartition, int], slot: int, error: str
    ) -> BatchResult:
        """Moves the offset past the record and dead-letters it with its bytes only."""
        conn = await self.connection(slot)
        async with conn.transaction():
            await claim.claim(conn, self.name, self._cas(offsets), "[]", [], expect_duplicates=True)
            letter = DeadLetter.from_record(
                self.name,
                item.record,
                reason=PROCESSING_FAILED,
                error_type="ProcessingFailed",
                error=error,
                event_id=item.event.id if item.event is not None else None,
                event_type=item.event.type if item.event is not None else None,
            )
            await self._dead_letter(conn, [dataclasses.replace(letter, headers=())])
        return BatchResult(dead_letter=1)

    async def _claim_early(
        self, batch: SortedBatch, slot: int, before: SortedBatch
    ) -> _Early | None:
        """Opens the batch's transaction and claims its ids; None if that failed (the batch is
        then claimed whole once the one before it is done)."""
        ids = list(batch.unique)
        seen = before.unique
        late = [i for i in ids if i in seen]
        if late:
            late_ids = set(late)
            ids = [i for i in ids if i not in late_ids]
            ids_json = _dumps(ids).decode()
        else:
            ids_json = batch.claim_ids()
        tr = None
        try:
            conn = await self.connection(slot)
            tr = conn.transaction()
            await tr.start()
            fresh = await claim.claim_ahead(
                conn, self.name, ids_json, len(ids), expect_duplicates=self.expect_duplicates
            )
        except asyncio.CancelledError:
            if tr is not None:
                await self._rollback(tr, slot)
            raise
        except Exception as exc:
            # An id seen before, or the database unavailable: both handled by the whole claim.
            if isinstance(exc, asyncpg.UniqueViolationError):
                self.expect_duplicates = True
            if tr is not None:
                await self._rollback(tr, slot)
            return None
        return _Early(conn, tr, fresh, late)

    async def _rollback(self, tr: Any, slot: int) -> None:
        try:
            await tr.rollback()
        except Exception:
            # The connection is gone or unusable: the pool resets or discards it.
            await self.drop_connection(slot)

    async def _commit(
        self,
        batch: SortedBatch,
        next_offsets: dict[TopicPartition, int],
        isolate: bool,
        slot: int,
        early: _Early | None,
        signals: Signals,
    ) -> BatchResult:
        offsets = self._cas(next_offsets)
        if early is None:
            conn = await self.connection(slot)
            tr = conn.transaction()
            await tr.start()
        else:
            conn, tr = early.conn, early.tr
        try:
            result = await self._apply(conn, batch, offsets, isolate, early, signals)
        except BaseException:
            await self._rollback(tr, slot)
            raise
        await tr.commit()
        return result

    def _cas(self, next_offsets: dict[TopicPartition, int]) -> claim.Offsets:
        """The compare-and-set's arguments: from where this consumer left each partition."""
        tps = list(next_offsets)
        return [
            [tp.topic for tp in tps],
            [tp.partition for tp in tps],
            [self.db_offsets.get(tp, -1) for tp in tps],
            [next_offsets[tp] for tp in tps],
        ]

    async def _apply(
        self,
        conn: Conn,
        batch: SortedBatch,
        offsets: claim.Offsets,
        isolate: bool,
        early: _Early | None,
        signals: Signals,
    ) -> BatchResult:
        """The batch's transaction after its start: claim, handlers, dead letters."""
        result = BatchResult()
        unique, events = batch.unique, batch.events
        if early is None:
            to_apply = await claim.claim(
                conn,
                self.name,
                offsets,
                batch.claim_ids(),
                events,
                expect_duplicates=self.expect_duplicates,
            )
        else:
            to_apply = await claim.claim_rest(
                conn, self.name, offsets, events, early.fresh, early.late
            )
        signals.claimed.set()
        result.duplicate = len(events) - len(to_apply)
        tx = self.applier.new_tx(conn, self.clock.now())
        tx.attach_records(unique)
        if self.applier.now_from_events:
            self.applier.record_ms = {i: item.record.timestamp for i, item in unique.items()}
        letters: list[DeadLetter] = []
        if to_apply:
            if not isolate:
                await self.applier.run_fast(tx, to_apply)
                result.ok = len(to_apply)
            else:
                failed = await self.applier.run_isolated(tx, to_apply, self.attempts)
                result.ok = len(to_apply) - len(failed)
                letters += [handler_dead_letter(self.name, unique[e.id], exc) for e, exc in failed]
        letters += [reject_dead_letter(self.name, item) for item in batch.rejected]
        result.dead_letter = len(letters)
        if letters:
            await self._dead_letter(conn, letters)
        return result

    async def _dead_letter(self, conn: Conn, letters: list[DeadLetter]) -> None:
        # Recorded first so a redelivered message is sent once; sent and acked before the
        # commit so a crash can duplicate a dead letter but never lose one.
        letters = await seal_letters(self.dead_letters.key_store, letters)
        fresh = await record_dead_letters(conn, letters)
        await self.dead_letters.send(fresh)
        for letter in letters:
            self.metrics.dead_letters.labels(self.name, letter.reason).inc()
            if letter.reason != HANDLER_FAILED:
                log.warning(
                    "message dead-lettered",
                    consumer=self.name,
                    reason=letter.reason,
                    topic=letter.topic,
                    partition=letter.partition,
                    offset=letter.offset,
                    error=letter.error[:300],
                )


async def _first(signal: asyncio.Event, prev: Flight) -> bool:
    """Waits for the signal or the end of the previous batch; True if the signal came first."""
    if prev.task.done():
        return False
    if signal.is_set():
        return True
    waiter = asyncio.ensure_future(signal.wait())
    try:
        await asyncio.wait({waiter, prev.task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    return signal.is_set() and not prev.task.done()


def _is_kafka_error(exc: BaseException) -> bool:
    from aiokafka.errors import KafkaError

    return isinstance(exc, KafkaError)
