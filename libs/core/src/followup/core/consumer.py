"""Consuming with an exactly-once effect on a PostgreSQL read model.

Kafka delivers at least once; the effect is made exactly once by one database transaction per
batch that stores together the read model's writes, the next offset of every partition in the
batch and the ids of the events applied. On partition assignment the consumer seeks to the
offsets stored in the database; Kafka offsets are committed afterwards only for lag tools.

aiokafka is used directly (not faststream): seeking to database offsets in a rebalance
listener, `getmany()` batches and the order "database commit, then Kafka commit" are all
needed, and faststream's ack policies give none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import asyncpg
import orjson
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from followup.core.attempts import AttemptStore, PastAttempts, exhausted
from followup.core.db import Conn
from followup.core.deadletter import (
    HANDLER_FAILED,
    DeadLetter,
    DeadLetterPublisher,
    record_dead_letters,
)
from followup.core.logging import bind_event, unbind_event
from followup.core.metrics import observe_ages
from followup.core.outbox import OutboxRow, enqueue, outbox_row
from followup.core.retry import Backoff, is_transient
from followup.events import Event, RejectedMessage, decode

if TYPE_CHECKING:
    from aiokafka.structs import ConsumerRecord
    from asyncpg.pool import PoolConnectionProxy

    from followup.core.clock import Clock
    from followup.core.metrics import Metrics
    from followup.core.settings import CoreSettings

log = structlog.get_logger(__name__)
_dumps = orjson.dumps

Handler = Callable[["Tx", Event[Any]], Awaitable[None]]
BatchHandler = Callable[["Tx", list[Event[Any]]], Awaitable[None]]
TickHandler = Callable[["Tx", datetime], Awaitable[None]]


@dataclass
class Subscription:
    """What a service consumes and how it applies each event type.

    `handlers` get one event at a time; `batch_handlers` get, in order, each run of
    consecutive events of the batch that map to the same batch handler (register one function
    for several types to receive them together). Contract types with neither are skipped.
    `on_tick` runs each time the clock advances, in its own transaction.
    `replay_keep_tables` are tables a blue/green replay must keep rather than rebuild
    (state that does not come from the topics, such as idempotency keys of HTTP commands).
    """

    consumer: str
    topics: Sequence[str]
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    batch_handlers: Mapping[str, BatchHandler] = field(default_factory=dict)
    on_tick: TickHandler | None = None
    replay_keep_tables: Sequence[str] = ()

    def __post_init__(self) -> None:
        both = set(self.handlers) & set(self.batch_handlers)
        if both:
            raise ValueError(f"types with both a handler and a batch handler: {sorted(both)}")


class Tx:
    """What a handler gets: the batch's connection and transaction, the clock's now, publish."""

    __slots__ = ("_outbox", "_topic_prefix", "conn", "consumer", "event", "now")

    def __init__(self, conn: Conn, now: datetime, consumer: str, topic_prefix: str = "") -> None:
        # Typed as a plain connection: handlers need not care that it came from a pool.
        self.conn = cast(asyncpg.Connection, conn)
        self.now = now
        self.consumer = consumer
        # The event being handled (None in batch handlers and ticks), for logging.
        self.event: Event[Any] | None = None
        self._outbox: dict[str, OutboxRow] = {}
        self._topic_prefix = topic_prefix

    def publish(self, event: Event[Any], topic: str | None = None) -> None:
        """Publishes through the outbox in this transaction; once per event id."""
        if event.id not in self._outbox:
            self._outbox[event.id] = outbox_row(event, topic=topic, topic_prefix=self._topic_prefix)

    @property
    def pending(self) -> list[OutboxRow]:
        """Events published in this transaction and not yet written to the outbox."""
        return list(self._outbox.values())

    async def flush(self) -> int:
        """Writes the published events to the outbox now (done for you before commit)."""
        rows = list(self._outbox.values())
        self._outbox.clear()
        return await enqueue(self.conn, rows)

    def discard(self) -> None:
        """Forgets unwritten publishes (their handler's effects were rolled back)."""
        self._outbox.clear()


@dataclass(slots=True)
class Item:
    """One Kafka record of a batch, decoded or rejected."""

    record: ConsumerRecord[Any, Any]
    event: Event[Any] | None
    rejected: RejectedMessage | None = None


def decode_records(records: Sequence[ConsumerRecord[Any, Any]]) -> list[Item]:
    """Decodes every record; a record that cannot be accepted carries its rejection."""
    items = []
    for record in records:
        try:
            items.append(Item(record, decode(record.value or b"")))
        except RejectedMessage as exc:
            items.append(Item(record, None, exc))
    return items


# Records decoded between two yields to the event loop (about 2-4 ms of work).
_DECODE_SLICE = 200


class _Sorted:
    """A batch's items sorted for its transaction as they are decoded.

    Built while the previous batch is still in the database, so none of this per-event work
    delays the next transaction; retries of the batch reuse it.
    """

    __slots__ = ("_ids", "events", "handled", "items", "rejected", "skipped", "unique")

    def __init__(self) -> None:
        self.items: list[Item] = []
        # First occurrence of each id wins; later ones in the same batch are duplicates.
        self.unique: dict[str, Item] = {}
        self.events: list[Event[Any]] = []  # the events of `unique`, in order
        self.rejected: list[Item] = []
        self.handled = 0
        self.skipped = 0
        self._ids: str | None = None

    @classmethod
    def of(cls, items: list[Item], handles: Callable[[str], bool]) -> _Sorted:
        """The items sorted in one go."""
        batch = cls()
        batch.add(items, handles)
        return batch

    def add(self, items: list[Item], handles: Callable[[str], bool]) -> None:
        """Sorts more items of the batch (in order)."""
        self.items += items
        unique = self.unique
        for item in items:
            event = item.event
            if event is None:
                self.rejected.append(item)
            elif handles(event.type):
                self.handled += 1
                if event.id not in unique:
                    unique[event.id] = item
                    self.events.append(event)
            else:
                self.skipped += 1

    def claim_ids(self) -> str:
        """The ids to claim, as one JSON array (see _CLAIM)."""
        if self._ids is None:
            self._ids = _dumps(list(self.unique)).decode()
        return self._ids


@dataclass(slots=True)
class _Signals:
    """What the batch after this one waits for before claiming its ids ahead (see _EARLY).

    Only once this batch holds its offset rows (`claimed`): a lock request queued behind the
    next batch's could otherwise block this one's claim, and the next batch waits for this one
    outside the database's sight (no deadlock detection). For the same reason the next batch
    gives its early claim up as soon as this one must start over (`retrying`).
    """

    claimed: asyncio.Event = field(default_factory=asyncio.Event)
    retrying: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class _Flight:
    """A batch handed to the database: its task, its items, its connection slot."""

    task: asyncio.Task[None]
    batch: _Sorted
    next_offsets: dict[TopicPartition, int]
    slot: int
    signals: _Signals
    generation: int


@dataclass(slots=True)
class _Early:
    """A batch's transaction opened with its ids claimed ahead of the offsets (see _EARLY)."""

    conn: Conn
    tr: Any  # asyncpg's Transaction, started
    # Ids claimed that were not seen before (None: all of them).
    fresh: set[str] | None
    # Ids left to claim with the offsets: also in the previous batch, whose uncommitted rows
    # they would wait on (and that batch's retries on theirs).
    late: list[str]


class _HandlerFailed(Exception):
    """A handler raised a non-transient error in the fast path; isolate the culprit."""


class AttemptsExhausted(Exception):
    """An event whose earlier attempts (this process's or a previous one's) used the bound."""

    def __init__(self, past: PastAttempts) -> None:
        super().__init__(f"{past.error} (after {past.attempts} attempts)")
        self.error_type = past.error_type


class _SeenBefore(Exception):
    """The all-new claim met an id already processed: claim the batch again with dedup."""


class _Fenced(Exception):
    """The stored offsets are not where this consumer left them (a newer owner, a swap)."""


@dataclass
class BatchResult:
    """Counts of one committed batch."""

    ok: int = 0
    duplicate: int = 0
    skipped: int = 0
    dead_letter: int = 0


# The shared head of both claims: the offsets' compare-and-set and the insert of the batch's ids
# (the claim that follows decides how a known id is met).
# The offsets' compare-and-set, as a WITH item returning a row per partition moved.
_MOVED = """moved AS (
    UPDATE consumer_offset o
    SET next_offset = u.next_offset, updated_at = now()
    FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[])
         AS u(topic, partition, expected, next_offset)
    WHERE o.consumer = $1 AND o.topic = u.topic AND o.partition = u.partition
      AND o.next_offset = u.expected
    RETURNING 1
)"""

_MOVE_AND_INSERT = f"""WITH {_MOVED}, fresh AS (
    INSERT INTO processed_event (consumer, event_id)
    SELECT $1, json_array_elements_text($6::text::json)"""

# One statement opens every batch: a compare-and-set of each partition's stored offset from
# where this consumer left it to the batch's end (the row stays locked until commit, so a zombie
# that lost the partition in a rebalance can neither overwrite newer progress nor slip in
# between), and the dedup of the whole batch's event ids. Fewer rows moved than partitions
# means someone else moved them: the batch is rolled back and the consumer re-seeks.
# The ids travel as one JSON array in a text parameter (asyncpg encodes a text[] element by
# element in Python, at several times the cost; text, so no connection's json codec applies),
# and come back only when some were seen before (the rare case).
_CLAIM = f"""
{_MOVE_AND_INSERT}
    ON CONFLICT DO NOTHING
    RETURNING event_id
), counted AS (
    SELECT count(*) AS n FROM fresh
)
SELECT (SELECT count(*) FROM moved) AS moved,
       CASE WHEN (SELECT n FROM counted) < $7 THEN ARRAY(SELECT event_id FROM fresh) END AS fresh
"""

# The same without ON CONFLICT, for when no id of the batch is expected to be known: a plain
# insert costs PostgreSQL about half as much per row (no speculative insertion, no RETURNING).
# Any id seen before raises a unique violation, which rolls the whole batch back; it is then
# claimed again with _CLAIM (and so are the following batches, until one has no duplicate).
_CLAIM_ALL_NEW = f"""
{_MOVE_AND_INSERT}
)
SELECT (SELECT count(*) FROM moved) AS moved, NULL::text[] AS fresh
"""

# A batch claimed while the one before it is still in the database (see _Flight) splits the
# claim: its ids first, on its own connection, overlapping the previous batch's handlers and
# commit; the offsets' compare-and-set once that batch has committed (it moves the offsets this
# one must start from, and the offset rows stay locked until then).
_EARLY_ALL_NEW = """
INSERT INTO processed_event (consumer, event_id)
SELECT $1, json_array_elements_text($2::text::json)
"""

_EARLY = """
WITH fresh AS (
    INSERT INTO processed_event (consumer, event_id)
    SELECT $1, json_array_elements_text($2::text::json)
    ON CONFLICT DO NOTHING
    RETURNING event_id
), counted AS (
    SELECT count(*) AS n FROM fresh
)
SELECT CASE WHEN (SELECT n FROM counted) < $3 THEN ARRAY(SELECT event_id FROM fresh) END
"""

_MOVE = f"""
WITH {_MOVED}
SELECT count(*) FROM moved
"""

_DEDUP = """
INSERT INTO processed_event (consumer, event_id)
SELECT $1, unnest($2::text[])
ON CONFLICT DO NOTHING
RETURNING event_id
"""


class Applier:
    """Applies decoded events to the database with the exactly-once machinery.

    Shared by the live consumer, the blue/green replay and the dead-letter replay.
    """

    def __init__(
        self,
        subscription: Subscription,
        *,
        settings: CoreSettings,
        clock: Clock,
        metrics: Metrics,
        now_from_events: bool = False,
    ) -> None:
        self.sub = subscription
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        # A replay re-processes events long after they arrived: its handlers must decide as
        # they did then ("plan only deadlines still ahead", say), so `now` is what the clock
        # read when each record reached the broker (its timestamp). Live: the clock's now.
        self.now_from_events = now_from_events
        # Event id -> its record's timestamp (ms), for the batch being applied.
        self.record_ms: dict[str, int] = {}
        self.name = subscription.consumer
        self.handlers = dict(subscription.handlers)
        self.batch_handlers = dict(subscription.batch_handlers)

    def handles(self, event_type: str) -> bool:
        """True when the subscription has a handler for this type."""
        return event_type in self.handlers or event_type in self.batch_handlers

    def new_tx(self, conn: Conn, now: datetime) -> Tx:
        return Tx(conn, now, self.name, self.settings.topic_prefix)

    async def dedup(self, conn: Conn, events: Sequence[Event[Any]]) -> set[str]:
        """Records the ids as processed in one statement; returns those not seen before."""
        if not events:
            return set()
        rows = await conn.fetch(_DEDUP, self.name, [e.id for e in events])
        return {r[0] for r in rows}

    def _set_now(self, tx: Tx, clock_now: datetime, events: Sequence[Event[Any]]) -> None:
        if self.now_from_events:
            then = max(
                self.clock.now_at(ms) if (ms := self.record_ms.get(e.id)) is not None else e.time
                for e in events
            )
            tx.now = min(clock_now, then)

    async def run_fast(self, tx: Tx, events: Sequence[Event[Any]]) -> None:
        """Runs every handler without savepoints; raises _HandlerFailed on a handler error."""
        i, n = 0, len(events)
        clock_now = tx.now
        while i < n:
            event = events[i]
            batch_handler = self.batch_handlers.get(event.type)
            try:
                if batch_handler is None:
                    self._set_now(tx, clock_now, (event,))
                    tx.event = event
                    bind_event(event.id, event.type, event.correlationid, event.subject)
                    try:
                        await self.handlers[event.type](tx, event)
                    finally:
                        tx.event = None
                        unbind_event()
                    i += 1
                    continue
                j = i + 1
                while j < n and self.batch_handlers.get(events[j].type) == batch_handler:
                    j += 1
                self._set_now(tx, clock_now, events[i:j])
                await batch_handler(tx, list(events[i:j]))
                i = j
            except Exception as exc:
                if is_transient(exc):
                    raise
                raise _HandlerFailed(repr(exc)) from exc
        await tx.flush()

    async def run_isolated(
        self, tx: Tx, events: Sequence[Event[Any]], attempts: AttemptStore | None = None
    ) -> list[tuple[Event[Any], BaseException]]:
        """Runs each event in its own savepoint, retrying a failing one up to the attempt bound.

        With `attempts`, every attempt is recorded in the database before it runs and forgotten
        once it succeeds, so attempts that failed or never finished (the process died) count
        across restarts; an event that used the bound is not run again. Returns the events that
        still failed, with their last error; their effects and processed ids are rolled back.
        """
        failed: list[tuple[Event[Any], BaseException]] = []
        bound = max(1, self.settings.max_handler_attempts)
        clock_now = tx.now
        past = await attempts.past_many([e.id for e in events]) if attempts else {}
        for event in events:
            batch_handler = self.batch_handlers.get(event.type)
            self._set_now(tx, clock_now, (event,))
            bind_event(event.id, event.type, event.correlationid, event.subject)
            try:
                before = past.get(event.id)
                if exhausted(before, bound):
                    assert before is not None
                    log.error(
                        "handler attempts used up earlier; event dead-lettered",
                        attempts=before.attempts,
                        error=before.error,
                        error_type=before.error_type,
                    )
                    failed.append((event, AttemptsExhausted(before)))
                    continue
                attempt = before.attempts if before is not None else 0
                while attempt < bound:
                    attempt = await attempts.begin(event.id) if attempts else attempt + 1
                    try:
                        async with tx.conn.transaction():
                            tx.event = event
                            if batch_handler is None:
                                await self.handlers[event.type](tx, event)
                            else:
                                await batch_handler(tx, [event])
                            await tx.flush()
                        if attempts:
                            await attempts.succeeded(event.id)
                        break
                    except Exception as exc:
                        tx.discard()
                        if is_transient(exc):
                            raise
                        self.metrics.handler_failures.labels(self.name, event.type).inc()
                        if attempts:
                            await attempts.failed(
                                event.id, type(exc).__name__, str(exc) or repr(exc)
                            )
                        if attempt >= bound:
                            log.error(
                                "handler failed; event dead-lettered",
                                attempts=attempt,
                                error=repr(exc),
                                error_type=type(exc).__name__,
                            )
                            failed.append((event, exc))
                        else:
                            log.warning(
                                "handler failed; retrying", attempt=attempt, error=repr(exc)
                            )
                            await asyncio.sleep(min(1.0, 0.05 * 2 ** (attempt - 1)))
                    finally:
                        tx.event = None
            finally:
                unbind_event()
        if failed:
            ids = [e.id for e, _ in failed]
            await tx.conn.execute(
                "DELETE FROM processed_event WHERE consumer = $1 AND event_id = ANY($2::text[])",
                self.name,
                ids,
            )
            if attempts:
                # Dead-lettered with this batch: their count is done with once it commits.
                await tx.conn.execute(
                    """DELETE FROM handler_attempt
                       WHERE consumer = $1 AND event_id = ANY($2::text[])""",
                    self.name,
                    ids,
                )
        return failed


def _handler_dead_letter(consumer: str, item: Item, exc: BaseException) -> DeadLetter:
    assert item.event is not None
    return DeadLetter.from_record(
        consumer,
        item.record,
        reason=HANDLER_FAILED,
        error_type=getattr(exc, "error_type", type(exc).__name__),
        error=str(exc) or repr(exc),
        event_id=item.event.id,
        event_type=item.event.type,
    )


def _reject_dead_letter(consumer: str, item: Item) -> DeadLetter:
    assert item.rejected is not None
    rej = item.rejected
    detail = rej.detail
    if rej.errors:
        detail = f"{detail}: {rej.errors[:5]}"
    return DeadLetter.from_record(
        consumer, item.record, reason=rej.reason.value, error_type=type(rej).__name__, error=detail
    )


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: EventConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.consumer._on_revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.consumer._on_assigned(list(assigned))


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
        self.attempts = AttemptStore(pool, self.name)
        # Instrumentation (benchmarks, tests): called with each batch right after its commit.
        self.after_commit = after_commit
        self._kafka: AIOKafkaConsumer | None = None
        # The next offset of each assigned partition as committed in the database: where
        # the next batch must start, and what the fencing check expects to find.
        self._db_offsets: dict[TopicPartition, int] = {}
        self._assigned: set[TopicPartition] = set()
        self._assigned_once = False
        self._generation = 0
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        # Batches handed to the database, oldest first: at most two (see _EARLY).
        self._flights: list[_Flight] = []
        self._tx_lock = asyncio.Lock()
        self._expect_duplicates = False
        # The consumer's own connections, one per batch in the database.
        self._conns: list[PoolConnectionProxy[Any] | None] = [None, None]
        self._failing: str | None = None
        self._kafka_commit: dict[TopicPartition, int] = {}
        self._kafka_commit_wake = asyncio.Event()
        self._end_offsets: dict[TopicPartition, int] = {}
        self._last_kafka_check = (0.0, "")
        self.events_committed = 0
        self.batches_committed = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Joins the group and starts consuming (and ticking) in the background."""
        _tune_gc(self.settings.gc_young_threshold, self.settings.batch_max_records)
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
        self._running = True
        self._tasks = [
            asyncio.create_task(self._consume_loop(), name=f"consume-{self.name}"),
            asyncio.create_task(self._kafka_commit_loop(), name=f"kafka-commit-{self.name}"),
            asyncio.create_task(self._lag_loop(), name=f"lag-{self.name}"),
        ]
        if self.run_ticks:
            self._tasks.append(asyncio.create_task(self._tick_loop(), name=f"tick-{self.name}"))
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
            self._kafka = None
        await self._drop_connection(0)
        await self._drop_connection(1)
        await self.dead_letters.stop()
        log.info("consumer stopped", consumer=self.name, events=self.events_committed)

    # -- rebalance ---------------------------------------------------------------------------

    async def _on_revoked(self, revoked: list[TopicPartition]) -> None:
        # Let the batch in flight commit before another member takes its partitions, and
        # make the main loop drop whatever it fetched for the old assignment.
        self._generation += 1
        for flight in list(self._flights):
            if not flight.task.done():
                with contextlib.suppress(Exception):
                    await asyncio.shield(flight.task)
        await self._commit_kafka_now()
        for tp in revoked:
            self._assigned.discard(tp)
            self._db_offsets.pop(tp, None)
            self._kafka_commit.pop(tp, None)
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(self.name, tp.topic, str(tp.partition))

    async def _on_assigned(self, assigned: list[TopicPartition]) -> None:
        self._generation += 1
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        while True:
            try:
                offsets = await self._load_offsets(assigned)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Without the stored offsets there is nowhere safe to read from: wait for them.
                if not is_transient(exc):
                    log.exception("loading stored offsets failed; retrying", consumer=self.name)
                self._note_failure("database", exc)
                await backoff.sleep()
        self._note_ok()
        assert self._kafka is not None
        for tp in assigned:
            self._kafka.seek(tp, offsets[tp])
            self._db_offsets[tp] = offsets[tp]
            self._assigned.add(tp)
        # Again after the seeks: records fetched while the offsets were loading came from the
        # positions before the seek and must not be applied (they are fetched again).
        self._generation += 1
        self._assigned_once = True
        log.info(
            "partitions assigned",
            consumer=self.name,
            partitions=sorted(f"{tp.topic}[{tp.partition}]@{offsets[tp]}" for tp in assigned),
        )

    async def _load_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The stored next offset of each partition, creating rows at 0 for new ones.

        Creating the rows here means the batch's `FOR UPDATE` always has a row to lock.
        """
        if not tps:
            return {}
        topics_, parts = [tp.topic for tp in tps], [tp.partition for tp in tps]
        async with self.pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO consumer_offset (consumer, topic, partition, next_offset)
                   SELECT $1, t, p, 0 FROM unnest($2::text[], $3::int[]) AS u(t, p)
                   ON CONFLICT DO NOTHING""",
                self.name,
                topics_,
                parts,
            )
            rows = await conn.fetch(
                """SELECT o.topic, o.partition, o.next_offset FROM consumer_offset o
                   JOIN unnest($2::text[], $3::int[]) AS u(t, p)
                     ON o.topic = u.t AND o.partition = u.p
                   WHERE o.consumer = $1""",
                self.name,
                topics_,
                parts,
            )
        return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}

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
                self._note_failure("kafka", exc)
                await backoff.sleep()
                continue
            if not batch:
                await self._await_inflight()
                continue
            generation = self._generation
            # Decoding and sorting this batch overlap the database work of the previous one: in
            # slices, yielding between them, so the previous batch's queries progress meanwhile.
            decoded: list[tuple[TopicPartition, list[Item]]] = []
            sorted_ = _Sorted()
            for tp, recs in batch.items():
                for start in range(0, len(recs), _DECODE_SLICE):
                    await asyncio.sleep(0)
                    items = decode_records(recs[start : start + _DECODE_SLICE])
                    sorted_.add(items, handles)
                    if start:
                        decoded[-1][1].extend(items)
                    else:
                        decoded.append((tp, items))
            sorted_.claim_ids()
            # At most two batches in the database: the one before the last must be done.
            await self._await_flights(keep=1 if self._pipelining else 0)
            if generation != self._generation:
                # A rebalance or a fence happened meanwhile: every partition has been (or will
                # be) sought to its database offset, so these records are simply dropped.
                continue
            prev = self._flights[-1] if self._flights else None
            if prev is not None and prev.generation != generation:
                # Sent before the partitions moved: it may end without a commit, so this batch
                # cannot start where that one ends. Let it end first.
                await self._await_inflight()
                if generation != self._generation:
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
                sorted_ = _Sorted.of(items, handles)
            slot = 1 - prev.slot if prev is not None else 0
            signals = _Signals()
            task = asyncio.create_task(
                self._process_batch(sorted_, next_offsets, generation, slot, prev, signals)
            )
            self._flights.append(_Flight(task, sorted_, next_offsets, slot, signals, generation))
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
            stored = ahead.get(tp, stored)
            first = items[0].record.offset
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

    @property
    def _pipelining(self) -> bool:
        # Two batches hold two connections: only with a pool that keeps one more for the short
        # uses (offsets at assignment, counted attempts, ticks).
        return self.pool.get_max_size() >= 3

    async def _await_inflight(self) -> None:
        await self._await_flights(keep=0)

    async def _await_flights(self, keep: int) -> None:
        """Waits for batches in the database, oldest first, until `keep` are left."""
        while len(self._flights) > keep:
            flight = self._flights[0]
            try:
                await flight.task
            except _Fenced:
                await self._refence()
            finally:
                if self._flights and self._flights[0] is flight:
                    self._flights.pop(0)

    async def _refence(self) -> None:
        """Seeks every assigned partition to the offset the database holds now."""
        assert self._kafka is not None
        self._generation += 1
        tps = sorted(self._assigned)
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        while True:
            try:
                stored = await self._load_offsets(tps)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._note_failure("database", exc)
                await backoff.sleep()
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

    async def _connection(self, slot: int) -> Conn:
        """One of the consumer's own connections: no pool round trips on the hot path."""
        conn = self._conns[slot]
        if conn is None or conn.is_closed():
            conn = self._conns[slot] = await self.pool.acquire()
        return conn

    async def _drop_connection(self, slot: int) -> None:
        conn, self._conns[slot] = self._conns[slot], None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.release(conn), 5)

    async def _process_batch(
        self,
        batch: _Sorted,
        next_offsets: dict[TopicPartition, int],
        generation: int,
        slot: int,
        prev: _Flight | None,
        signals: _Signals,
    ) -> None:
        """Commits one batch, retrying transient failures until it is done (or fenced).

        With the batch before it still in the database, its ids are claimed at once on its own
        connection and the rest waits for that batch (which it follows: fenced, it is too).
        """
        early: _Early | None = None
        if prev is not None:
            try:
                if self._pipelining and await _first(prev.signals.claimed, prev):
                    early = await self._claim_early(batch, slot, prev.batch)
                    if early is not None and await _first(prev.signals.retrying, prev):
                        await self._rollback(early.tr, slot)
                        early = None
                await asyncio.shield(prev.task)
            except BaseException:
                if early is not None:
                    await self._rollback(early.tr, slot)
                raise
            if generation != self._generation:
                # Its partitions moved meanwhile: their new owner (or this one, re-sought)
                # fetches these records again.
                if early is not None:
                    await self._rollback(early.tr, slot)
                return
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        isolate = False
        while True:
            try:
                async with self._tx_lock:
                    result = await self._commit_batch(
                        batch, next_offsets, isolate, slot, early, signals
                    )
                break
            except _SeenBefore:
                signals.retrying.set()
                self._expect_duplicates = True
            except _HandlerFailed as exc:
                signals.retrying.set()
                log.warning(
                    "handler failed in batch; isolating the event",
                    consumer=self.name,
                    error=str(exc),
                )
                isolate = True
            except (_Fenced, asyncio.CancelledError):
                raise
            except Exception as exc:
                signals.retrying.set()
                if not is_transient(exc):
                    log.exception("batch failed unexpectedly; retrying", consumer=self.name)
                self._note_failure("kafka" if _is_kafka_error(exc) else "database", exc)
                await self._drop_connection(slot)
                await backoff.sleep()
                if generation != self._generation:
                    # Lost the partitions while retrying: the new owner redoes this batch.
                    return
            finally:
                early = None  # committed or rolled back by the first attempt
        self._note_ok()
        # Back to the all-new claim once a batch had no id seen before.
        self._expect_duplicates = result.duplicate > 0
        result.duplicate += batch.handled - len(batch.unique)
        result.skipped = batch.skipped
        self._after_commit(batch.items, next_offsets, result)

    async def _claim_early(self, batch: _Sorted, slot: int, before: _Sorted) -> _Early | None:
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
            conn = await self._connection(slot)
            tr = conn.transaction()
            await tr.start()
            # consumer_offset before processed_event, as every batch and the replay's swap
            # (which locks it first) take them: a swap then waits for this batch, which cannot
            # wait for the swap in turn.
            await conn.execute("LOCK TABLE consumer_offset IN ROW EXCLUSIVE MODE")
            fresh: set[str] | None = None
            if self._expect_duplicates:
                fresh_ids = await conn.fetchval(_EARLY, self.name, ids_json, len(ids))
                fresh = None if fresh_ids is None else set(fresh_ids)
            else:
                await conn.execute(_EARLY_ALL_NEW, self.name, ids_json)
        except asyncio.CancelledError:
            if tr is not None:
                await self._rollback(tr, slot)
            raise
        except Exception as exc:
            # An id seen before, or the database unavailable: both handled by the whole claim.
            if isinstance(exc, asyncpg.UniqueViolationError):
                self._expect_duplicates = True
            if tr is not None:
                await self._rollback(tr, slot)
            return None
        return _Early(conn, tr, fresh, late)

    async def _rollback(self, tr: Any, slot: int) -> None:
        try:
            await tr.rollback()
        except Exception:
            # The connection is gone or unusable: the pool resets or discards it.
            await self._drop_connection(slot)

    async def _claim(
        self, conn: Conn, batch: _Sorted, offsets: list[Any], early: _Early | None
    ) -> list[Event[Any]]:
        """Moves the offsets (or fences) and claims the ids; returns the events to apply."""
        events = batch.events
        if early is None:
            args = [self.name, *offsets, batch.claim_ids()]
            if self._expect_duplicates:
                row = await conn.fetchrow(_CLAIM, *args, len(events))
            else:
                try:
                    row = await conn.fetchrow(_CLAIM_ALL_NEW, *args)
                except asyncpg.UniqueViolationError:
                    # Only processed_event's key can be violated by the claim.
                    raise _SeenBefore() from None
            assert row is not None
            if row["moved"] != len(offsets[0]):
                raise _Fenced()
            fresh = None if row["fresh"] is None else set(row["fresh"])
            return events if fresh is None else [e for e in events if e.id in fresh]
        if await conn.fetchval(_MOVE, self.name, *offsets) != len(offsets[0]):
            raise _Fenced()
        fresh = early.fresh
        if not early.late:
            return events if fresh is None else [e for e in events if e.id in fresh]
        late = set(early.late)
        late_fresh = {r[0] for r in await conn.fetch(_DEDUP, self.name, early.late)}
        return [
            e
            for e in events
            if (e.id in late_fresh if e.id in late else fresh is None or e.id in fresh)
        ]

    async def _commit_batch(
        self,
        batch: _Sorted,
        next_offsets: dict[TopicPartition, int],
        isolate: bool,
        slot: int,
        early: _Early | None,
        signals: _Signals,
    ) -> BatchResult:
        tps = list(next_offsets)
        offsets: list[Any] = [
            [tp.topic for tp in tps],
            [tp.partition for tp in tps],
            [self._db_offsets.get(tp, -1) for tp in tps],
            [next_offsets[tp] for tp in tps],
        ]
        if early is None:
            conn = await self._connection(slot)
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

    async def _apply(
        self,
        conn: Conn,
        batch: _Sorted,
        offsets: list[Any],
        isolate: bool,
        early: _Early | None,
        signals: _Signals,
    ) -> BatchResult:
        """The batch's transaction after its start: claim, handlers, dead letters."""
        result = BatchResult()
        unique, events = batch.unique, batch.events
        to_apply = await self._claim(conn, batch, offsets, early)
        signals.claimed.set()
        result.duplicate = len(events) - len(to_apply)
        tx = self.applier.new_tx(conn, self.clock.now())
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
                letters += [_handler_dead_letter(self.name, unique[e.id], exc) for e, exc in failed]
        letters += [_reject_dead_letter(self.name, item) for item in batch.rejected]
        result.dead_letter = len(letters)
        if letters:
            # Recorded first so a redelivered message is sent once; sent and acked before
            # the commit so a crash can duplicate a dead letter but never lose one.
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
        return result

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
        if self._kafka is not None:
            for tp in next_offsets:
                high = self._kafka.highwater(tp)
                if high is not None:
                    self._end_offsets[tp] = high
                    m.consumer_lag.labels(name, tp.topic, str(tp.partition)).set(
                        max(0, high - self._db_offsets[tp])
                    )

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

    async def _lag_loop(self) -> None:
        """Keeps every assigned partition's lag gauge fresh, idle partitions included."""
        while True:
            await asyncio.sleep(5.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.refresh_end_offsets(), 5.0)
            for (topic, partition), lag in self.lag().items():
                self.metrics.consumer_lag.labels(self.name, topic, str(partition)).set(lag)

    # -- time --------------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
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
        on_tick = self.sub.on_tick
        if on_tick is None:
            return False
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        self.metrics.clock_now.set(now.timestamp())
        while True:
            try:
                async with self._tx_lock, self.pool.acquire() as conn, conn.transaction():
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
                self._note_ok()
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    self.metrics.handler_failures.labels(self.name, "tick").inc()
                    log.exception("tick failed", consumer=self.name, now=now.isoformat())
                    return False
                self._note_failure("database", exc)
                await backoff.sleep()

    # -- health ------------------------------------------------------------------------------

    def _note_failure(self, component: str, exc: BaseException) -> None:
        self.metrics.transient_failures.labels(component).inc()
        if self._failing is None:
            log.warning(
                "transient failure; retrying with backoff",
                component=component,
                consumer=self.name,
                error=repr(exc),
            )
        self._failing = f"{component} unavailable: {exc!r}"[:300]

    def _note_ok(self) -> None:
        if self._failing is not None:
            log.info("recovered", consumer=self.name)
        self._failing = None

    def lag(self) -> dict[tuple[str, int], int]:
        """End offset minus the offset stored in the database, per assigned partition."""
        out: dict[tuple[str, int], int] = {}
        for tp in list(self._assigned):
            high = self._kafka.highwater(tp) if self._kafka is not None else None
            known = [e for e in (high, self._end_offsets.get(tp)) if e is not None]
            end = max(known) if known else None
            stored = self._db_offsets.get(tp)
            if end is None or stored is None:
                continue
            out[(tp.topic, tp.partition)] = max(0, end - stored)
        return out

    @property
    def assigned_once(self) -> bool:
        """True once the group has assigned partitions and their offsets were sought."""
        return self._assigned_once

    def max_lag(self) -> int:
        """The largest partition lag (0 with no partitions)."""
        return max(self.lag().values(), default=0)

    def total_lag(self) -> int:
        """The sum of partition lags."""
        return sum(self.lag().values())

    async def refresh_end_offsets(self) -> None:
        """Asks the broker for end offsets of partitions not fetched from yet."""
        if self._kafka is None or not self._assigned:
            return
        ends = await self._kafka.end_offsets(list(self._assigned))
        self._end_offsets.update(ends)

    async def readiness(self, max_lag: int | None = None) -> str | None:
        """None when ready; else why not (not running, infrastructure down, lag too high)."""
        if not self._running or self._kafka is None:
            return "consumer not running"
        if self._failing is not None:
            return self._failing
        now = time.monotonic()
        checked_at, error = self._last_kafka_check
        if now - checked_at > 2.0:
            try:
                await asyncio.wait_for(self._kafka.topics(), 1.5)
                error = ""
            except Exception as exc:
                error = f"kafka unreachable: {exc!r}"
            self._last_kafka_check = (now, error)
        if error:
            return error
        if not self._assigned_once:
            return "waiting for partition assignment"
        bound = self.settings.readiness_max_lag if max_lag is None else max_lag
        if any(
            self._kafka.highwater(tp) is None and tp not in self._end_offsets
            for tp in self._assigned
        ):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.refresh_end_offsets(), 1.0)
        lag = self.max_lag()
        if lag > bound:
            return f"consumer lag {lag} above {bound}"
        return None


# Objects the collector tracks per record while its batch is alive (record, headers, item,
# event, its data...), with room to spare.
_TRACKED_PER_RECORD = 30


def _tune_gc(young_threshold: int, batch_max_records: int) -> None:
    """Fewer, larger young collections; what exists at startup is never scanned again.

    The young generation counts objects allocated and not yet freed. Under load two batches are
    alive at once (one decoded while the other commits): a threshold below that makes every
    young collection scan, and promote, live records only (at 50,000 with batches of 10,000:
    1.5-2.3 us of CPU per event, the threshold scaled to the batch: 0.2).
    """
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    young = max(young_threshold, 2 * _TRACKED_PER_RECORD * batch_max_records)
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(max(young, gc.get_threshold()[0]), older, oldest)


async def _first(signal: asyncio.Event, prev: _Flight) -> bool:
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
