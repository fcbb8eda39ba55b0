"""One clock per service: the wall clock, or the simulated clock of SPEC §9."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from followup.events import CONTENT_TYPE, ClockAdvanced, RejectedMessage, decode, encode, topics
from followup.events import make_event as _make_event

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer

    from followup.core.settings import CoreSettings

log = structlog.get_logger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    """What services read time from; time-driven work waits on `wait_advance`."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def now_at(self, wall_ms: int) -> datetime:
        """What `now()` read when the wall clock read `wall_ms` (a Kafka record's timestamp):
        a replay decides with the time an event was first handled at, not today's."""
        ...

    async def start(self) -> None:
        """Begins tracking time (the simulated clock catches up with its topic first)."""
        ...

    async def stop(self) -> None:
        """Stops tracking time."""
        ...

    async def wait_advance(self, since: datetime, timeout: float | None = None) -> datetime:  # noqa: ASYNC109
        """Returns `now()` once it is later than `since` (or when `timeout` s have passed)."""
        ...


class WallClock:
    """Real time; 'advances' every `tick_interval_s` for time-driven sweeps."""

    def __init__(self, tick_interval_s: float = 5.0) -> None:
        self.tick_interval_s = tick_interval_s

    def now(self) -> datetime:
        """Now, in UTC."""
        return datetime.now(UTC)

    def now_at(self, wall_ms: int) -> datetime:
        """That wall time itself (never later than now)."""
        return min(datetime.fromtimestamp(wall_ms / 1000, UTC), self.now())

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def wait_advance(self, since: datetime, timeout: float | None = None) -> datetime:  # noqa: ASYNC109
        """Sleeps one tick interval (bounded by `timeout`) and returns now."""
        delay = self.tick_interval_s if timeout is None else min(timeout, self.tick_interval_s)
        await asyncio.sleep(max(0.0, delay))
        return self.now()


class SimulatedClock:
    """Time that moves only on ClockAdvanced events read from the clock topic (SPEC §9).

    Reads the topic from its beginning with no consumer group; starts at the latest
    ClockAdvanced (1970-01-01T00:00:00Z before the first); never moves back.
    """

    def __init__(self, bootstrap: str, topic: str = topics.CLOCK) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._now = EPOCH
        # (wall ms of the ClockAdvanced record, the now it set), in order: what the clock read
        # at any wall time, for replays.
        self._history: list[tuple[int, datetime]] = []
        self._advanced = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def now(self) -> datetime:
        """The latest ClockAdvanced `now` seen."""
        return self._now

    def now_at(self, wall_ms: int) -> datetime:
        """The now set by the last ClockAdvanced recorded at or before `wall_ms`."""
        i = bisect.bisect_right(self._history, wall_ms, key=lambda h: h[0])
        return self._history[i - 1][1] if i else EPOCH

    def apply(self, now: datetime) -> bool:
        """Moves the clock to `now` unless that is not later; True when it moved."""
        if now.tzinfo is None:
            log.warning("clock: naive time ignored", now=str(now))
            return False
        now = now.astimezone(UTC)
        if now < self._now:
            log.warning(
                "clock: ClockAdvanced earlier than now ignored",
                requested=now.isoformat(),
                now=self._now.isoformat(),
            )
            return False
        if now == self._now:
            return False
        self._now = now
        self._advanced.set()
        self._advanced = asyncio.Event()
        return True

    def _apply_raw(self, value: bytes | None, wall_ms: int | None = None) -> None:
        try:
            event = decode(value or b"")
        except RejectedMessage as exc:
            log.warning("clock: message ignored", reason=exc.reason.value, detail=exc.detail)
            return
        if not isinstance(event.data, ClockAdvanced):
            log.warning("clock: non-clock event ignored", event_type=event.type)
            return
        if self.apply(event.data.now) and wall_ms is not None:
            self._history.append(
                (max(wall_ms, self._history[-1][0] if self._history else 0), self._now)
            )

    async def start(self) -> None:
        """Reads the clock topic up to its end, then follows it in the background."""
        from aiokafka import AIOKafkaConsumer

        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5000,
        )
        await self._consumer.start()
        # No group: every partition is assigned to this reader, now or once the topic exists.
        exists = self.topic in await self._consumer.topics()
        self._consumer.subscribe([self.topic])
        if exists:
            await self._catch_up()
        else:
            log.warning(
                "clock topic does not exist yet; time stays put until it does", topic=self.topic
            )
        self._task = asyncio.create_task(self._follow(), name="simulated-clock")
        log.info("simulated clock started", now=self._now.isoformat(), topic=self.topic)

    async def _catch_up(self) -> None:
        assert self._consumer is not None
        deadline = time.monotonic() + 30
        while not self._consumer.assignment() and time.monotonic() < deadline:
            self._apply_batch(await self._consumer.getmany(timeout_ms=200))
        tps = list(self._consumer.assignment())
        if not tps:
            return
        end = await self._consumer.end_offsets(tps)
        while True:
            positions = [await self._consumer.position(tp) for tp in tps]
            if all(pos >= end[tp] for pos, tp in zip(positions, tps, strict=True)):
                break
            self._apply_batch(await self._consumer.getmany(timeout_ms=500))

    def _apply_batch(self, batch: dict[Any, list[Any]]) -> None:
        for records in batch.values():
            for record in records:
                self._apply_raw(record.value, record.timestamp)

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                self._apply_batch(await self._consumer.getmany(timeout_ms=1000))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker being away must not stop the clock for good
                log.warning("clock: read failed; retrying", error=repr(exc))
                await asyncio.sleep(1)

    async def stop(self) -> None:
        """Stops following the topic."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def wait_advance(self, since: datetime, timeout: float | None = None) -> datetime:  # noqa: ASYNC109
        """Waits until a ClockAdvanced moves now past `since`."""
        if self._now > since:
            return self._now
        waiter = self._advanced
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), timeout)
        return self._now


def clock_from_settings(settings: CoreSettings) -> Clock:
    """The clock `FOLLOWUP_CLOCK` asks for."""
    if settings.clock == "simulated":
        return SimulatedClock(settings.kafka_bootstrap, settings.topic(topics.CLOCK))
    return WallClock(settings.tick_interval_s)


async def publish_clock_advance(
    bootstrap: str, now: datetime, *, topic: str = topics.CLOCK, event_id: str | None = None
) -> str:
    """Publishes one ClockAdvanced (tests, demos); returns its event id."""
    from aiokafka import AIOKafkaProducer

    event = _make_event(
        ClockAdvanced(now=now),
        id=event_id or str(uuid.uuid4()),
        source="followup/clock",
        subject="clock",
        time=now,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, encode(event), key=b"clock", headers=[("content-type", CONTENT_TYPE.encode())]
        )
    finally:
        await producer.stop()
    return event.id
