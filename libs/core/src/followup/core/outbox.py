"""Transactional outbox: events are written with the state change, a relay publishes them.

One relay per service is active at a time (a PostgreSQL advisory lock), so per-key order
holds. It claims unpublished rows in id order with `FOR UPDATE SKIP LOCKED`, sends them in
that order with an idempotent producer, awaits every ack and only then marks them published.
It never tails the table with `id > last_id`: sequence values commit out of order, and a
row committed late behind a higher id would be skipped forever.

Every commit that writes rows notifies the relay. A cycle that published something is followed
by the next one no sooner than `outbox_min_cycle_interval_s` after it started, so the commits
of a burst share cycles; the first event after a quiet spell goes out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from followup.core.db import Conn
from followup.core.retention import prune
from followup.core.retry import Backoff, is_transient
from followup.events import CONTENT_TYPE, AnyEvent, encode, topic_for

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

    from followup.core.metrics import Metrics
    from followup.core.settings import CoreSettings

log = structlog.get_logger(__name__)

CHANNEL = "followup_outbox"
_HEADERS = [("content-type", CONTENT_TYPE.encode())]


def outbox_cte(first_param: int, name: str = "outboxed", only_ids_in: str | None = None) -> str:
    """A WITH item writing outbox rows (parameters `$first_param`… : the five arrays of
    `outbox_params`) and waking the relay, to ride in the caller's own statement.

    PostgreSQL runs a data-modifying WITH item to completion even when the statement never
    reads it, RETURNING included; a channel notified many times in one transaction with one
    payload is delivered once. So the caller saves a round trip and needs nothing else.
    `only_ids_in` names an earlier WITH item returning `event_id`: only those rows are written
    (the events the caller's own insert found new).
    """
    a, b, c, d, e = range(first_param, first_param + 5)
    only = f"WHERE o.event_id IN (SELECT event_id FROM {only_ids_in})" if only_ids_in else ""
    return f"""{name} AS (
    INSERT INTO outbox (event_id, event_type, topic, key, value)
    SELECT * FROM unnest(${a}::text[], ${b}::text[], ${c}::text[], ${d}::text[], ${e}::bytea[])
        AS o(event_id, event_type, topic, key, value)
    {only}
    ON CONFLICT (event_id) DO NOTHING
    RETURNING pg_notify('{CHANNEL}', '')
)"""


_INSERT = f"WITH {outbox_cte(1)} SELECT count(*) FROM outboxed"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One event ready to be written to the outbox."""

    event_id: str
    event_type: str
    topic: str
    key: str
    value: bytes


def outbox_row(event: AnyEvent, *, topic: str | None = None, topic_prefix: str = "") -> OutboxRow:
    """The outbox row of an event: its contract topic (under the prefix), keyed by subject."""
    return OutboxRow(
        event_id=event.id,
        event_type=event.type,
        topic=topic or f"{topic_prefix}{topic_for(event.type)}",
        key=event.subject,
        value=encode(event),
    )


async def enqueue(conn: Conn, rows: Sequence[OutboxRow]) -> int:
    """Writes rows in the caller's transaction, once per event id, and wakes the relay.

    Returns how many were new.
    """
    if not rows:
        return 0
    return int(await conn.fetchval(_INSERT, *outbox_params(rows)))


def outbox_params(
    rows: Sequence[OutboxRow],
) -> tuple[list[str], list[str], list[str], list[str], list[bytes]]:
    """The five array parameters of `outbox_cte`, in order."""
    return (
        [r.event_id for r in rows],
        [r.event_type for r in rows],
        [r.topic for r in rows],
        [r.key for r in rows],
        [r.value for r in rows],
    )


async def publish_events(conn: Conn, events: Iterable[AnyEvent], *, topic_prefix: str = "") -> int:
    """Outbox-publishes events from any transaction (an HTTP command, say)."""
    return await enqueue(conn, [outbox_row(e, topic_prefix=topic_prefix) for e in events])


def next_cycle_delay(last_start: float, now: float, min_interval: float) -> float:
    """Seconds to wait so that relay cycles start at least `min_interval` apart."""
    return max(0.0, last_start + min_interval - now)


def _lock_key(service: str) -> str:
    return f"followup:outbox-relay:{service}"


class OutboxRelay:
    """Publishes the outbox to Kafka; one active instance per service database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: CoreSettings,
        metrics: Metrics,
        *,
        dsn: str | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.metrics = metrics
        self.dsn = dsn or settings.pg_dsn
        self.active = False
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._cycle_lock = asyncio.Lock()
        self._last_stats = 0.0
        self._last_prune = 0.0

    async def start(self) -> None:
        """Starts the relay loop (standing by while another instance holds the lock)."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Publishes what is pending (bounded by stop_timeout_s), then stops."""
        self._stopping = True
        if self.active:
            try:
                await asyncio.wait_for(self.flush(), self.settings.stop_timeout_s)
            except Exception as exc:
                log.warning("outbox flush on stop incomplete", error=repr(exc))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()

    async def flush(self) -> int:
        """Publishes every pending row now (only the active relay can); returns the count."""
        total = 0
        while self.active:
            n = await self._cycle()
            total += n
            if n < self.settings.outbox_batch:
                break
        return total

    def wake(self) -> None:
        """Asks the relay to look at the outbox now."""
        self._wake.set()

    async def _close(self) -> None:
        self.active = False
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), 10)
            self._producer = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 5)
            self._conn = None

    async def _acquire_lock(self) -> None:
        """Connects and waits until this instance holds the relay lock."""
        while True:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.dsn)
            got = await self._conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                _lock_key(self.settings.service),
            )
            if got:
                return
            await asyncio.sleep(max(self.settings.outbox_poll_interval_s, 1.0))

    async def _run(self) -> None:
        from aiokafka import AIOKafkaProducer

        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        while not self._stopping:
            try:
                await self._acquire_lock()
                assert self._conn is not None
                await self._conn.add_listener(CHANNEL, self._on_notify)
                if self._producer is None:
                    self._producer = AIOKafkaProducer(
                        bootstrap_servers=self.settings.kafka_bootstrap,
                        acks="all",
                        enable_idempotence=True,
                        linger_ms=1,
                        request_timeout_ms=15000,
                    )
                    await self._producer.start()
                self.active = True
                log.info("outbox relay active", service=self.settings.service)
                while not self._stopping:
                    self._wake.clear()
                    started = time.monotonic()
                    n = await self._cycle()
                    backoff.reset()
                    await self._stats()
                    await self._prune()
                    if n >= self.settings.outbox_batch:
                        continue
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), self.settings.outbox_poll_interval_s
                        )
                    if n:
                        # Rows came in while this one ran or just after: more are likely on
                        # their way (a burst), so gather them into the next cycle.
                        await asyncio.sleep(
                            next_cycle_delay(
                                started, time.monotonic(), self.settings.outbox_min_cycle_interval_s
                            )
                        )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                transient = is_transient(exc)
                self.metrics.transient_failures.labels("outbox").inc()
                log.warning("outbox relay failed; retrying", error=repr(exc), transient=transient)
                # A fresh connection and producer: the lock goes with the connection, so
                # another instance may take over meanwhile, which is fine.
                await self._close()
                await backoff.sleep()

    def _on_notify(self, *_args: Any) -> None:
        self._wake.set()

    async def _cycle(self) -> int:
        """Claims up to one batch of unpublished rows, sends them in order, marks them."""
        async with self._cycle_lock:
            conn, producer = self._conn, self._producer
            if conn is None or producer is None:
                return 0
            async with conn.transaction():
                rows = await conn.fetch(
                    """SELECT id, topic, key, value FROM outbox
                       WHERE published_at IS NULL ORDER BY id
                       LIMIT $1 FOR UPDATE SKIP LOCKED""",
                    self.settings.outbox_batch,
                )
                if not rows:
                    return 0
                futures = [
                    await producer.send(
                        r["topic"], r["value"], key=r["key"].encode(), headers=_HEADERS
                    )
                    for r in rows
                ]
                await asyncio.gather(*futures)
                await conn.execute(
                    """UPDATE outbox SET published_at = clock_timestamp()
                       WHERE id = ANY($1::bigint[])""",
                    [r["id"] for r in rows],
                )
            self.metrics.outbox_published.inc(len(rows))
            return len(rows)

    async def _prune(self) -> None:
        now = time.monotonic()
        if self._conn is None or now - self._last_prune < self.settings.prune_interval_s:
            return
        self._last_prune = now
        async with self._cycle_lock:
            pruned = await prune(self._conn, self.settings, self.metrics)
        if pruned.processed_event or pruned.outbox_payload:
            log.info(
                "pruned",
                processed_event=pruned.processed_event,
                outbox_payload=pruned.outbox_payload,
            )

    async def _stats(self) -> None:
        now = time.monotonic()
        if now - self._last_stats < 1.0 or self._conn is None:
            return
        self._last_stats = now
        # The relay's one connection serves this and every cycle (stop() flushes on it while
        # the loop may be here): one operation at a time.
        async with self._cycle_lock:
            row = await self._conn.fetchrow(
                """SELECT count(*) AS n,
                          coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)
                          AS age
                   FROM outbox WHERE published_at IS NULL"""
            )
        assert row is not None
        self.metrics.outbox_pending.set(row["n"])
        self.metrics.outbox_oldest_age.set(float(row["age"]))


async def outbox_stats(pool: asyncpg.Pool) -> tuple[int, float]:
    """Pending outbox rows and the age in seconds of the oldest one."""
    row = await pool.fetchrow(
        """SELECT count(*) AS n,
                  coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS age
           FROM outbox WHERE published_at IS NULL"""
    )
    assert row is not None
    return int(row["n"]), float(row["age"])
