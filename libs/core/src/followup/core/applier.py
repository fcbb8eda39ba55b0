"""Decoding a batch and applying its events through the subscription's handlers.

Shared by the live consumer, the blue/green replay and the dead-letter replay.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from followup.core import claim
from followup.core.attempts import AttemptStore, PastAttempts, exhausted
from followup.core.db import Conn
from followup.core.deadletter import HANDLER_FAILED, DeadLetter
from followup.core.logging import bind_event, unbind_event
from followup.core.retry import is_transient
from followup.core.subscription import Subscription, Tx
from followup.events import Event, RejectedMessage, RejectReason, decode

if TYPE_CHECKING:
    from aiokafka import TopicPartition
    from aiokafka.structs import ConsumerRecord

    from followup.core.clock import Clock
    from followup.core.metrics import Metrics
    from followup.core.settings import CoreSettings

log = structlog.get_logger(__name__)
_dumps = orjson.dumps

# Records decoded between two yields to the event loop (about 2-4 ms of work).
DECODE_SLICE = 200


@dataclass(slots=True)
class Item:
    """One Kafka record of a batch, decoded or rejected."""

    record: ConsumerRecord[Any, Any]
    event: Event[Any] | None
    rejected: RejectedMessage | None = None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]").search


def decode_event(value: bytes) -> Event[Any]:
    """The event, or RejectedMessage; ids with control characters are refused here.

    PostgreSQL cannot store a NUL in text: such an id would fail the claim of every batch
    holding it, so it is a dead letter before it reaches the database.
    """
    event = decode(value)
    for name in ("id", "subject", "correlationid"):
        text = getattr(event, name)
        if text is not None and _CONTROL(text):
            raise RejectedMessage(RejectReason.NOT_CLOUDEVENT, f"control character in {name}")
    return event


def decode_records(records: Sequence[ConsumerRecord[Any, Any]]) -> list[Item]:
    """Decodes every record; a record that cannot be accepted carries its rejection."""
    items = []
    for record in records:
        try:
            items.append(Item(record, decode_event(record.value or b"")))
        except RejectedMessage as exc:
            items.append(Item(record, None, exc))
    return items


async def decode_batch(
    batch: Mapping[TopicPartition, list[ConsumerRecord[Any, Any]]], handles: Callable[[str], bool]
) -> tuple[list[tuple[TopicPartition, list[Item]]], SortedBatch]:
    """Decodes a fetched batch per partition and sorts it for its transaction.

    In slices, yielding between them: this overlaps the database work of the previous batch,
    whose queries progress meanwhile.
    """
    decoded: list[tuple[TopicPartition, list[Item]]] = []
    sorted_ = SortedBatch()
    for tp, recs in batch.items():
        for start in range(0, len(recs), DECODE_SLICE):
            await asyncio.sleep(0)
            items = decode_records(recs[start : start + DECODE_SLICE])
            sorted_.add(items, handles)
            if start:
                decoded[-1][1].extend(items)
            else:
                decoded.append((tp, items))
    sorted_.claim_ids()
    return decoded, sorted_


class SortedBatch:
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
    def of(cls, items: list[Item], handles: Callable[[str], bool]) -> SortedBatch:
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
        """The ids to claim, as one JSON array (see followup.core.claim)."""
        if self._ids is None:
            self._ids = _dumps(list(self.unique)).decode()
        return self._ids


@dataclass
class BatchResult:
    """Counts of one committed batch."""

    ok: int = 0
    duplicate: int = 0
    skipped: int = 0
    dead_letter: int = 0


class HandlerFailed(Exception):
    """A handler raised a non-transient error in the fast path; isolate the culprit."""


class AttemptsExhausted(Exception):
    """An event whose earlier attempts (this process's or a previous one's) used the bound."""

    def __init__(self, past: PastAttempts) -> None:
        super().__init__(f"{past.error} (after {past.attempts} attempts)")
        self.error_type = past.error_type


class Applier:
    """Applies decoded events to the database with the exactly-once machinery."""

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
        """A handlers' transaction on `conn` at `now`."""
        return Tx(conn, now, self.name, self.settings.topic_prefix)

    async def dedup(self, conn: Conn, events: Sequence[Event[Any]]) -> set[str]:
        """Records the ids as processed in one statement; returns those not seen before."""
        return await claim.dedup(conn, self.name, [e.id for e in events])

    def _set_now(self, tx: Tx, clock_now: datetime, events: Sequence[Event[Any]]) -> None:
        if self.now_from_events:
            then = max(
                self.clock.now_at(ms) if (ms := self.record_ms.get(e.id)) is not None else e.time
                for e in events
            )
            tx.now = min(clock_now, then)

    async def run_fast(self, tx: Tx, events: Sequence[Event[Any]]) -> None:
        """Runs every handler without savepoints; raises HandlerFailed on a handler error."""
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
                raise HandlerFailed(repr(exc)) from exc
        try:
            await tx.flush()
        except Exception as exc:
            # An outbox row the database refuses: isolation finds whose publish it was.
            if is_transient(exc):
                raise
            raise HandlerFailed(f"outbox: {exc!r}") from exc

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


def handler_dead_letter(consumer: str, item: Item, exc: BaseException) -> DeadLetter:
    """The dead letter of an event whose handler kept failing."""
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


def reject_dead_letter(consumer: str, item: Item) -> DeadLetter:
    """The dead letter of a record that could not be decoded or accepted."""
    assert item.rejected is not None
    rej = item.rejected
    detail = rej.detail
    if rej.errors:
        detail = f"{detail}: {rej.errors[:5]}"
    return DeadLetter.from_record(
        consumer, item.record, reason=rej.reason.value, error_type=type(rej).__name__, error=detail
    )
