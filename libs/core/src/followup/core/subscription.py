"""What a service hands the core to consume: its subscription and its handlers' transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import asyncpg

from followup.core.db import Conn
from followup.core.outbox import OutboxRow, enqueue, outbox_row
from followup.events import Event

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

    __slots__ = ("_outbox", "_records", "_topic_prefix", "conn", "consumer", "event", "now")

    def __init__(self, conn: Conn, now: datetime, consumer: str, topic_prefix: str = "") -> None:
        # Typed as a plain connection: handlers need not care that it came from a pool.
        self.conn = cast(asyncpg.Connection, conn)
        self.now = now
        self.consumer = consumer
        # The event being handled (None in batch handlers and ticks), for logging.
        self.event: Event[Any] | None = None
        self._outbox: dict[str, OutboxRow] = {}
        self._topic_prefix = topic_prefix
        # The batch's Kafka records by event id (the consumer sets them; replays do not).
        self._records: Mapping[str, Any] = {}

    def attach_records(self, items: Mapping[str, Any]) -> None:
        """Gives handlers the Kafka records of the batch (event id -> item with `.record`)."""
        self._records = items

    def record_ms(self, event_id: str) -> int | None:
        """When an event's record reached the broker (its Kafka timestamp), if known."""
        item = self._records.get(event_id)
        return int(item.record.timestamp) if item is not None else None

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
