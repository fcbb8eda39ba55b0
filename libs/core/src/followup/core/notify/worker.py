"""The delivery worker: claims due notification rows and sends them, off the consumer's path.

Each row is retried with exponential backoff and dead-lettered (state `dead`) after its last
attempt or a refusal. Delivery is at least once: a worker that dies between sending and
marking leaves the row due again after its lease, and receivers deduplicate on the delivery id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import asyncpg
import structlog

from followup.core.notify import store
from followup.core.notify.config import Recipients
from followup.core.notify.metrics import NotifyMetrics
from followup.core.notify.models import Channel
from followup.core.notify.render import render
from followup.core.notify.senders import Outcome, Sender, refused
from followup.core.notify.settings import NotifySettings
from followup.core.retry import is_transient

log = structlog.get_logger(__name__)

_PRUNE_EVERY_S = 3600.0


class DeliveryWorker:
    """Sends what the consumer stored, a batch at a time, the rows of a batch concurrently."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        recipients: Recipients,
        senders: Mapping[Channel, Sender],
        settings: NotifySettings,
        metrics: NotifyMetrics,
    ) -> None:
        self.pool = pool
        self.recipients = recipients
        self.senders = dict(senders)
        self.settings = settings
        self.metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        """Runs the loop in the background."""
        self._task = asyncio.create_task(self._loop(), name="notify-worker")

    async def stop(self) -> None:
        """Stops after the attempts in flight; unsettled rows stay due for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for sender in self.senders.values():
            await sender.close()

    def wake(self) -> None:
        """Looks for due rows now rather than at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Claims one batch and settles every row of it; returns how many it claimed."""
        rows = await store.claim(self.pool, self.settings.batch, self.settings.lease_s)
        results = await asyncio.gather(*(self._deliver(r) for r in rows), return_exceptions=True)
        for row, result in zip(rows, results, strict=True):
            # Unsettled (the database went away, say): due again when its lease ends.
            if isinstance(result, BaseException) and not is_transient(result):
                log.error(
                    "notification not settled", delivery_id=row.delivery_id, error=repr(result)
                )
        return len(rows)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        pruned_at = 0.0
        while True:
            try:
                claimed = await self.run_once()
                if loop.time() - pruned_at > _PRUNE_EVERY_S:
                    pruned_at = loop.time()
                    await store.prune(self.pool, self.settings.retention_days)
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("notification worker cycle failed")
                claimed = 0
            if claimed < self.settings.batch:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval_s)

    async def _deliver(self, row: store.Pending) -> None:
        outcome = await self._attempt(row)
        if outcome.ok:
            seconds = await store.delivered(self.pool, row.delivery_id)
            self.metrics.outcome(row.channel, "delivered", seconds)
            return
        last = row.attempts >= self.settings.max_attempts
        bound = log.bind(
            delivery_id=row.delivery_id,
            event_id=row.event_id,
            channel=row.channel,
            person=row.person_id,
            attempt=row.attempts,
            error=outcome.error,
        )
        if outcome.retry and not last:
            await store.retry_later(
                self.pool, row.delivery_id, outcome.error, self.settings.backoff_s(row.attempts)
            )
            self.metrics.outcome(row.channel, "retried")
            bound.info("notification attempt failed; retrying")
            return
        await store.dead(self.pool, row.delivery_id, outcome.error)
        self.metrics.outcome(row.channel, "dead_letter")
        bound.error("notification dead-lettered")

    async def _attempt(self, row: store.Pending) -> Outcome:
        person = self.recipients.person(row.person_id)
        if person is None:
            return refused(f"{row.person_id} is no longer configured")
        sender = self.senders.get(row.channel)
        if sender is None:
            return refused(f"no {row.channel} channel configured")
        try:
            message = render(row.event_type, row.facts, person.locale)
        except KeyError as exc:
            return refused(f"no template: {exc}")
        try:
            return await sender.send(row, person, message)
        except Exception as exc:  # a sender's bug must not stop the others
            log.exception("notification sender failed", channel=row.channel)
            return Outcome(ok=False, retry=True, error=f"{type(exc).__name__}: {exc}")
