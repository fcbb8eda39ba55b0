"""Customer data keys on the compacted topic `followup.keys` (SPEC §8), cached per service.

A record's key is the customer id, its value the data key wrapped by the master key
(`followup.core.sealing`); a tombstone (no value) erases the customer. Every store reads the
topic from its beginning and then follows it, so a key published by one service reaches all of
them, and a tombstone erases it everywhere. Only wrapped keys travel; nothing here is plaintext.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from followup.core.sealing import ERASED, DataKey, Erased, MasterKeys, SealError, new_data_key
from followup.core.settings import CoreSettings
from followup.events import topics

log = structlog.get_logger(__name__)


class KeyUnavailable(Exception):
    """No key for a customer (yet): the caller retries or dead-letters with this reason."""

    error_type = "key_unavailable"

    def __init__(self, customer_id: str, why: str) -> None:
        super().__init__(f"no data key for {customer_id}: {why}")
        self.customer_id = customer_id
        self.why = why


class KeyStore:
    """One service's view of `followup.keys`: read from the beginning, then followed."""

    def __init__(
        self,
        bootstrap: str,
        master: MasterKeys,
        *,
        topic: str = topics.KEYS,
        wait_s: float = 10.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.master = master
        self.topic = topic
        self.wait_s = wait_s
        self._wrapped: dict[str, bytes] = {}
        self._keys: dict[str, DataKey] = {}  # unwrapped on first use
        self._erased: set[str] = set()
        # Keys that lost a creation race: the first key stays, republished to outlive compaction.
        self._restore: dict[str, bytes] = {}
        self._restoring: asyncio.Task[None] | None = None
        self._position: dict[TopicPartition, int] = {}
        self._progress = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._creating = asyncio.Lock()
        self._started = False

    @classmethod
    def from_settings(cls, settings: CoreSettings, master: MasterKeys) -> KeyStore:
        """The store of a service: its broker, its topic prefix."""
        return cls(settings.kafka_bootstrap, master, topic=settings.topic(topics.KEYS))

    @property
    def started(self) -> bool:
        """True once the topic has been read to its end at start (and until stop)."""
        return self._started

    async def start(self, *, timeout_s: float = 60.0) -> None:
        """Reads the topic up to its current end (TimeoutError past the bound), then follows it."""
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5000,
        )
        await self._consumer.start()
        try:
            # No group: every partition is assigned to this reader, from its beginning.
            self._consumer.subscribe([self.topic])
            deadline = asyncio.get_running_loop().time() + timeout_s
            while not self._consumer.assignment():
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"topic {self.topic} has no partitions in {timeout_s} s")
                await self._read(200)
            self._task = asyncio.create_task(self._follow(), name=f"keystore:{self.topic}")
            if not await self.wait_caught_up(timeout_s):
                raise TimeoutError(f"{self.topic} not read to its end in {timeout_s} s")
        except BaseException:
            await self.stop()
            raise
        self._started = True
        log.info("key store caught up", topic=self.topic, **self.stats())

    async def stop(self) -> None:
        """Stops following the topic and closes the clients."""
        self._started = False
        if self._restoring is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._restoring
            self._restoring = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _read(self, timeout_ms: int) -> None:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=timeout_ms)
        for records in batch.values():
            for record in records:
                self._apply(record.key, record.value)
        for tp in self._consumer.assignment():
            self._position[tp] = await self._consumer.position(tp)
        if self._restore and (self._restoring is None or self._restoring.done()):
            self._restoring = asyncio.create_task(self._republish_first_keys())
        self._progress.set()
        self._progress = asyncio.Event()

    async def _follow(self) -> None:
        while True:
            try:
                await self._read(500)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker being away must not stop the store for good
                log.warning("key store: read failed; retrying", error=repr(exc))
                await asyncio.sleep(1)

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            log.warning("key store: record without a customer id ignored", topic=self.topic)
            return
        customer_id = key.decode()
        if value is not None and customer_id in self._erased:
            # Erased is final (the intake makes no key for an erased customer): a key after the
            # tombstone is a rewrap that raced the erasure, and rewrap_all tombstones it again.
            log.warning("key store: key after erasure ignored", customer_id=customer_id)
            return
        self._keys.pop(customer_id, None)
        if value is None:
            self._restore.pop(customer_id, None)
            self._wrapped.pop(customer_id, None)
            self._erased.add(customer_id)
            return
        old = self._wrapped.get(customer_id)
        if old is not None and _key_id(old) != _key_id(value):
            # Two creators raced for a new customer: the first key on the topic wins everywhere
            # (the creators read back before use), and it is republished so compaction keeps it.
            log.warning("key store: a later key for a customer ignored", customer_id=customer_id)
            self._restore[customer_id] = old
            return
        self._restore.pop(customer_id, None)
        self._wrapped[customer_id] = value

    async def wait_caught_up(self, timeout_s: float | None = None) -> bool:
        """Waits until the store has read the topic to its current end; False past the bound."""
        assert self._consumer is not None, "start() the key store first"
        end = await self._consumer.end_offsets(list(self._consumer.assignment()))
        return await self._wait_for(end, self.wait_s if timeout_s is None else timeout_s)

    async def _wait_for(self, targets: dict[TopicPartition, int], timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while any(self._position.get(tp, 0) < off for tp, off in targets.items()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)
        return True

    def peek(self, customer_id: str) -> DataKey | Erased | None:
        """What the store holds now: the key, ERASED, or None; KeyUnavailable if unopenable."""
        if customer_id in self._erased:
            return ERASED
        key = self._keys.get(customer_id)
        if key is not None:
            return key
        wrapped = self._wrapped.get(customer_id)
        if wrapped is None:
            return None
        try:
            key = self.master.unwrap(customer_id, wrapped)
        except SealError as exc:
            raise KeyUnavailable(customer_id, str(exc)) from None
        self._keys[customer_id] = key
        return key

    async def key(self, customer_id: str, *, wait_s: float | None = None) -> DataKey | Erased:
        """The customer's key, ERASED after a tombstone; KeyUnavailable when it is not there.

        An unknown customer makes the store read the topic to its current end (bounded): a key
        published before the sealed data that names it is then found.
        """
        found = self.peek(customer_id)
        if found is not None:
            return found
        if not await self.wait_caught_up(wait_s):
            raise KeyUnavailable(customer_id, f"{self.topic} not read to its end in time")
        found = self.peek(customer_id)
        if found is None:
            raise KeyUnavailable(customer_id, f"no key on {self.topic}")
        return found

    async def key_for_sealing(self, customer_id: str) -> DataKey | Erased:
        """The customer's key, made and published when there is none; ERASED stays erased."""
        return (await self.keys_for_sealing([customer_id]))[customer_id]

    async def keys_for_sealing(self, customer_ids: Iterable[str]) -> dict[str, DataKey | Erased]:
        """Keys for many customers: one publication and one wait for those that had none."""
        wanted = list(dict.fromkeys(customer_ids))
        async with self._creating:
            missing = [c for c in wanted if self.peek(c) is None]
            if missing:
                # A key made while the store is behind would replace one it has not read yet.
                if not await self.wait_caught_up():
                    raise KeyUnavailable(missing[0], f"{self.topic} not read to its end in time")
                missing = [c for c in missing if self.peek(c) is None]
            if missing:
                await self._publish({c: self.master.wrap(new_data_key(c)) for c in missing})
        out: dict[str, DataKey | Erased] = {}
        for c in wanted:
            key = self.peek(c)
            if key is None:
                raise KeyUnavailable(c, "published but not read back")
            out[c] = key
        return out

    async def erase(self, customer_id: str) -> None:
        """Publishes the customer's tombstone and waits until this store has applied it."""
        await self._publish({customer_id: None})

    async def rewrap_all(self) -> int:
        """Master key rotation: every key wrapped by an older master key, rewrapped by the
        current one (the data keys, and so everything sealed, stay the same)."""
        async with self._creating:
            stale: dict[str, bytes | None] = {}
            for customer_id, wrapped in list(self._wrapped.items()):
                try:
                    if self.master.needs_rewrap(wrapped):
                        stale[customer_id] = self.master.rewrap(customer_id, wrapped)
                except SealError as exc:
                    log.error(
                        "key store: key not rewrapped", customer_id=customer_id, error=str(exc)
                    )
            if stale:
                await self._publish(stale)
            raced: dict[str, bytes | None] = {c: None for c in stale if c in self._erased}
            if raced:
                await self._publish(raced)
        log.info("key store: keys rewrapped", topic=self.topic, rewrapped=len(stale))
        return len(stale)

    async def _republish_first_keys(self) -> None:
        restore, self._restore = self._restore, {}
        try:
            await self._publish({c: v for c, v in restore.items() if c not in self._erased})
        except Exception as exc:  # the next read that meets a later key tries again
            log.warning("key store: first keys not republished", error=repr(exc))

    async def _publish(self, values: dict[str, bytes | None]) -> None:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True
            )
            await producer.start()
            self._producer = producer
        sent = [
            await self._producer.send(self.topic, value, key=c.encode())
            for c, value in values.items()
        ]
        targets: dict[TopicPartition, int] = {}
        for meta in await asyncio.gather(*sent):
            tp = TopicPartition(meta.topic, meta.partition)
            targets[tp] = max(targets.get(tp, 0), meta.offset + 1)
        if not await self._wait_for(targets, self.wait_s):
            raise TimeoutError(f"keys published on {self.topic} not read back in {self.wait_s} s")

    def stats(self) -> dict[str, Any]:
        """How many keys and erasures the store holds (for logs and readiness)."""
        return {"keys": len(self._wrapped), "erased": len(self._erased)}


def _key_id(wrapped: bytes) -> bytes | None:
    try:
        return MasterKeys.wrapped_by(wrapped)[1]
    except SealError:
        return None
