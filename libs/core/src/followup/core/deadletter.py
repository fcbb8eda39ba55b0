"""Dead letters: messages a consumer could not accept, on `followup.dead-letter` and in the DB.

A dead letter keeps the original key, bytes and headers, and adds headers saying the consumer,
the reason, the error type and text, and the original topic, partition and offset. Each is
also recorded in the `dead_letter` table, from where it can be replayed once the cause is
fixed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson
import structlog

from followup.core.db import Conn
from followup.core.retry import Transient
from followup.events import topics

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from aiokafka.structs import ConsumerRecord

    from followup.core.keystore import KeyStore
    from followup.core.metrics import Metrics
    from followup.core.settings import CoreSettings

log = structlog.get_logger(__name__)

# The reason of an event whose handler kept failing (decode failures use RejectReason values).
HANDLER_FAILED = "handler_failed"
# The reason of a record whose batch kept failing outside any handler, even on its own.
PROCESSING_FAILED = "processing_failed"
MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message a consumer gave up on, with why."""

    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    reason: str
    error_type: str
    error: str
    timestamp: int | None = None
    event_id: str | None = None
    event_type: str | None = None

    @classmethod
    def from_record(
        cls,
        consumer: str,
        record: ConsumerRecord[Any, Any],
        *,
        reason: str,
        error_type: str,
        error: str,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> DeadLetter:
        """A dead letter of a consumed record."""
        return cls(
            consumer=consumer,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple((k, bytes(v) if v is not None else b"") for k, v in record.headers),
            reason=reason,
            error_type=storable(error_type),
            error=storable(error)[:MAX_ERROR],
            timestamp=record.timestamp,
            event_id=event_id,
            event_type=event_type,
        )

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """The original headers followed by the dead-letter ones (later ones win in a dict)."""
        extra = [
            ("consumer", self.consumer),
            ("reason", self.reason),
            ("error_type", self.error_type),
            ("error", self.error),
            ("original_topic", self.topic),
            ("original_partition", str(self.partition)),
            ("original_offset", str(self.offset)),
        ]
        if self.timestamp is not None:
            extra.append(("original_timestamp", str(self.timestamp)))
        if self.event_id is not None:
            extra.append(("event_id", self.event_id))
        if self.event_type is not None:
            extra.append(("event_type", self.event_type))
        return [*self.headers, *((k, v.encode()) for k, v in extra)]


def storable(text: str) -> str:
    """The text with NULs escaped: PostgreSQL text cannot hold them."""
    return text.replace("\x00", "\\x00")


async def record_dead_letters(conn: Conn, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """Records dead letters in the caller's transaction; returns those not recorded before."""
    if not letters:
        return []
    rows = await conn.fetch(
        """INSERT INTO dead_letter (consumer, topic, partition, kafka_offset, key, value,
                                    headers, reason, error_type, error, event_id, event_type)
           SELECT c, t, p, o, k, v, h::jsonb, r, et, e, id, ty
           FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bytea[],
                       $6::bytea[], $7::text[], $8::text[], $9::text[], $10::text[],
                       $11::text[], $12::text[]) AS u(c, t, p, o, k, v, h, r, et, e, id, ty)
           ON CONFLICT (consumer, topic, partition, kafka_offset) DO NOTHING
           RETURNING topic, partition, kafka_offset""",
        [d.consumer for d in letters],
        [d.topic for d in letters],
        [d.partition for d in letters],
        [d.offset for d in letters],
        [d.key for d in letters],
        [d.value for d in letters],
        # As JSON text: a list of pairs would be read as a multi-dimensional array.
        [
            orjson.dumps([[k, base64.b64encode(v).decode()] for k, v in d.headers]).decode()
            for d in letters
        ],
        [d.reason for d in letters],
        [d.error_type for d in letters],
        [d.error for d in letters],
        [d.event_id for d in letters],
        [d.event_type for d in letters],
    )
    fresh = {(r["topic"], r["partition"], r["kafka_offset"]) for r in rows}
    return [d for d in letters if (d.topic, d.partition, d.offset) in fresh]


class DeadLetterPublisher:
    """Produces dead letters (idempotent producer, acks=all) and awaits their acks."""

    def __init__(
        self,
        settings: CoreSettings,
        metrics: Metrics | None = None,
        *,
        key_store: KeyStore | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        # Seals letters that may carry personal data (followup.core.deadletter_sealing).
        self.key_store = key_store
        self.topic = settings.topic(topics.DEAD_LETTER)
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Starts the producer (also started lazily on first use)."""
        async with self._lock:
            await self._ensure()

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is None:
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap,
                acks="all",
                enable_idempotence=True,
                request_timeout_ms=15000,
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def stop(self) -> None:
        """Stops the producer."""
        async with self._lock:
            await self._reset()

    async def _reset(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), 10)
            self._producer = None

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        """Sends every letter and waits for all acks; raises Transient when the broker fails."""
        if not letters:
            return
        async with self._lock:
            try:
                producer = await self._ensure()
                futures = [
                    await producer.send(self.topic, d.value, key=d.key, headers=d.kafka_headers())
                    for d in letters
                ]
                await asyncio.gather(*futures)
            except Exception as exc:
                # A producer that failed may be wedged (fenced sequence numbers after a
                # broker restart): start over with a new one on the next attempt.
                await self._reset()
                raise Transient(f"dead-letter publish failed: {exc!r}") from exc


# -- listing -----------------------------------------------------------------------------------


async def list_dead_letters(
    pool: asyncpg.Pool,
    *,
    consumer: str | None = None,
    include_replayed: bool = False,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Dead letters, oldest first, without their payloads."""
    rows = await pool.fetch(
        """SELECT id, consumer, topic, partition, kafka_offset, reason, error_type, error,
                  event_id, event_type, created_at, replayed_at, replay_attempts,
                  last_replay_error, length(value) AS size
           FROM dead_letter
           WHERE ($1::text IS NULL OR consumer = $1) AND ($2 OR replayed_at IS NULL)
           ORDER BY id LIMIT $3""",
        consumer,
        include_replayed,
        limit,
    )
    return [dict(r) for r in rows]
